import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, createUser, registerWorker, WAKE_CHANNEL } from '@spm/db';
import { buildApp } from '../src/app.js';
import {
  bearer,
  generatedLockfile,
  PASSWORD,
  setStatus,
  setupApp,
  testConfig,
  writeCounts,
  type TestApp,
} from './helpers.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());

function multipart(fields: Record<string, string>, file?: { name: string; content: Buffer | string; field?: string }) {
  const boundary = '----spmtest' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  if (file) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? 'file'}"; filename="${file.name}"\r\nContent-Type: application/json\r\n\r\n`,
      ),
      Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content),
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

async function upload(token: string, lockfile: unknown, query = '') {
  return t.app.inject({
    method: 'POST',
    url: `/api/packages/upload${query}`,
    headers: bearer(token),
    payload: lockfile as Record<string, unknown>,
  });
}

async function packageIdsOf(requestId: number): Promise<number[]> {
  const rows = await t.db
    .selectFrom('request_packages')
    .select('package_id')
    .where('request_id', '=', requestId)
    .orderBy('package_id')
    .execute();
  return rows.map((r) => r.package_id);
}

async function auditActions(): Promise<string[]> {
  return (await t.db.selectFrom('audit_log').select('action').orderBy('id').execute()).map((r) => r.action);
}

describe('auth', () => {
  it('logs in with the right password and returns a token that works', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { username: 'test-approver', password: PASSWORD },
    });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.user).toEqual({ id: t.users.approver.id, username: 'test-approver', role: 'approver' });
    expect(body.token_type).toBe('Bearer');
    const me = await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: bearer(body.token) });
    expect(me.json()).toMatchObject({
      id: t.users.approver.id,
      username: 'test-approver',
      role: 'approver',
      disabled: false,
    });
    expect(await auditActions()).toContain('auth.login');
  });

  it('signs tokens that expire after JWT_EXPIRES_IN', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { username: 'test-user', password: PASSWORD },
    });
    const claims = JSON.parse(Buffer.from(r.json().token.split('.')[1], 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(8 * 3600);
    expect(claims).toMatchObject({ sub: String(t.users.user.id), role: 'user' });
  });

  it('refuses a wrong password, an unknown user and a disabled user alike, and audits each', async () => {
    const disabled = await createUser(t.db, { username: 'gone', password: PASSWORD, role: 'user' });
    await t.db.updateTable('users').set({ disabled: true }).where('id', '=', disabled.id).execute();
    for (const payload of [
      { username: 'test-user', password: 'wrong password' },
      { username: 'nobody', password: PASSWORD },
      { username: 'gone', password: PASSWORD },
    ]) {
      const r = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload });
      expect(r.statusCode).toBe(401);
      expect(r.json().error.code).toBe('ERR_INVALID_CREDENTIALS');
    }
    const failures = await t.db
      .selectFrom('audit_log')
      .select(['details', 'ip'])
      .where('action', '=', 'auth.login_failed')
      .execute();
    expect(failures.map((f) => (f.details as { reason: string }).reason).sort()).toEqual([
      'disabled',
      'unknown user',
      'wrong password',
    ]);
    expect(failures[0]!.ip).toBeTruthy();
    // Passwords never reach the audit log.
    expect(JSON.stringify(failures)).not.toContain(PASSWORD);
  });

  it('rate-limits login attempts per address and username', async () => {
    const limited = await buildApp(testConfig(t.tdb.url, { LOGIN_RATE_LIMIT: '3' }), { db: t.db, logger: false });
    try {
      const attempt = (username: string) =>
        limited.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: 'wrong password' } });
      for (let i = 0; i < 3; i++) expect((await attempt('test-admin')).statusCode).toBe(401);
      const blocked = await attempt('test-admin');
      expect(blocked.statusCode).toBe(429);
      expect(blocked.json().error.code).toBe('ERR_RATE_LIMITED');
      expect(blocked.headers['retry-after']).toBeDefined();
      // The right password does not get through either while limited.
      expect(
        (
          await limited.inject({
            method: 'POST',
            url: '/api/auth/login',
            payload: { username: 'test-admin', password: PASSWORD },
          })
        ).statusCode,
      ).toBe(429);
      // Another username from the same address is counted separately.
      expect((await attempt('test-user')).statusCode).toBe(401);
    } finally {
      await limited.close();
    }
  });

  it('validates the login body', async () => {
    const r = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'x' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('ERR_VALIDATION');
  });
});

describe('upload', () => {
  it('accepts a JSON body, answers 202 with counts, and queues every package', async () => {
    const before = await writeCounts(t.db);
    const r = await upload(t.tokens.user, generatedLockfile(30, 'json'));
    expect(r.statusCode).toBe(202);
    const body = r.json();
    expect(body).toMatchObject({
      application_name: 'json-app',
      application_version: '1.0.0',
      lockfile_version: 3,
      package_count: 30,
      new_packages: 30,
      existing_packages: 0,
      status_url: `/api/packages/requests/${body.request_id}/processing-status`,
    });
    const after = await writeCounts(t.db);
    expect(after.requests - before.requests).toBe(1);
    expect(after.package_status - before.package_status).toBe(30);
    const req = await t.db
      .selectFrom('requests')
      .selectAll()
      .where('id', '=', body.request_id)
      .executeTakeFirstOrThrow();
    expect(req.requestor_id).toBe(t.users.user.id);
    expect((req.lockfile as { lockfileVersion: number }).lockfileVersion).toBe(3);
    const statuses = await t.db
      .selectFrom('package_status')
      .select('status')
      .where('package_id', 'in', await packageIdsOf(body.request_id))
      .execute();
    expect(new Set(statuses.map((s) => s.status))).toEqual(new Set(['Requested']));
  });

  it('links packages already known as existing and does not queue them again', async () => {
    const r = await upload(t.tokens.approver, generatedLockfile(30, 'json'));
    expect(r.json()).toMatchObject({ package_count: 30, new_packages: 0, existing_packages: 30 });
  });

  it('wakes the workers with a NOTIFY when it queues new packages', async () => {
    // A dedicated connection from the test database's pool, released (not reused while listening) at the end.
    const client = await t.tdb.pool.connect();
    try {
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
      const got = new Promise<string>((resolve) => client.on('notification', (n) => resolve(n.channel)));
      expect((await upload(t.tokens.user, generatedLockfile(2, 'notify'))).statusCode).toBe(202);
      expect(await Promise.race([got, new Promise((r) => setTimeout(() => r('timeout'), 5000))])).toBe(WAKE_CHANNEL);
    } finally {
      await client.query(`UNLISTEN ${WAKE_CHANNEL}`);
      client.release();
    }
  });

  it('accepts the lockfile as multipart field "file", with metadata fields as a fallback', async () => {
    const lock = generatedLockfile(4, 'multi') as {
      name?: string;
      version?: string;
      packages: Record<string, { name?: string }>;
    };
    delete lock.name;
    delete lock.version;
    delete lock.packages[''];
    const m = multipart(
      { application_name: 'from-form', application_version: '7.0.0' },
      { name: 'package-lock.json', content: JSON.stringify(lock) },
    );
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: { ...bearer(t.tokens.user), ...m.headers },
      payload: m.payload,
    });
    expect(r.statusCode, r.body).toBe(202);
    expect(r.json()).toMatchObject({ application_name: 'from-form', application_version: '7.0.0', package_count: 4 });
  });

  it('takes application name and version from query parameters when the lockfile has none', async () => {
    const lock = { lockfileVersion: 3, packages: { 'node_modules/q-pkg': { version: '1.0.0' } } };
    const r = await upload(t.tokens.user, lock, '?application_name=ci-app&application_version=2.0.0');
    expect(r.json()).toMatchObject({ application_name: 'ci-app', application_version: '2.0.0' });
    const unnamed = await upload(t.tokens.user, {
      lockfileVersion: 3,
      packages: { 'node_modules/q-pkg': { version: '1.0.1' } },
    });
    expect(unnamed.json()).toMatchObject({ application_name: 'unnamed', application_version: '0.0.0' });
  });

  for (const v of ['v1', 'v2', 'v3']) {
    it(`accepts the real npm ${v} lockfile and queues exactly its package set`, async () => {
      const expected = JSON.parse(fixture(`npm-${v}.expected.json`).toString()) as string[];
      const m = multipart({}, { name: 'package-lock.json', content: fixture(`npm-${v}.package-lock.json`) });
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/packages/upload',
        headers: { ...bearer(t.tokens.user), ...m.headers },
        payload: m.payload,
      });
      expect(r.statusCode, r.body).toBe(202);
      expect(r.json().package_count).toBe(expected.length);
      const rows = await t.db
        .selectFrom('request_packages as rp')
        .innerJoin('packages as p', 'p.id', 'rp.package_id')
        .select(['p.name', 'p.version'])
        .where('rp.request_id', '=', r.json().request_id)
        .execute();
      expect(rows.map((x) => `${x.name}@${x.version}`).sort()).toEqual([...expected].sort());
    });
  }

  it('records the upload in the audit log', async () => {
    const r = await upload(t.tokens.user, generatedLockfile(1, 'audited'));
    const entry = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'request.upload')
      .where('target_id', '=', String(r.json().request_id))
      .executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ actor_id: t.users.user.id, actor_username: 'test-user', target_type: 'request' });
  });

  it('answers 413 above UPLOAD_MAX_BYTES for JSON and multipart bodies, writing nothing', async () => {
    const small = await buildApp(testConfig(t.tdb.url, { UPLOAD_MAX_BYTES: '4096' }), { db: t.db, logger: false });
    try {
      const before = await writeCounts(t.db);
      const big = generatedLockfile(100, 'big');
      const json = await small.inject({
        method: 'POST',
        url: '/api/packages/upload',
        headers: bearer(t.tokens.user),
        payload: big,
      });
      expect(json.statusCode).toBe(413);
      expect(json.json().error.code).toBe('ERR_PAYLOAD_TOO_LARGE');
      const m = multipart({}, { name: 'package-lock.json', content: JSON.stringify(big) });
      const mp = await small.inject({
        method: 'POST',
        url: '/api/packages/upload',
        headers: { ...bearer(t.tokens.user), ...m.headers },
        payload: m.payload,
      });
      expect(mp.statusCode).toBe(413);
      expect(mp.json().error.code).toBe('ERR_PAYLOAD_TOO_LARGE');
      expect(await writeCounts(t.db)).toEqual(before);
    } finally {
      await small.close();
    }
  });

  it('answers 415 for other content types and 400 for a multipart body without "file"', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: { ...bearer(t.tokens.user), 'content-type': 'application/xml' },
      payload: '<x/>',
    });
    expect(r.statusCode).toBe(415);
    expect(r.json().error.code).toBe('ERR_UNSUPPORTED_MEDIA_TYPE');
    const m = multipart({ other: 'x' });
    const mp = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: { ...bearer(t.tokens.user), ...m.headers },
      payload: m.payload,
    });
    expect(mp.statusCode).toBe(400);
    expect(mp.json().error.code).toBe('ERR_MULTIPART_FIELD');
  });
});

describe('requests', () => {
  let mine: number;
  let theirs: number;
  beforeAll(async () => {
    mine = (await upload(t.tokens.user, generatedLockfile(6, 'req-mine'))).json().request_id;
    theirs = (await upload(t.tokens.approver, generatedLockfile(3, 'req-theirs'))).json().request_id;
  });

  it("lists a user's own requests only, and all of them for approvers and admins", async () => {
    const own = (
      await t.app.inject({ method: 'GET', url: '/api/packages/requests?page_size=500', headers: bearer(t.tokens.user) })
    ).json();
    expect(own.requests.every((r: { requestor: string }) => r.requestor === 'test-user')).toBe(true);
    expect(own.requests.map((r: { id: number }) => r.id)).toContain(mine);
    expect(own.requests.map((r: { id: number }) => r.id)).not.toContain(theirs);
    const all = (
      await t.app.inject({
        method: 'GET',
        url: '/api/packages/requests?page_size=500',
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(all.requests.map((r: { id: number }) => r.id)).toEqual(expect.arrayContaining([mine, theirs]));
    expect(all.total).toBeGreaterThan(own.total);
  });

  it('paginates with page/page_size and with limit/offset, newest first', async () => {
    const all = (
      await t.app.inject({ method: 'GET', url: '/api/packages/requests?limit=500', headers: bearer(t.tokens.admin) })
    ).json();
    const ids = all.requests.map((r: { id: number }) => r.id);
    expect([...ids].sort((a: number, b: number) => b - a)).toEqual(ids);
    const p2 = (
      await t.app.inject({
        method: 'GET',
        url: '/api/packages/requests?page=2&page_size=2',
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(p2).toMatchObject({ page: 2, page_size: 2, limit: 2, offset: 2, total: all.total });
    expect(p2.requests.map((r: { id: number }) => r.id)).toEqual(ids.slice(2, 4));
    const lo = (
      await t.app.inject({
        method: 'GET',
        url: '/api/packages/requests?limit=3&offset=1',
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(lo.requests.map((r: { id: number }) => r.id)).toEqual(ids.slice(1, 4));
    const bad = await t.app.inject({
      method: 'GET',
      url: '/api/packages/requests?page=0',
      headers: bearer(t.tokens.admin),
    });
    expect(bad.json().error.code).toBe('ERR_VALIDATION');
  });

  it('shows a request with every package, its licence verdict, scan summary and rejection', async () => {
    const ids = await packageIdsOf(mine);
    await setStatus(t.db, [ids[0]!], 'Pending Approval', {
      license_expression: 'MIT',
      license_tier: 'always_allowed',
      license_score: 100,
      security_score: 70,
    });
    await t.db
      .insertInto('security_scans')
      .values({
        package_id: ids[0]!,
        scanners: JSON.stringify([{ name: 'builtin' }]),
        critical: 0,
        high: 1,
        medium: 2,
        low: 0,
        info: 3,
        findings: JSON.stringify([{ severity: 'high' }, { severity: 'low' }]),
        malware: false,
        score: 70,
        duration_ms: 12,
      })
      .execute();
    await setStatus(t.db, [ids[1]!], 'Rejected', {
      rejection_kind: 'error',
      rejection_reason: 'gave up',
      last_error: 'registry 503',
    });
    const r = await t.app.inject({
      method: 'GET',
      url: `/api/packages/requests/${mine}`,
      headers: bearer(t.tokens.user),
    });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.request).toMatchObject({ id: mine, package_count: 6, requestor: 'test-user' });
    expect(body.request.status_counts).toMatchObject({ 'Pending Approval': 1, Rejected: 1, Requested: 4 });
    expect(body.packages).toHaveLength(6);
    const p0 = body.packages.find((p: { package_id: number }) => p.package_id === ids[0]);
    expect(p0).toMatchObject({
      status: 'Pending Approval',
      link: 'new',
      license_expression: 'MIT',
      license_tier: 'always_allowed',
      license_score: 100,
      security_score: 70,
      scan: {
        vulnerabilities: { critical: 0, high: 1, medium: 2, low: 0, info: 3 },
        findings_count: 2,
        malware: false,
        score: 70,
      },
      rejection: null,
    });
    const p1 = body.packages.find((p: { package_id: number }) => p.package_id === ids[1]);
    expect(p1).toMatchObject({
      status: 'Rejected',
      last_error: 'registry 503',
      rejection: { kind: 'error', reason: 'gave up' },
      progress_percent: 100,
    });
  });

  it("hides other people's requests from plain users (404) but not from approvers", async () => {
    const r = await t.app.inject({
      method: 'GET',
      url: `/api/packages/requests/${theirs}`,
      headers: bearer(t.tokens.user),
    });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('ERR_REQUEST_NOT_FOUND');
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/packages/requests/${mine}`, headers: bearer(t.tokens.approver) }))
        .statusCode,
    ).toBe(200);
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: `/api/packages/requests/${theirs}/processing-status`,
          headers: bearer(t.tokens.user),
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/packages/requests/99999999', headers: bearer(t.tokens.admin) }))
        .statusCode,
    ).toBe(404);
  });

  it('reports per-package processing with time per stage, and done once every package is settled', async () => {
    const id = (await upload(t.tokens.user, generatedLockfile(3, 'timing'))).json().request_id;
    const ids = await packageIdsOf(id);
    const first = (
      await t.app.inject({
        method: 'GET',
        url: `/api/packages/requests/${id}/processing-status`,
        headers: bearer(t.tokens.user),
      })
    ).json();
    expect(first).toMatchObject({
      request_id: id,
      done: false,
      progress_percent: 0,
      summary: { total: 3, settled: 0, in_progress: 3 },
    });

    // A package that went through licence and download: 10 s checking the licence, 30 s downloading.
    const t0 = new Date(Date.now() - 120_000);
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    await t.db.deleteFrom('package_events').where('package_id', '=', ids[0]!).execute();
    await t.db
      .insertInto('package_events')
      .values([
        {
          package_id: ids[0]!,
          from_status: null,
          to_status: 'Requested',
          actor: 'u',
          actor_kind: 'user',
          created_at: at(0),
        },
        {
          package_id: ids[0]!,
          from_status: 'Requested',
          to_status: 'Checking Licence',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(5),
        },
        {
          package_id: ids[0]!,
          from_status: 'Checking Licence',
          to_status: 'Licence Checked',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(15),
        },
        {
          package_id: ids[0]!,
          from_status: 'Licence Checked',
          to_status: 'Downloading',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(16),
        },
        {
          package_id: ids[0]!,
          from_status: 'Downloading',
          to_status: 'Downloaded',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(46),
        },
        {
          package_id: ids[0]!,
          from_status: 'Downloaded',
          to_status: 'Rejected',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(50),
        },
      ])
      .execute();
    await setStatus(t.db, [ids[0]!], 'Rejected', {
      rejection_kind: 'policy',
      rejection_reason: 'malware',
      last_error: null,
    });
    await setStatus(t.db, [ids[1]!], 'Published');
    await setStatus(t.db, [ids[2]!], 'Downloading', {
      locked_by: 'w1',
      locked_until: new Date(Date.now() + 60_000),
      last_error: 'retry: timeout',
    });
    const mid = (
      await t.app.inject({
        method: 'GET',
        url: `/api/packages/requests/${id}/processing-status`,
        headers: bearer(t.tokens.user),
      })
    ).json();
    expect(mid.done).toBe(false);
    expect(mid.summary).toMatchObject({ settled: 2, in_progress: 1, published: 1, rejected: 1, with_errors: 1 });
    const p0 = mid.packages.find((p: { package_id: number }) => p.package_id === ids[0]);
    expect(p0.stage_seconds).toEqual({ licence: 10, download: 30 });
    expect(p0.status_seconds).toMatchObject({ Requested: 5, 'Licence Checked': 1, Downloaded: 4 });
    expect(p0.elapsed_seconds).toBe(50);
    expect(p0.rejection).toEqual({ kind: 'policy', reason: 'malware' });
    const p2 = mid.packages.find((p: { package_id: number }) => p.package_id === ids[2]);
    expect(p2).toMatchObject({ status: 'Downloading', progress_percent: 27, last_error: 'retry: timeout' });

    await setStatus(t.db, [ids[2]!], 'Pending Approval');
    const end = (
      await t.app.inject({
        method: 'GET',
        url: `/api/packages/requests/${id}/processing-status`,
        headers: bearer(t.tokens.user),
      })
    ).json();
    expect(end).toMatchObject({ done: true, summary: { settled: 3, in_progress: 0, pending_approval: 1 } });
  });
});

describe('processing', () => {
  it('reports counts per status, queue depth, workers and recent activity', async () => {
    await registerWorker(t.db, { id: 'worker-a', hostname: 'host-a', pid: 42, version: '0.1.0' });
    const r = await t.app.inject({
      method: 'GET',
      url: '/api/packages/processing/status',
      // An admin: worker hosts and pids are shown to admins only (four-eyes.int.test.ts has the rest).
      headers: bearer(t.tokens.admin),
    });
    expect(r.statusCode).toBe(200);
    const s = r.json();
    expect(s.counts.Requested).toBeGreaterThan(0);
    expect(s.total).toBe(Object.values(s.counts as Record<string, number>).reduce((a, b) => a + b, 0));
    expect(s.queue_depth).toBeGreaterThan(0);
    expect(s.workers).toEqual([expect.objectContaining({ id: 'worker-a', hostname: 'host-a', pid: 42, alive: true })]);
    expect(s.recent_activity.length).toBeGreaterThan(0);
    expect(s.recent_activity[0]).toHaveProperty('to');
  });

  it('re-queues error rejections (admin), never approver rejections; policy only when asked; audited', async () => {
    const id = (await upload(t.tokens.user, generatedLockfile(4, 'retry'))).json().request_id;
    const [a, b, c, d] = await packageIdsOf(id);
    await setStatus(t.db, [a!], 'Rejected', {
      rejection_kind: 'error',
      rejection_reason: 'gave up',
      rejected_from: 'Licence Checked',
    });
    await setStatus(t.db, [b!], 'Rejected', {
      rejection_kind: 'policy',
      rejection_reason: 'GPL-3.0-only is blocked',
      rejected_from: 'Requested',
    });
    await setStatus(t.db, [c!], 'Rejected', { rejection_kind: 'approver', rejection_reason: 'no' });
    await setStatus(t.db, [d!], 'Pending Approval');
    const r1 = await t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: bearer(t.tokens.admin),
      payload: { request_id: id },
    });
    expect(r1.statusCode).toBe(200);
    expect(r1.json()).toEqual({ requeued: 1, package_ids: [a] });
    const r2 = await t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: bearer(t.tokens.admin),
      payload: { request_id: id, include_policy: true },
    });
    expect(r2.json()).toEqual({ requeued: 1, package_ids: [b] });
    const st = new Map(
      (
        await t.db
          .selectFrom('package_status')
          .select(['package_id', 'status'])
          .where('package_id', 'in', [a!, b!, c!])
          .execute()
      ).map((r) => [r.package_id, r.status]),
    );
    expect(st.get(a!)).toBe('Licence Checked');
    expect(st.get(b!)).toBe('Requested');
    expect(st.get(c!)).toBe('Rejected');
    const audits = await t.db
      .selectFrom('audit_log')
      .select('details')
      .where('action', '=', 'processing.retry')
      .where('target_id', '=', String(id))
      .execute();
    expect(audits).toHaveLength(2);
    const missing = await t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: bearer(t.tokens.admin),
      payload: { request_id: 987654 },
    });
    expect(missing.statusCode).toBe(404);
    const noBody = await t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: bearer(t.tokens.admin),
    });
    expect(noBody.statusCode).toBe(200);
  });
});

describe('approvals and the package report', () => {
  let requestId: number;
  let ids: number[];
  beforeAll(async () => {
    requestId = (await upload(t.tokens.user, generatedLockfile(6, 'appr'))).json().request_id;
    ids = await packageIdsOf(requestId);
    await setStatus(t.db, ids, 'Pending Approval', {
      license_expression: 'MIT',
      license_tier: 'always_allowed',
      license_score: 100,
    });
    await t.db
      .insertInto('security_scans')
      .values({
        package_id: ids[0]!,
        scanners: JSON.stringify([{ name: 'builtin', version: '1' }]),
        critical: 1,
        high: 0,
        medium: 1,
        low: 0,
        info: 0,
        findings: JSON.stringify([
          { id: 'F-low', severity: 'medium', title: 'm' },
          { id: 'F-crit', severity: 'critical', title: 'c' },
        ]),
        malware: false,
        score: 40,
        duration_ms: 5,
      })
      .execute();
  });

  it('lists pending packages with licence verdict, scan summary and the most severe findings first', async () => {
    const r = await t.app.inject({
      method: 'GET',
      url: '/api/approvals/pending?page_size=500',
      headers: bearer(t.tokens.approver),
    });
    expect(r.statusCode).toBe(200);
    const p = r.json().packages.find((x: { package_id: number }) => x.package_id === ids[0]);
    expect(p).toMatchObject({
      license_tier: 'always_allowed',
      request_ids: [requestId],
      requested_by: ['test-user'],
      scan: { vulnerabilities: { critical: 1, medium: 1 }, findings_count: 2, score: 40 },
    });
    expect(p.scan.top_findings.map((f: { id: string }) => f.id)).toEqual(['F-crit', 'F-low']);
    expect(r.json().total).toBeGreaterThanOrEqual(6);
  });

  it('approves one package: Approved, an event, an audit entry and a wake-up for publishing', async () => {
    // A dedicated connection from the test database's pool, released (not reused while listening) at the end.
    const client = await t.tdb.pool.connect();
    try {
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
      const woke = new Promise((resolve) => client.on('notification', resolve));
      const r = await t.app.inject({
        method: 'POST',
        url: `/api/approvals/${ids[0]}/approve`,
        headers: bearer(t.tokens.approver),
        payload: { reason: 'reviewed findings' },
      });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({ package_id: ids[0], outcome: 'approved', status: 'Approved' });
      await woke;
    } finally {
      await client.query(`UNLISTEN ${WAKE_CHANNEL}`);
      client.release();
    }
    const ev = await t.db
      .selectFrom('package_events')
      .selectAll()
      .where('package_id', '=', ids[0]!)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(ev).toMatchObject({
      from_status: 'Pending Approval',
      to_status: 'Approved',
      actor: 'test-approver',
      reason: 'reviewed findings',
    });
    const audit = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'package.approve')
      .where('target_id', '=', String(ids[0]))
      .executeTakeFirstOrThrow();
    expect(audit.actor_id).toBe(t.users.approver.id);
  });

  it('approves without a body using a default reason', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[1]}/approve`,
      headers: bearer(t.tokens.admin),
    });
    expect(r.statusCode, r.body).toBe(200);
  });

  it('needs a reason to reject, and records it', async () => {
    const none = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[2]}/reject`,
      headers: bearer(t.tokens.approver),
      payload: {},
    });
    expect(none.statusCode).toBe(400);
    const empty = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[2]}/reject`,
      headers: bearer(t.tokens.approver),
      payload: { reason: '' },
    });
    expect(empty.statusCode).toBe(400);
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[2]}/reject`,
      headers: bearer(t.tokens.approver),
      payload: { reason: 'typosquat' },
    });
    expect(r.json()).toEqual({ package_id: ids[2], outcome: 'rejected', status: 'Rejected' });
    const st = await t.db
      .selectFrom('package_status')
      .selectAll()
      .where('package_id', '=', ids[2]!)
      .executeTakeFirstOrThrow();
    expect(st).toMatchObject({
      rejection_kind: 'approver',
      rejection_reason: 'typosquat',
      rejected_by: t.users.approver.id,
    });
  });

  it('answers 409 for a package not pending and 404 for an unknown one', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[0]}/approve`,
      headers: bearer(t.tokens.approver),
      payload: {},
    });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatchObject({ code: 'ERR_NOT_PENDING', details: { status: 'Approved' } });
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/api/approvals/77777777/reject',
          headers: bearer(t.tokens.approver),
          payload: { reason: 'x' },
        })
      ).statusCode,
    ).toBe(404);
  });

  it('decides a batch, reporting packages that were not pending as skipped', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/batch',
      headers: bearer(t.tokens.approver),
      payload: { package_ids: [ids[3], ids[4], ids[0]], decision: 'approve', reason: 'batch ok' },
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ approved: 2, rejected: 0, skipped: 1 });
    expect(r.json().results).toContainEqual({ package_id: ids[0], outcome: 'skipped', status: 'Approved' });
    const noReason = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/batch',
      headers: bearer(t.tokens.approver),
      payload: { package_ids: [ids[5]], decision: 'reject' },
    });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().error.code).toBe('ERR_REASON_REQUIRED');
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/batch',
      headers: bearer(t.tokens.approver),
      payload: { package_ids: [], decision: 'approve' },
    });
    expect(bad.json().error.code).toBe('ERR_VALIDATION');
  });

  it('shows the package report to its requester and approvers, with scan findings and history', async () => {
    const r = await t.app.inject({
      method: 'GET',
      url: `/api/packages/${ids[0]}/report`,
      headers: bearer(t.tokens.user),
    });
    expect(r.statusCode).toBe(200);
    const rep = r.json();
    expect(rep.package).toMatchObject({ id: ids[0], name: expect.any(String) });
    expect(rep.status).toMatchObject({ status: 'Approved', approved_by: 'test-approver' });
    expect(rep.license).toMatchObject({ license_expression: 'MIT', declared_license: 'MIT' });
    expect(rep.security.scan.findings).toHaveLength(2);
    expect(rep.security.scan.vulnerabilities.critical).toBe(1);
    expect(rep.request_ids).toEqual([requestId]);
    expect(rep.events.map((e: { to: string }) => e.to)).toEqual(['Requested', 'Approved']);
    const other = (await upload(t.tokens.approver, generatedLockfile(1, 'report-other'))).json().request_id;
    const [otherId] = await packageIdsOf(other);
    const hidden = await t.app.inject({
      method: 'GET',
      url: `/api/packages/${otherId}/report`,
      headers: bearer(t.tokens.user),
    });
    expect(hidden.statusCode).toBe(404);
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: `/api/packages/${otherId}/report`,
          headers: bearer(t.tokens.approver),
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/packages/88888888/report', headers: bearer(t.tokens.admin) }))
        .statusCode,
    ).toBe(404);
  });
});

describe('admin: users', () => {
  it('creates users, refuses duplicates, lists them without password hashes', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/admin/users',
      headers: bearer(t.tokens.admin),
      payload: { username: 'carol', password: 'a long password', role: 'approver' },
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ username: 'carol', role: 'approver', disabled: false });
    const dup = await t.app.inject({
      method: 'POST',
      url: '/api/admin/users',
      headers: bearer(t.tokens.admin),
      payload: { username: 'carol', password: 'a long password', role: 'user' },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('ERR_USER_EXISTS');
    const short = await t.app.inject({
      method: 'POST',
      url: '/api/admin/users',
      headers: bearer(t.tokens.admin),
      payload: { username: 'dave', password: 'short', role: 'user' },
    });
    expect(short.statusCode).toBe(400);
    const list = await t.app.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(t.tokens.admin) });
    expect(list.json().users.map((u: { username: string }) => u.username)).toContain('carol');
    expect(list.body).not.toContain('scrypt');
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { username: 'carol', password: 'a long password' },
    });
    expect(login.statusCode).toBe(200);
  });

  it('changes roles, disables users (their tokens stop working) and resets passwords, all audited', async () => {
    const u = await createUser(t.db, { username: 'erin', password: PASSWORD, role: 'user' });
    const token = t.tokenFor(u);
    const promote = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${u.id}`,
      headers: bearer(t.tokens.admin),
      payload: { role: 'approver' },
    });
    expect(promote.json()).toMatchObject({ role: 'approver' });
    // A role change ends the old token; a new one carries the new role.
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/approvals/pending', headers: bearer(token) })).statusCode,
    ).toBe(401);
    const promotedToken = t.tokenFor({ ...u, role: 'approver', tokenVersion: u.tokenVersion + 1 });
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/approvals/pending', headers: bearer(promotedToken) })).statusCode,
    ).toBe(200);
    const disable = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${u.id}`,
      headers: bearer(t.tokens.admin),
      payload: { disabled: true },
    });
    expect(disable.json()).toMatchObject({ disabled: true });
    const after = await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: bearer(promotedToken) });
    expect(after.statusCode).toBe(401);
    await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${u.id}`,
      headers: bearer(t.tokens.admin),
      payload: { disabled: false, password: 'a brand new password' },
    });
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/api/auth/login',
          payload: { username: 'erin', password: 'a brand new password' },
        })
      ).statusCode,
    ).toBe(200);
    const audits = await t.db
      .selectFrom('audit_log')
      .select('details')
      .where('action', '=', 'user.update')
      .where('target_id', '=', String(u.id))
      .execute();
    expect(audits).toHaveLength(3);
    expect(JSON.stringify(audits)).not.toContain('a brand new password');
    expect(
      (
        await t.app.inject({
          method: 'PATCH',
          url: '/api/admin/users/99999',
          headers: bearer(t.tokens.admin),
          payload: { role: 'user' },
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (
        await t.app.inject({
          method: 'PATCH',
          url: `/api/admin/users/${u.id}`,
          headers: bearer(t.tokens.admin),
          payload: {},
        })
      ).statusCode,
    ).toBe(400);
  });

  it('never leaves the system without an enabled admin', async () => {
    const admins = await t.db
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'admin')
      .where('disabled', '=', false)
      .execute();
    for (const a of admins.filter((x) => x.id !== t.users.admin.id)) {
      await t.db.updateTable('users').set({ disabled: true }).where('id', '=', a.id).execute();
    }
    const r = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${t.users.admin.id}`,
      headers: bearer(t.tokens.admin),
      payload: { role: 'user' },
    });
    expect(r.statusCode).toBe(409);
    expect(r.json().error.code).toBe('ERR_LAST_ADMIN');
    const d = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${t.users.admin.id}`,
      headers: bearer(t.tokens.admin),
      payload: { disabled: true },
    });
    expect(d.statusCode).toBe(409);
  });
});

describe('admin: licence policy', () => {
  const h = () => bearer(t.tokens.admin);

  it('lists the policy and shows one licence with its usage', async () => {
    const list = (await t.app.inject({ method: 'GET', url: '/api/admin/licenses', headers: h() })).json();
    expect(list.licenses.find((l: { spdx_id: string }) => l.spdx_id === 'MIT')).toMatchObject({
      tier: 'always_allowed',
    });
    const one = await t.app.inject({ method: 'GET', url: '/api/admin/licenses/mit', headers: h() });
    expect(one.json()).toMatchObject({ spdx_id: 'MIT', packages_using: expect.any(Number) });
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/admin/licenses/LicenseRef-nope', headers: h() })).statusCode,
    ).toBe(404);
  });

  it('adds licences with valid SPDX ids only, in their canonical spelling', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/admin/licenses',
      headers: h(),
      payload: { spdx_id: 'apache-1.1', name: 'Apache 1.1', tier: 'allowed' },
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ spdx_id: 'Apache-1.1', tier: 'allowed' });
    for (const spdx_id of ['LicenseRef-acme-eula', 'GPL-2.0-only WITH Classpath-exception-2.0', 'MPL-1.0+']) {
      const ok = await t.app.inject({
        method: 'POST',
        url: '/api/admin/licenses',
        headers: h(),
        payload: { spdx_id, name: spdx_id, tier: 'avoid' },
      });
      expect(ok.statusCode, ok.body).toBe(201);
    }
    for (const spdx_id of ['NOT-A-LICENSE', 'MIT WITH Nonsense-exception', 'MIT OR ISC', '../etc']) {
      const bad = await t.app.inject({
        method: 'POST',
        url: '/api/admin/licenses',
        headers: h(),
        payload: { spdx_id, name: 'x', tier: 'avoid' },
      });
      expect(bad.statusCode, spdx_id).toBe(400);
      expect(bad.json().error.code).toBe('ERR_INVALID_SPDX_ID');
    }
    const tier = await t.app.inject({
      method: 'POST',
      url: '/api/admin/licenses',
      headers: h(),
      payload: { spdx_id: 'Zed', name: 'x', tier: 'maybe' },
    });
    expect(tier.json().error.code).toBe('ERR_VALIDATION');
    const dup = await t.app.inject({
      method: 'POST',
      url: '/api/admin/licenses',
      headers: h(),
      payload: { spdx_id: 'mit', name: 'MIT', tier: 'allowed' },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('ERR_LICENSE_EXISTS');
  });

  // Issue 11, finding 10: the worker upgrades GPL-2.0 to GPL-2.0-only before it looks a tier up, so a
  // row written as GPL-2.0 never matched anything.
  it('stores a deprecated SPDX id as the canonical id the worker looks up, and answers with it', async () => {
    const cases: Array<[string, string]> = [
      ['GPL-1.0', 'GPL-1.0-only'],
      ['lgpl-2.0+', 'LGPL-2.0-or-later'],
      ['GPL-3.0-with-GCC-exception', 'GPL-3.0-only WITH GCC-exception-3.1'],
      ['AGPL-3.0 WITH Universal-FOSS-exception-1.0', 'AGPL-3.0-only WITH Universal-FOSS-exception-1.0'],
    ];
    for (const [given, canonical] of cases) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/admin/licenses',
        headers: h(),
        payload: { spdx_id: given, name: given, tier: 'blocked' },
      });
      expect(r.statusCode, r.body).toBe(201);
      expect(r.json().spdx_id).toBe(canonical);
    }
    const byOldId = await t.app.inject({ method: 'GET', url: '/api/admin/licenses/GPL-1.0', headers: h() });
    expect(byOldId.json()).toMatchObject({ spdx_id: 'GPL-1.0-only', tier: 'blocked' });
    const again = await t.app.inject({
      method: 'POST',
      url: '/api/admin/licenses',
      headers: h(),
      payload: { spdx_id: 'GPL-1.0-only', name: 'x', tier: 'avoid' },
    });
    expect(again.statusCode).toBe(409);
  });

  it('changes a tier and audits the before and after', async () => {
    const r = await t.app.inject({
      method: 'PATCH',
      url: '/api/admin/licenses/Apache-1.1',
      headers: h(),
      payload: { tier: 'blocked', notes: 'legal review' },
    });
    expect(r.json()).toMatchObject({ tier: 'blocked', notes: 'legal review' });
    const a = await t.db
      .selectFrom('audit_log')
      .select('details')
      .where('action', '=', 'license.update')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(a.details).toMatchObject({ from: { tier: 'allowed' }, to: { tier: 'blocked' } });
  });

  it('refuses to delete a licence packages use unless forced', async () => {
    const id = (
      await upload(t.tokens.user, {
        lockfileVersion: 3,
        packages: { 'node_modules/isc-user': { version: '1.0.0', license: 'ISC' } },
      })
    ).json().request_id;
    const [pid] = await packageIdsOf(id);
    await setStatus(t.db, [pid!], 'Pending Approval', { license_expression: '(ISC OR GPL-2.0+)' });
    // The fixtures uploaded earlier declare ISC too (not yet evaluated): they count as well.
    const using = (await t.app.inject({ method: 'GET', url: '/api/admin/licenses/ISC', headers: h() })).json()
      .packages_using;
    expect(using).toBeGreaterThan(1);
    const r = await t.app.inject({ method: 'DELETE', url: '/api/admin/licenses/ISC', headers: h() });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatchObject({ code: 'ERR_LICENSE_IN_USE', details: { packages: using } });
    // GPL-2.0+ references GPL-2.0 too (counted via the expression), and Apache-1.1 is unused.
    expect(
      (await t.app.inject({ method: 'DELETE', url: '/api/admin/licenses/Apache-1.1', headers: h() })).statusCode,
    ).toBe(204);
    const forced = await t.app.inject({ method: 'DELETE', url: '/api/admin/licenses/ISC?force=true', headers: h() });
    expect(forced.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/admin/licenses/ISC', headers: h() })).statusCode).toBe(404);
    const a = await t.db
      .selectFrom('audit_log')
      .select('details')
      .where('action', '=', 'license.delete')
      .where('target_id', '=', 'ISC')
      .executeTakeFirstOrThrow();
    expect(a.details).toMatchObject({ force: true, packages_using: using });
  });
});

describe('admin: audit log', () => {
  it('lists entries newest first with action, actor and time filters and pagination', async () => {
    const all = (
      await t.app.inject({ method: 'GET', url: '/api/admin/audit?page_size=500', headers: bearer(t.tokens.admin) })
    ).json();
    expect(all.total).toBeGreaterThan(10);
    const ids = all.entries.map((e: { id: number }) => e.id);
    expect([...ids].sort((a: number, b: number) => b - a)).toEqual(ids);
    const logins = (
      await t.app.inject({ method: 'GET', url: '/api/admin/audit?action=auth.login', headers: bearer(t.tokens.admin) })
    ).json();
    expect(logins.entries.every((e: { action: string }) => e.action === 'auth.login')).toBe(true);
    const pkg = (
      await t.app.inject({ method: 'GET', url: '/api/admin/audit?action=package.*', headers: bearer(t.tokens.admin) })
    ).json();
    expect(new Set(pkg.entries.map((e: { action: string }) => e.action))).toEqual(
      new Set(['package.approve', 'package.reject']),
    );
    const byActor = (
      await t.app.inject({
        method: 'GET',
        url: '/api/admin/audit?actor=test-approver&limit=500',
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(byActor.entries.length).toBeGreaterThan(0);
    expect(byActor.entries.every((e: { actor_username: string }) => e.actor_username === 'test-approver')).toBe(true);
    const future = (
      await t.app.inject({
        method: 'GET',
        url: `/api/admin/audit?from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`,
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(future.total).toBe(0);
    const past = (
      await t.app.inject({
        method: 'GET',
        url: `/api/admin/audit?to=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}`,
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(past.total).toBe(0);
    const page = (
      await t.app.inject({ method: 'GET', url: '/api/admin/audit?page=2&page_size=3', headers: bearer(t.tokens.admin) })
    ).json();
    expect(page.entries.map((e: { id: number }) => e.id)).toEqual(ids.slice(3, 6));
    const bad = await t.app.inject({
      method: 'GET',
      url: '/api/admin/audit?from=yesterday',
      headers: bearer(t.tokens.admin),
    });
    expect(bad.json().error.code).toBe('ERR_INVALID_TIMESTAMP');
  });
});

describe('operations', () => {
  it('answers /health and /ready', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ status: 'ready' });
  });

  it('answers /ready with 503 and a code when the database is unreachable', async () => {
    const { db } = createDb({ connectionString: 'postgres://postgres@127.0.0.1:1/none', max: 1 });
    const down = await buildApp(testConfig('postgres://postgres@127.0.0.1:1/none'), { db, logger: false });
    try {
      const r = await down.inject({ method: 'GET', url: '/ready' });
      expect(r.statusCode).toBe(503);
      expect(r.json().error.code).toBe('ERR_DB_UNAVAILABLE');
      // Other routes say so too, rather than a bare 500.
      const me = await down.inject({ method: 'GET', url: '/api/packages/requests', headers: bearer(t.tokens.user) });
      expect(me.statusCode).toBe(503);
      expect((await down.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await down.close();
      await db.destroy();
    }
  });

  it('serves Prometheus metrics: HTTP histogram and queue gauges', async () => {
    await t.app.inject({ method: 'GET', url: '/health' });
    const r = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    expect(r.body).toMatch(
      /spm_http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} \d+/,
    );
    expect(r.body).toMatch(/spm_queue_depth \d+/);
    expect(r.body).toMatch(/spm_packages\{status="Requested"\} [1-9]\d*/);
    expect(r.body).toMatch(/spm_workers_alive \d+/);
  });

  it('serves the OpenAPI document and UI at /docs, with a schema for every response', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    const ops = Object.entries(
      doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>,
    ).filter(([p]) => p.startsWith('/api/'));
    expect(ops.length).toBeGreaterThan(15);
    for (const [path, methods] of ops) {
      for (const [m, op] of Object.entries(methods)) {
        expect(Object.keys(op.responses), `${m} ${path}`).toEqual(expect.arrayContaining(['500']));
        if (path !== '/api/auth/login' && path !== '/api/auth/session')
          expect(Object.keys(op.responses), `${m} ${path}`).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
    const ui = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
  });

  it('mounts the read-only npm registry under /registry/', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/registry/-/ping' });
    expect(r.statusCode).toBe(200);
  });

  it('answers unknown routes with 404 and a code', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/api/nope' });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('ERR_NOT_FOUND');
  });

  it('never leaks internals on a 500', async () => {
    const tdbUrl = t.tdb.url;
    const { db } = createDb({ connectionString: tdbUrl, max: 1 });
    const broken = await buildApp(testConfig(tdbUrl), { db, logger: false });
    try {
      // A token check passes, then the pool is gone: the handler's query throws a pg error.
      await db.selectFrom('users').select('id').execute();
      await db.destroy();
      const r = await broken.inject({ method: 'GET', url: '/api/packages/requests', headers: bearer(t.tokens.admin) });
      expect(r.statusCode).toBeGreaterThanOrEqual(500);
      expect(r.json()).toEqual({
        error: { code: r.statusCode === 503 ? 'ERR_DB_UNAVAILABLE' : 'ERR_INTERNAL', message: expect.any(String) },
      });
      expect(r.body).not.toMatch(/pool|stack|at .*\.js/i);
    } finally {
      await broken.close();
    }
  });
});
