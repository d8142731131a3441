import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status } from '@spm/db';
import {
  buildPackage,
  clientEnv,
  runClient,
  startTestRegistry,
  type BuiltPackage,
  type ClientName,
  type TestRegistry,
} from '@spm/testkit';
import { storeTarball } from '../../../worker/test/publish/helpers.js';
import { bearer, setStatus, setupApp, type TestApp } from '../helpers.js';

/*
 * A team on yarn 1, Yarn 4 or pnpm (9 and 10): the real client writes its lockfile against a source
 * registry, the lockfile is uploaded as text and parsed, the approved set is published to the API's
 * built-in registry, the source registry is shut down, and the client installs the whole set from
 * /registry/ with its lockfile frozen, from empty caches. The clients are devDependencies of
 * @spm/testkit and run with every network-reaching switch off (see clientEnv): no internet is needed.
 */

const left = buildPackage({ name: 'cl-left', version: '1.2.0' });
const util = buildPackage({
  name: '@cl/util',
  version: '2.0.1',
  manifest: { dependencies: { 'cl-left': '^1.0.0' } },
});
const lib = buildPackage({
  name: 'cl-app-lib',
  version: '3.1.0',
  manifest: { dependencies: { '@cl/util': '^2.0.0', 'cl-left': '1.2.0' } },
});
const tool = buildPackage({ name: 'cl-dev-tool', version: '0.3.0' });
const all: BuiltPackage[] = [left, util, lib, tool];
const manifest = {
  name: 'cl-team-app',
  version: '1.0.0',
  private: true,
  dependencies: { 'cl-app-lib': '^3.0.0' },
  devDependencies: { 'cl-dev-tool': '0.3.0' },
};

interface Project {
  client: ClientName;
  lockfile: string;
  dir: string;
  home: string;
  format: string;
}

const CLIENTS: Array<{ client: ClientName; lockfile: string; format: string }> = [
  { client: 'yarn1', lockfile: 'yarn.lock', format: 'yarn-classic' },
  { client: 'yarn4', lockfile: 'yarn.lock', format: 'yarn-berry' },
  { client: 'pnpm9', lockfile: 'pnpm-lock.yaml', format: 'pnpm' },
  { client: 'pnpm10', lockfile: 'pnpm-lock.yaml', format: 'pnpm' },
];

let t: TestApp;
let source: TestRegistry;
let served: string;
let cacheDir: string;
const projects = new Map<ClientName, Project>();
const uploads = new Map<ClientName, { status: number; body: Record<string, unknown> }>();
const dirs: string[] = [];

/** The client's configuration for `registry`, written where it reads it (the project; HOME is empty). */
async function configure(p: Project, registry: string, yarnAgeGate = true): Promise<void> {
  const host = new URL(registry).hostname;
  if (p.client === 'yarn1') {
    await writeFile(join(p.dir, '.yarnrc'), `registry "${registry}"\ndisable-self-update-check true\n`);
  } else if (p.client === 'yarn4') {
    const rc = [
      `npmRegistryServer: "${registry}"`,
      `unsafeHttpWhitelist: ["${host}"]`,
      'enableTelemetry: false',
      'enableGlobalCache: false',
      `cacheFolder: "${join(p.home, 'yarn-cache')}"`,
      'enableScripts: false',
      'nodeLinker: node-modules',
      // Yarn 4.10+ resolves no version younger than a day by default; the test registry's are minutes old.
      ...(yarnAgeGate ? [] : ['npmMinimalAgeGate: 0']),
      '',
    ];
    await writeFile(join(p.dir, '.yarnrc.yml'), rc.join('\n'));
  } else {
    await writeFile(join(p.dir, '.npmrc'), `registry=${registry}\nstore-dir=${join(p.home, 'pnpm-store')}\n`);
  }
}

function installArgs(client: ClientName, frozen: boolean): string[] {
  if (client === 'yarn1') {
    const cache = ['--cache-folder', 'yarn1-cache', '--non-interactive', '--no-progress', '--ignore-scripts'];
    return ['install', ...(frozen ? ['--frozen-lockfile'] : []), ...cache];
  }
  if (client === 'yarn4') return ['install', frozen ? '--immutable' : '--no-immutable', '--mode=skip-build'];
  return [
    'install',
    frozen ? '--frozen-lockfile' : '--no-frozen-lockfile',
    '--ignore-scripts',
    '--reporter=append-only',
  ];
}

const run = (p: Project, args: string[]) =>
  runClient(p.client, args, { cwd: p.dir, env: clientEnv(p.home, { CI: 'true' }) });

beforeAll(async () => {
  source = await startTestRegistry();
  for (const p of all) source.add(p);
  cacheDir = await mkdtemp(join(tmpdir(), 'spm-clients-cache-'));
  dirs.push(cacheDir);
  t = await setupApp({ PACKAGE_CACHE_DIR: cacheDir });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  served = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}/registry/`;

  for (const { client, lockfile, format } of CLIENTS) {
    const p: Project = {
      client,
      lockfile,
      format,
      dir: await mkdtemp(join(tmpdir(), `spm-client-${client}-`)),
      home: await mkdtemp(join(tmpdir(), `spm-client-home-${client}-`)),
    };
    dirs.push(p.dir, p.home);
    projects.set(client, p);
    await writeFile(join(p.dir, 'package.json'), JSON.stringify(manifest, null, 2));
    await configure(p, source.url, false);
    const gen = await run(p, installArgs(client, false));
    if (!gen.ok) throw new Error(`${client} could not write its lockfile:\n${gen.output}`);

    const text = await readFile(join(p.dir, lockfile), 'utf8');
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: { ...bearer(t.tokens.user), 'content-type': 'text/plain' },
      payload: text,
    });
    uploads.set(client, { status: res.statusCode, body: res.json() });
  }

  // Everything uploaded is approved and published to the built-in registry (as the worker would).
  const rows = await t.db.selectFrom('packages').select(['id', 'name', 'version']).execute();
  for (const row of rows) {
    const pkg = all.find((p) => p.name === row.name && p.version === row.version)!;
    const { storageKey, checksum } = await storeTarball(cacheDir, pkg);
    await setStatus(t.db, [row.id], Status.Published, {
      storage_key: storageKey,
      checksum,
      size_bytes: pkg.tarball.length,
      published_at: new Date(),
      published_to: 'builtin',
    });
  }
  // From here on nothing can come from the source registry.
  await source.close();
}, 900_000);

afterAll(async () => {
  await t?.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe.each(CLIENTS)('$client', ({ client, format }) => {
  it('writes a lockfile the upload accepts, with every package of the set', async () => {
    const up = uploads.get(client)!;
    expect(up.status, JSON.stringify(up.body)).toBe(202);
    expect(up.body).toMatchObject({ lockfile_format: format, package_count: all.length });
    const names = await t.db
      .selectFrom('request_packages')
      .innerJoin('packages', 'packages.id', 'request_packages.package_id')
      .select(['name', 'version', 'dev'])
      .where('request_id', '=', up.body.request_id as number)
      .orderBy('name')
      .execute();
    expect(names.map((n) => `${n.name}@${n.version}`)).toEqual(all.map((p) => `${p.name}@${p.version}`).sort());
    // pnpm tells dev dependencies apart (from its importers); yarn's lockfiles do not.
    const dev = names.filter((n) => n.dev).map((n) => n.name);
    expect(dev).toEqual(format === 'pnpm' ? ['cl-dev-tool'] : []);
  });

  it('installs the whole approved set from /registry/ with its lockfile frozen', async () => {
    const p = projects.get(client)!;
    await rm(join(p.dir, 'node_modules'), { recursive: true, force: true });
    await rm(join(p.dir, 'yarn1-cache'), { recursive: true, force: true });
    await rm(join(p.home, 'yarn-cache'), { recursive: true, force: true });
    await rm(join(p.home, 'pnpm-store'), { recursive: true, force: true });
    await configure(p, served);
    if (client === 'yarn1') {
      // yarn 1 fetches the lockfile's resolved URLs as written: point them at the secure registry.
      const lock = await readFile(join(p.dir, 'yarn.lock'), 'utf8');
      await writeFile(join(p.dir, 'yarn.lock'), lock.split(source.url).join(served));
    }
    const before = await readFile(join(p.dir, p.lockfile), 'utf8');
    const install = await run(p, installArgs(client, true));
    expect(install.ok, install.output).toBe(true);
    for (const pkg of all) {
      const installed = JSON.parse(
        await readFile(join(p.dir, 'node_modules', pkg.name, 'package.json'), 'utf8').catch(async () =>
          // pnpm links only direct dependencies at the top; the rest lives in its virtual store.
          readFile(
            join(
              p.dir,
              'node_modules/.pnpm',
              `${pkg.name.replace('/', '+')}@${pkg.version}`,
              'node_modules',
              pkg.name,
              'package.json',
            ),
            'utf8',
          ),
        ),
      ) as { name: string; version: string };
      expect(installed, `${client}: ${pkg.name}`).toMatchObject({ name: pkg.name, version: pkg.version });
    }
    expect(await readFile(join(p.dir, p.lockfile), 'utf8')).toBe(before);
  });
});
