import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, zip, type BuiltPackage, type TestRegistry } from '@spm/testkit';
import { buildApp, loadConfig } from '../../apps/api/src/app.js';
import { npmInstall, removeDir } from '../../apps/worker/test/publish/helpers.js';
import { startVerdaccio, type Verdaccio } from '../../apps/worker/test/publish/verdaccio.js';

/*
 * Continuous protection, as a team meets it: two versions of a package are vetted and published; later
 * the scheduled advisory sync of a real worker process downloads an OSV export whose new advisory
 * covers the newer one. Within that sync, with nobody involved, `npm install` of that version from
 * /registry/ fails with npm printing the advisory, `latest` is the older version again, the impact
 * endpoint names the request, application and requestor, a signed `package.newly_affected` webhook
 * arrives, and the target registry (a real Verdaccio) carries the deprecation. An approver then
 * releases it (a waiver), and after the waiver is revoked rejects it for good.
 * The worker runs from its build: run `pnpm -r build` first.
 */

const root = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const workerMain = join(root, 'apps/worker/dist/main.js');
const ADVISORY = 'GHSA-qrnt-2026-0001';

type App = Awaited<ReturnType<typeof buildApp>>;

let tdb: TestDatabase;
let source: TestRegistry;
let verdaccio: Verdaccio;
let cacheDir: string;
let app: App;
let api: string;
let worker: ChildProcess | undefined;
let workerLog = '';
let feeds: Server;
let feedUrl: string;
/** What the advisory feed serves: nothing relevant at first, the new advisory later. */
let feed: { etag: string; body: Buffer };
const hooks: Array<{ headers: Record<string, unknown>; body: { type: string; data: Record<string, unknown> } }> = [];
const dirs: string[] = [];

const old = buildPackage({ name: 'guard-lib', version: '1.0.0' });
const current = buildPackage({ name: 'guard-lib', version: '1.1.0' });

function lockfileWith(p: BuiltPackage, app: string) {
  return {
    name: app,
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: app, version: '1.0.0', dependencies: { [p.name]: p.version } },
      [`node_modules/${p.name}`]: {
        version: p.version,
        resolved: `${source.url}${p.name}/-/${p.name}-${p.version}.tgz`,
        integrity: p.integrity,
        license: 'MIT',
      },
    },
  };
}

function osvExport(records: unknown[]): Buffer {
  return zip(records.map((r) => ({ name: `${(r as { id: string }).id}.json`, data: Buffer.from(JSON.stringify(r)) })));
}

async function call<T>(method: string, path: string, token: string | null, body?: unknown) {
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

async function login(username: string, password: string): Promise<string> {
  const r = await call<{ token: string }>('POST', '/api/auth/login', null, { username, password });
  expect(r.status).toBe(200);
  return r.body.token;
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}\nworker log:\n${workerLog.slice(-4000)}`);
}

interface Status {
  packages: Array<{ package_id: number; status: string }>;
}

beforeAll(async () => {
  if (!existsSync(workerMain))
    throw new Error(`${workerMain} is missing: run \`pnpm -r build\` before the end-to-end tests`);
  [tdb, source, verdaccio] = await Promise.all([createTestDatabase(), startTestRegistry(), startVerdaccio()]);
  source.add(old);
  source.add(current);
  cacheDir = await mkdtemp(join(tmpdir(), 'spm-protect-cache-'));
  await createUser(tdb.db, { username: 'guard-admin', password: 'admin-password-1', role: 'admin' });
  await createUser(tdb.db, { username: 'guard-approver', password: 'approver-password-1', role: 'approver' });
  await createUser(tdb.db, { username: 'guard-dev', password: 'developer-password-1', role: 'user' });

  feed = {
    etag: '"v1"',
    body: osvExport([
      {
        id: 'GHSA-othr-0000-0000',
        modified: '2026-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: 'unrelated' }, versions: ['1.0.0'] }],
      },
    ]),
  };
  feeds = createServer((req, res) => {
    if (req.method === 'POST') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: JSON.parse(body) });
        res.writeHead(204).end();
      });
      return;
    }
    if (req.headers['if-none-match'] === feed.etag) return res.writeHead(304, { etag: feed.etag }).end();
    res.writeHead(200, { 'content-type': 'application/zip', etag: feed.etag }).end(feed.body);
  });
  await new Promise<void>((r) => feeds.listen(0, '127.0.0.1', r));
  feedUrl = `http://127.0.0.1:${(feeds.address() as AddressInfo).port}`;

  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: tdb.url,
    JWT_SECRET: 'end-to-end-test-secret-that-is-long-enough',
    PACKAGE_CACHE_DIR: cacheDir,
    TARGET_REGISTRY_URL: verdaccio.url,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    QUARANTINE_CONTACT: 'the security team (#appsec)',
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
      ADVISORIES_URL: `${feedUrl}/osv/npm/all.zip`,
      ADVISORIES_SYNC_INTERVAL: '1',
      QUARANTINE_CONTACT: 'the security team (#appsec)',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_POLL_SECONDS: '0.2',
      WORKER_SLEEP_INTERVAL: '0.5',
      WORKER_LEASE_SECONDS: '4',
      WORKER_ID: 'guard-worker',
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
  await new Promise((r) => feeds?.close(r));
  await Promise.all([
    tdb?.destroy(),
    source?.close(),
    verdaccio?.stop(),
    cacheDir && rm(cacheDir, { recursive: true, force: true }),
  ]);
  await Promise.all(dirs.map(removeDir));
});

describe('continuous protection', () => {
  it('an advisory published after approval quarantines the version within one sync: npm, latest, impact, webhook, target', async () => {
    const admin = await login('guard-admin', 'admin-password-1');
    const approver = await login('guard-approver', 'approver-password-1');
    const dev = await login('guard-dev', 'developer-password-1');
    const hook = await call<{ id: number; secret: string }>('POST', '/api/admin/webhooks', admin, {
      url: `${feedUrl}/hooks`,
      events: ['package.newly_affected'],
    });
    expect(hook.status).toBe(201);

    // Two applications, one version each; both vetted and published.
    const requests: number[] = [];
    for (const [p, name] of [
      [old, 'storefront'],
      [current, 'billing'],
    ] as const) {
      const up = await call<{ request_id: number }>('POST', '/api/packages/upload', dev, lockfileWith(p, name));
      expect(up.status).toBe(202);
      requests.push(up.body.request_id);
    }
    const ids: number[] = [];
    for (const r of requests) {
      const s = await waitFor(`request ${r} pending`, async () => {
        const res = await call<Status>('GET', `/api/packages/requests/${r}/processing-status`, approver);
        return res.body.packages.every((p) => p.status === 'Pending Approval') && res.body;
      });
      ids.push(s.packages[0]!.package_id);
    }
    const approved = await call('POST', '/api/approvals/batch', approver, {
      package_ids: ids,
      decision: 'approve',
      reason: 'vetted',
    });
    expect(approved.status).toBe(200);
    for (const r of requests)
      await waitFor(`request ${r} published`, async () => {
        const res = await call<Status>('GET', `/api/packages/requests/${r}/processing-status`, approver);
        return res.body.packages.every((p) => p.status === 'Published');
      });
    const before = await npmInstall(`${api}/registry/`, ['guard-lib']);
    dirs.push(before.dir);
    expect(before.ok, before.output).toBe(true);
    expect(before.locked['node_modules/guard-lib']?.version).toBe('1.1.0');

    // The scheduled sync has run against the old export: nothing affected.
    await waitFor('a first sync', async () => {
      const s = await call<{ advisory_sync: { last_success: { outcome: string } | null } }>(
        'GET',
        '/api/packages/processing/status',
        admin,
      );
      return s.body.advisory_sync.last_success;
    });
    expect(hooks).toHaveLength(0);

    // A new export: a high-severity advisory for 1.1.0 only.
    feed = {
      etag: '"v2"',
      body: osvExport([
        {
          id: ADVISORY,
          aliases: ['CVE-2026-40001'],
          modified: '2026-06-01T00:00:00Z',
          summary: 'Remote code execution in guard-lib',
          database_specific: { severity: 'HIGH' },
          affected: [
            {
              package: { ecosystem: 'npm', name: 'guard-lib' },
              ranges: [{ type: 'SEMVER', events: [{ introduced: '1.1.0' }, { fixed: '1.2.0' }] }],
            },
          ],
        },
      ]),
    };
    const run = await waitFor('the sync of the new export', async () => {
      const s = await call<{
        advisory_sync: { last_success: { outcome: string; newly_affected: number | null; quarantined: number } | null };
      }>('GET', '/api/packages/processing/status', admin);
      const last = s.body.advisory_sync.last_success;
      return last?.outcome === 'imported' && last.newly_affected === 1 && last;
    });
    expect(run).toMatchObject({ quarantined: 1 });

    // npm: the exact version fails, naming the advisory and whom to ask; a plain install gets 1.0.0.
    const blocked = await npmInstall(`${api}/registry/`, ['guard-lib@1.1.0']);
    dirs.push(blocked.dir);
    expect(blocked.ok).toBe(false);
    expect(blocked.output).toContain('451');
    expect(blocked.output).toContain(ADVISORY);
    expect(blocked.output).toContain('the security team (#appsec)');
    const fallback = await npmInstall(`${api}/registry/`, ['guard-lib']);
    dirs.push(fallback.dir);
    expect(fallback.ok, fallback.output).toBe(true);
    expect(fallback.locked['node_modules/guard-lib']?.version).toBe('1.0.0');
    const packument = (await (await fetch(`${api}/registry/guard-lib`)).json()) as {
      'dist-tags': Record<string, string>;
      versions: Record<string, { deprecated?: string }>;
    };
    expect(packument['dist-tags']).toEqual({ latest: '1.0.0' });
    expect(packument.versions['1.1.0']?.deprecated).toContain(ADVISORY);
    expect(packument.versions['1.0.0']?.deprecated).toBeUndefined();
    const doc = await fetch(`${api}/registry/guard-lib/1.1.0`);
    expect(doc.status).toBe(451);

    // Impact: by advisory (or its alias) and by package, for approvers.
    const impact = await call<{
      findings: Array<{ version: string; action: string; quarantining: boolean }>;
      requests: Array<{ id: number; application_name: string; requestor: string }>;
      applications: Array<{ name: string; version: string }>;
      requestors: string[];
    }>('GET', '/api/impact/advisories/CVE-2026-40001', approver);
    expect(impact.status).toBe(200);
    expect(impact.body.findings).toMatchObject([{ version: '1.1.0', action: 'quarantine', quarantining: true }]);
    expect(impact.body.requests).toMatchObject([
      { id: requests[1], application_name: 'billing', requestor: 'guard-dev' },
    ]);
    expect(impact.body.applications).toEqual([{ name: 'billing', version: '1.0.0' }]);
    expect(impact.body.requestors).toEqual(['guard-dev']);
    expect((await call('GET', `/api/impact/packages/${ids[1]}`, dev)).status).toBe(403);
    const byPackage = await call<{ package: { quarantined_by: Array<{ id: string }> } }>(
      'GET',
      `/api/impact/packages/${ids[1]}`,
      approver,
    );
    expect(byPackage.body.package.quarantined_by).toMatchObject([{ id: ADVISORY }]);

    // The event, signed, and the deprecation on the target registry.
    const event = await waitFor('the webhook', async () => hooks[0]);
    expect(event.headers['x-spm-event']).toBe('package.newly_affected');
    expect(event.body).toMatchObject({
      type: 'package.newly_affected',
      data: {
        package: { id: ids[1], name: 'guard-lib', version: '1.1.0' },
        advisory: { id: ADVISORY, severity: 'high' },
        quarantined: true,
      },
    });
    const onTarget = await waitFor('the deprecation on the target', async () => {
      const res = await fetch(`${verdaccio.url}guard-lib`);
      const p = (await res.json()) as {
        'dist-tags': Record<string, string>;
        versions: Record<string, { deprecated?: string }>;
      };
      return p.versions['1.1.0']?.deprecated && p['dist-tags'].latest === '1.0.0' && p;
    });
    expect(onTarget.versions['1.1.0']?.deprecated).toContain(ADVISORY);
    const fromTarget = await npmInstall(verdaccio.url, ['guard-lib']);
    dirs.push(fromTarget.dir);
    expect(fromTarget.ok, fromTarget.output).toBe(true);
    expect(fromTarget.locked['node_modules/guard-lib']?.version).toBe('1.0.0');

    // An approver releases it until next month: installable again, the release audited.
    const release = await call<{ waiver_ids: number[] }>(
      'POST',
      `/api/approvals/quarantine/${ids[1]}/release`,
      approver,
      {
        reason: 'not reachable in our use; upgrade planned',
        expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      },
    );
    expect(release.status).toBe(200);
    const again = await npmInstall(`${api}/registry/`, ['guard-lib@1.1.0']);
    dirs.push(again.dir);
    expect(again.ok, again.output).toBe(true);
    await waitFor('the deprecation cleared and latest back', async () => {
      const p = (await (await fetch(`${verdaccio.url}guard-lib`)).json()) as {
        'dist-tags': Record<string, string>;
        versions: Record<string, { deprecated?: string }>;
      };
      return !p.versions['1.1.0']?.deprecated && p['dist-tags'].latest === '1.1.0';
    });

    // Revoked: quarantined again; then rejected for good.
    const revoke = await call('DELETE', `/api/approvals/waivers/${release.body.waiver_ids[0]}`, approver, {
      reason: 'upgrade is late',
    });
    expect(revoke.status).toBe(200);
    expect((await fetch(`${api}/registry/guard-lib/-/guard-lib-1.1.0.tgz`)).status).toBe(451);
    const reject = await call('POST', `/api/approvals/quarantine/${ids[1]}/reject`, approver, {
      reason: 'replaced by 1.2.0',
    });
    expect(reject.status).toBe(200);
    const after = (await (await fetch(`${api}/registry/guard-lib`)).json()) as { versions: Record<string, unknown> };
    expect(Object.keys(after.versions)).toEqual(['1.0.0']);
    const audit = await call<{ entries: Array<{ action: string }> }>(
      'GET',
      '/api/admin/audit?action=package.quarantine.*',
      admin,
    );
    expect(audit.body.entries.map((e) => e.action).sort()).toEqual([
      'package.quarantine.reject',
      'package.quarantine.release',
    ]);
  });
});
