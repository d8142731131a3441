import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { DB } from '@spm/db';
import type { BuiltPackage } from '@spm/testkit';

const run = promisify(execFile);

/**
 * Stores a tarball in a package cache the way the download stage does (content-addressed:
 * `sha512/<hex[0:2]>/<hex>.tgz`) and returns its storage key and checksum.
 */
export async function storeTarball(
  cacheDir: string,
  pkg: BuiltPackage,
): Promise<{ storageKey: string; checksum: string }> {
  const hex = createHash('sha512').update(pkg.tarball).digest('hex');
  const storageKey = `sha512/${hex.slice(0, 2)}/${hex}.tgz`;
  const path = join(cacheDir, storageKey);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, pkg.tarball);
  return { storageKey, checksum: pkg.integrity };
}

/** Records a package as if it had come through the pipeline up to `status`, with its tarball stored. */
export async function seedPackage(
  db: DB,
  cacheDir: string,
  pkg: BuiltPackage,
  status: string,
  extra: { publishedAt?: Date } = {},
): Promise<number> {
  const { storageKey, checksum } = await storeTarball(cacheDir, pkg);
  const { id } = await db
    .insertInto('packages')
    .values({ name: pkg.name, version: pkg.version, integrity: pkg.integrity, resolved: null, declared_license: 'MIT' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('package_status')
    .values({
      package_id: id,
      status,
      license_flags: [],
      storage_key: storageKey,
      checksum,
      size_bytes: pkg.tarball.length,
      published_at: extra.publishedAt ?? (status === 'Published' ? new Date() : null),
      published_to: status === 'Published' ? 'builtin' : null,
    })
    .execute();
  return id;
}

export interface InstallResult {
  ok: boolean;
  output: string;
  /** package-lock.json `packages` entries by path (`node_modules/<name>`), when the install succeeded. */
  locked: Record<string, { version?: string; resolved?: string; integrity?: string }>;
  dir: string;
}

/**
 * Runs a real `npm install` of `specs` from `registry` in a fresh temporary project with its own cache,
 * no scripts, no audit (`npm ci` when a lockfile is given). Never throws for a failed install: `ok` and `output` tell.
 */
export async function npmInstall(
  registry: string,
  specs: string[],
  opts: {
    lockfile?: unknown;
    dependencies?: Record<string, string>;
    /** Written to the userconfig as `//host/path/:_authToken=…` for the registry, as a team's .npmrc would. */
    authToken?: string;
  } = {},
): Promise<InstallResult> {
  const dir = await mkdtemp(join(tmpdir(), 'spm-npm-install-'));
  const manifest = { name: 'install-probe', version: '1.0.0', private: true, dependencies: opts.dependencies };
  await writeFile(join(dir, 'package.json'), JSON.stringify(manifest));
  if (opts.lockfile) await writeFile(join(dir, 'package-lock.json'), JSON.stringify(opts.lockfile));
  // An empty userconfig keeps the machine's .npmrc (and its registry) out of the test.
  const auth = opts.authToken ? `${registry.replace(/^https?:/, '')}:_authToken=${opts.authToken}\n` : '';
  await writeFile(join(dir, '.npmrc-empty'), auth);
  const args = [
    opts.lockfile ? 'ci' : 'install',
    ...specs,
    '--registry',
    registry,
    '--userconfig',
    join(dir, '.npmrc-empty'),
    '--cache',
    join(dir, '.npm-cache'),
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    '--prefer-online',
    '--fetch-retries',
    '0',
  ];
  try {
    // npm_config_* variables set by whatever runs the tests (pnpm, npx) must not leak into the install.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
    const { stdout, stderr } = await run('npm', args, {
      cwd: dir,
      timeout: 120_000,
      env: { ...env, npm_config_loglevel: 'warn' },
    });
    const lock = JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as {
      packages: InstallResult['locked'];
    };
    return { ok: true, output: stdout + stderr, locked: lock.packages, dir };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message, locked: {}, dir };
  }
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
