import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDevUsers, type SeededUser } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type BuiltPackage, type TestRegistry } from '@spm/testkit';

/*
 * scripts/test-worker.sh as a user runs it: against a real API process and a real worker process
 * (their builds), a database of their own, and an npm registry on loopback that serves the packages of
 * the submitted lockfile.
 */

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const script = join(root, 'scripts/test-worker.sh');
const apiMain = join(root, 'apps/api/dist/server.js');
const workerMain = join(root, 'apps/worker/dist/main.js');

let tdb: TestDatabase;
let registry: TestRegistry;
let dir: string;
let apiUrl: string;
let user: SeededUser;
const procs: Array<{ name: string; child: ChildProcess; log: string[] }> = [];

const pkgs: BuiltPackage[] = [
  buildPackage({ name: 'ops-left-pad', version: '1.3.0' }),
  buildPackage({ name: '@ops/util', version: '2.0.1', manifest: { license: 'Apache-2.0' } }),
  buildPackage({ name: 'ops-slow', version: '0.1.0', manifest: { license: 'ISC' } }),
];

function lockfile(name: string, entries: Array<{ p: BuiltPackage; integrity?: string }>) {
  const packages: Record<string, unknown> = { '': { name, version: '1.0.0' } };
  for (const { p, integrity } of entries) {
    packages[`node_modules/${p.name}`] = {
      version: p.version,
      resolved: `https://registry.example.test/${p.name}/-/${p.name.split('/').pop()}-${p.version}.tgz`,
      integrity: integrity ?? p.integrity,
      license: p.manifest.license,
    };
  }
  return { name, version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

function start(name: string, file: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [file], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  child.stdout!.on('data', (d) => log.push(String(d)));
  child.stderr!.on('data', (d) => log.push(String(d)));
  procs.push({ name, child, log });
  return child;
}

function logs(): string {
  return procs.map((p) => `--- ${p.name}\n${p.log.join('').slice(-3000)}`).join('\n');
}

interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runScript(env: Record<string, string>): Promise<ScriptResult> {
  return new Promise((resolvePromise) => {
    execFile(
      'bash',
      [script],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          API_URL: apiUrl,
          POLL_INTERVAL: '0.3',
          ...env,
        },
        timeout: 100_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

async function writeLockfile(name: string, content: unknown): Promise<string> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(content, null, 2));
  return file;
}

beforeAll(async () => {
  for (const f of [apiMain, workerMain]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`pnpm build\` before the integration tests`);
  }
  [tdb, registry] = await Promise.all([createTestDatabase(), startTestRegistry()]);
  for (const p of pkgs) registry.add(p);
  dir = await mkdtemp(join(tmpdir(), 'spm-ops-'));
  // The development seed is what `pnpm start` gives a new user; here it gives the script its login.
  user = (await seedDevUsers(tdb.db)).find((u) => u.role === 'user')!;

  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  const common = {
    DATABASE_URL: tdb.url,
    PACKAGE_CACHE_DIR: join(dir, 'cache'),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  };
  start('api', apiMain, {
    ...common,
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('hex'),
    PORT: String(port),
    HOST: '127.0.0.1',
  });
  start('worker', workerMain, {
    ...common,
    SOURCE_REGISTRY_URL: registry.url,
    WORKER_SLEEP_INTERVAL: '0.5',
    WORKER_SHUTDOWN_TIMEOUT_SECONDS: '5',
  });

  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${apiUrl}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`the API did not become ready\n${logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

afterAll(async () => {
  await Promise.all(
    procs.map(
      ({ child }) =>
        new Promise<void>((r) => {
          if (child.exitCode !== null || child.signalCode !== null) return r();
          const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.once('exit', () => {
            clearTimeout(kill);
            r();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  await registry?.close();
  await tdb?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('scripts/test-worker.sh', () => {
  it('submits a lockfile, follows it until every package settles, and prints the summary and the workers', async () => {
    const file = await writeLockfile('ok', lockfile('ops-app', [{ p: pkgs[0]! }, { p: pkgs[1]! }]));
    const r = await runScript({
      SPM_USERNAME: user.username,
      SPM_PASSWORD: user.password,
      LOCKFILE: file,
      TIMEOUT: '90',
    });
    expect(r.code, `${r.stdout}\n${r.stderr}\n${logs()}`).toBe(0);
    expect(r.stdout).toMatch(/Request \d+: ops-app@1\.0\.0, 2 packages \(2 new, 0 already known\)/);
    expect(r.stdout).toMatch(/\] 2\/2 settled/);
    expect(r.stdout).toMatch(/ops-left-pad@1\.3\.0\s+Pending Approval/);
    expect(r.stdout).toMatch(/@ops\/util@2\.0\.1\s+Pending Approval/);
    // The script signs in as a plain user: worker hosts and pids are for admins only (processing status).
    expect(r.stdout).toMatch(/Workers:\n\s+worker 1 \(host shown to admins only\): alive, heartbeat/);
    expect(r.stdout).toContain('All packages settled.');
  });

  it('exits 3 when a package is rejected because of an error', async () => {
    // A lockfile integrity that does not match the registry's tarball: a permanent error.
    const bad = `sha512-${randomBytes(64).toString('base64')}`;
    const file = await writeLockfile('bad', lockfile('ops-bad', [{ p: pkgs[2]!, integrity: bad }]));
    const r = await runScript({
      SPM_USERNAME: user.username,
      SPM_PASSWORD: user.password,
      LOCKFILE: file,
      TIMEOUT: '90',
    });
    expect(r.code, `${r.stdout}\n${r.stderr}\n${logs()}`).toBe(3);
    expect(r.stdout).toMatch(/ops-slow@0\.1\.0\s+Rejected\s+error: /);
    expect(r.stderr).toContain('rejected because of an error');
  });

  it('exits 2 with the packages still in progress when they do not settle in time', async () => {
    const slow = buildPackage({ name: 'ops-slower', version: '1.0.0' });
    registry.add(slow);
    registry.setTarballDelay(8_000);
    try {
      const file = await writeLockfile('slow', lockfile('ops-slow-app', [{ p: slow }]));
      const r = await runScript({
        SPM_USERNAME: user.username,
        SPM_PASSWORD: user.password,
        LOCKFILE: file,
        TIMEOUT: '2',
      });
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/timed out after 2 s with packages still in progress:\n\s+ops-slower@1\.0\.0: /);
      expect(r.stderr).toContain('Workers:');
    } finally {
      registry.setTarballDelay(0);
    }
  });

  it('exits 1 naming the problem when the login is refused', async () => {
    const r = await runScript({ SPM_USERNAME: user.username, SPM_PASSWORD: 'not-the-password', TIMEOUT: '5' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/login failed \(HTTP 401\): ERR_INVALID_CREDENTIALS/);
  });

  it('exits 1 when the API cannot be reached', async () => {
    const r = await runScript({
      API_URL: `http://127.0.0.1:${await freePort()}`,
      SPM_USERNAME: 'x',
      SPM_PASSWORD: 'y',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach the API');
  });
});
