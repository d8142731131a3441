import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type BuiltPackage, type TestRegistry } from '@spm/testkit';
import { buildApp, loadConfig } from '../../apps/api/src/app.js';
import { npmInstall, removeDir } from '../../apps/worker/test/publish/helpers.js';
import { startVerdaccio, type Verdaccio } from '../../apps/worker/test/publish/verdaccio.js';

/*
 * The whole product, as a team uses it: a lockfile is uploaded over HTTP, a real worker process vets
 * every package (licence, download, scan), an approver approves the batch over HTTP, the worker
 * publishes (to a real Verdaccio as the target, and the API serves its built-in registry), and
 * `npm install` of the whole set succeeds from /registry/ with the lockfile's integrity values.
 * The worker runs from its build: run `pnpm -r build` first.
 */

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const workerMain = join(root, 'apps/worker/dist/main.js');

type App = Awaited<ReturnType<typeof buildApp>>;

let tdb: TestDatabase;
let source: TestRegistry;
let verdaccio: Verdaccio;
let cacheDir: string;
let app: App;
let api: string;
let worker: ChildProcess | undefined;
let workerLog = '';
const dirs: string[] = [];

const left = buildPackage({ name: 'story-left', version: '1.4.0' });
const util = buildPackage({ name: '@story/util', version: '0.2.1', manifest: { license: 'Apache-2.0' } });
const app1 = buildPackage({
  name: '@story/app-lib',
  version: '3.0.0',
  manifest: { license: 'ISC', dependencies: { 'story-left': '^1.4.0', '@story/util': '~0.2.0' } },
});
const all: BuiltPackage[] = [left, util, app1];

function lockfileFor(registryUrl: string) {
  const entry = (p: BuiltPackage) => ({
    version: p.version,
    resolved: `${registryUrl}${p.name}/-/${p.name.split('/').pop()}-${p.version}.tgz`,
    integrity: p.integrity,
    license: p.manifest.license,
    ...(p.manifest.dependencies ? { dependencies: p.manifest.dependencies } : {}),
  });
  return {
    name: 'story-service',
    version: '2.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'story-service', version: '2.0.0', dependencies: { '@story/app-lib': '^3.0.0' } },
      'node_modules/@story/app-lib': entry(app1),
      'node_modules/@story/util': entry(util),
      'node_modules/story-left': entry(left),
    },
  };
}

async function call<T>(
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

interface ProcessingStatus {
  packages: Array<{
    package_id: number;
    name: string;
    version: string;
    status: string;
    last_error?: string | null;
    decision?: string | null;
  }>;
}

/** Polls the request's processing status until every package is in `status` (or fails on Rejected). */
async function waitForAll(token: string, requestId: number, status: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last: ProcessingStatus | null = null;
  while (Date.now() < deadline) {
    const res = await call<ProcessingStatus>('GET', `/api/packages/requests/${requestId}/processing-status`, token);
    expect(res.status).toBe(200);
    last = res.body;
    const rejected = last.packages.filter((p) => p.status === 'Rejected');
    if (rejected.length)
      throw new Error(`rejected: ${JSON.stringify(rejected)}\nworker log:\n${workerLog.slice(-4000)}`);
    if (last.packages.length > 0 && last.packages.every((p) => p.status === status)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `not all ${status} after ${timeoutMs} ms: ${JSON.stringify(last?.packages)}\nworker log:\n${workerLog.slice(-4000)}`,
  );
}

beforeAll(async () => {
  if (!existsSync(workerMain))
    throw new Error(`${workerMain} is missing: run \`pnpm -r build\` before the end-to-end tests`);
  [tdb, source, verdaccio] = await Promise.all([createTestDatabase(), startTestRegistry(), startVerdaccio()]);
  for (const p of all) source.add(p);
  cacheDir = await mkdtemp(join(tmpdir(), 'spm-e2e-cache-'));
  await createUser(tdb.db, { username: 'story-approver', password: 'approver-password-1', role: 'approver' });
  await createUser(tdb.db, { username: 'story-dev', password: 'developer-password-1', role: 'user' });

  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: tdb.url,
    JWT_SECRET: 'end-to-end-test-secret-that-is-long-enough',
    PACKAGE_CACHE_DIR: cacheDir,
    TARGET_REGISTRY_URL: verdaccio.url,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  });
  app = await buildApp(config, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  api = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

  worker = spawn(process.execPath, [workerMain], {
    env: {
      ...process.env,
      DATABASE_URL: tdb.url,
      SOURCE_REGISTRY_URL: source.url,
      PACKAGE_CACHE_DIR: cacheDir,
      TARGET_REGISTRY_URL: verdaccio.url,
      TARGET_REGISTRY_TOKEN: verdaccio.token,
      WORKER_SLEEP_INTERVAL: '0.5',
      WORKER_ID: 'story-worker',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((r) => worker!.once('exit', r));
    worker.kill('SIGTERM');
    const timer = setTimeout(() => worker!.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  await app?.close();
  await Promise.all([
    tdb?.destroy(),
    source?.close(),
    verdaccio?.stop(),
    cacheDir && rm(cacheDir, { recursive: true, force: true }),
  ]);
  await Promise.all(dirs.map(removeDir));
});

describe('the full story', () => {
  it('upload → worker → pending → batch approve → published → npm install from /registry/', async () => {
    const dev = await call<{ token: string }>('POST', '/api/auth/login', null, {
      username: 'story-dev',
      password: 'developer-password-1',
    });
    expect(dev.status).toBe(200);
    const approver = await call<{ token: string }>('POST', '/api/auth/login', null, {
      username: 'story-approver',
      password: 'approver-password-1',
    });
    expect(approver.status).toBe(200);

    // Nothing is installable before it is vetted; an anonymous caller learns only that.
    const early = await npmInstall(`${api}/registry/`, ['@story/app-lib@3.0.0']);
    dirs.push(early.dir);
    expect(early.ok).toBe(false);
    expect(early.output).toContain('@story/app-lib is not available');
    // The developer's API token for npm (.npmrc `_authToken`): with it npm says why.
    const npmToken = await call<{ token: string }>('POST', '/api/auth/tokens', dev.body.token, {
      name: 'npm on the laptop',
      scopes: ['registry'],
    });
    expect(npmToken.status).toBe(201);

    const upload = await call<{ request_id: number; package_count: number; new_packages: number }>(
      'POST',
      '/api/packages/upload',
      dev.body.token,
      lockfileFor(source.url),
    );
    expect(upload.status).toBe(202);
    expect(upload.body).toMatchObject({ package_count: 3, new_packages: 3 });
    const requestId = upload.body.request_id;

    const pending = await waitForAll(approver.body.token, requestId, 'Pending Approval');
    // The policy held them, and says why: this registry gives no publication time, so the default
    // policy's cooldown cannot tell their age.
    for (const p of pending.packages) {
      expect(p.decision).toMatch(
        /^waits for a person: policy v1: hold \(cooldown 72 h\): the registry gives no publication time/,
      );
    }
    const report = await call<{ policy: { version: number; explanation: string } }>(
      'GET',
      `/api/packages/${pending.packages[0]!.package_id}/report`,
      approver.body.token,
    );
    expect(report.body.policy).toMatchObject({ version: 1, explanation: pending.packages[0]!.decision });
    const blocked = await npmInstall(`${api}/registry/`, ['story-left@1.4.0'], { authToken: npmToken.body.token });
    dirs.push(blocked.dir);
    expect(blocked.ok).toBe(false);
    expect(blocked.output).toContain(
      'story-left is not approved for use: no version is published yet (1.4.0: Pending Approval)',
    );

    const decision = await call<{ approved: number }>('POST', '/api/approvals/batch', approver.body.token, {
      package_ids: pending.packages.map((p) => p.package_id),
      decision: 'approve',
      reason: 'vetted for the story service',
    });
    expect(decision.status).toBe(200);
    expect(decision.body.approved).toBe(3);

    await waitForAll(approver.body.token, requestId, 'Published');

    // The whole set installs from the built-in registry, with the original lockfile's integrity values.
    const install = await npmInstall(`${api}/registry/`, ['@story/app-lib@^3.0.0']);
    dirs.push(install.dir);
    expect(install.ok, install.output).toBe(true);
    for (const p of all) {
      expect(install.locked[`node_modules/${p.name}`], p.name).toMatchObject({
        version: p.version,
        integrity: p.integrity,
      });
      expect(install.locked[`node_modules/${p.name}`]?.resolved).toContain(`${api}/registry/`);
    }

    // And from the target registry the worker published to.
    const fromTarget = await npmInstall(verdaccio.url, ['@story/app-lib@^3.0.0']);
    dirs.push(fromTarget.dir);
    expect(fromTarget.ok, fromTarget.output).toBe(true);
    for (const p of all) expect(fromTarget.locked[`node_modules/${p.name}`]?.integrity).toBe(p.integrity);
  });
});
