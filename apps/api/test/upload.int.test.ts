import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAKE_CHANNEL } from '@spm/db';
import { buildApp } from '../src/app.js';
import {
  appCalls,
  bearer,
  fixture,
  generatedLockfile,
  multipart,
  setupApp,
  testConfig,
  writeCounts,
  type TestApp,
} from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());
const { upload, packageIdsOf } = appCalls(() => t);

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
