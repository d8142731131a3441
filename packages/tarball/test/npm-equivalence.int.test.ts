import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sri, startTestRegistry, type TestRegistry } from '@spm/testkit';
import { readTarball } from '../src/index.js';
import { oddTarballs } from './corpus.js';

const run = promisify(execFile);

let registry: TestRegistry;
let dir: string;
const corpus = oddTarballs();
const scanned = new Map<string, Record<string, string>>();

/** Every regular file under `root` with its sha256; anything that is not a file or folder fails. */
async function onDisk(root: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(join(root, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = await lstat(join(root, rel));
    if (st.isDirectory()) Object.assign(out, await onDisk(root, rel));
    else if (st.isFile())
      out[rel] = createHash('sha256')
        .update(await readFile(join(root, rel)))
        .digest('hex');
    else out[rel] = `not a regular file (mode ${st.mode.toString(8)})`;
  }
  return out;
}

beforeAll(async () => {
  registry = await startTestRegistry();
  dir = await mkdtemp(join(tmpdir(), 'spm-npm-equivalence-'));
  const dependencies: Record<string, string> = {};
  for (const odd of corpus) {
    const view = await readTarball(odd.tarball);
    const files: Record<string, string> = {};
    for (const f of view.files)
      files[f.path] = createHash('sha256')
        .update(await f.read())
        .digest('hex');
    scanned.set(odd.name, files);
    // The registry serves the manifest from the same view, as the built-in registry does.
    registry.add({
      name: odd.name,
      version: '1.0.0',
      tarball: odd.tarball,
      integrity: sri(odd.tarball),
      shasum: createHash('sha1').update(odd.tarball).digest('hex'),
      manifest: view.manifest!,
    });
    view.dispose();
    dependencies[odd.name] = '1.0.0';
  }
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'equivalence-host', version: '1.0.0', private: true, dependencies }),
  );
  await run(
    'npm',
    [
      'install',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--registry',
      registry.url,
      '--cache',
      join(dir, '.npm-cache'),
      '--userconfig',
      join(dir, '.npmrc-none'),
    ],
    { cwd: dir, env: { ...process.env, npm_config_loglevel: 'error' } },
  );
}, 180_000);

afterAll(async () => {
  await registry?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm equivalence: the files npm 11 installs are exactly the files the view holds', () => {
  it.each(corpus.map((c) => [c.name, c.why] as const))('%s (%s)', async (name) => {
    const installed = await onDisk(join(dir, 'node_modules', name));
    expect(installed).toEqual(scanned.get(name));
  });

  it('covers every rule of the corpus', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(18);
  });
});
