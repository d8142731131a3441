import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { Status } from '@spm/db';
import { bearer, generatedLockfile, setStatus, setupApp, writeCounts, type TestApp } from './helpers.js';

/*
 * Quotas: a lockfile with more entries than MAX_LOCKFILE_ENTRIES is 413; a user with too many requests or
 * packages waiting for the workers gets 429 with Retry-After and a code naming the limit, with nothing
 * written; admins have no quota; settled packages free the quota again.
 */

let t: TestApp;
beforeAll(async () => {
  t = await setupApp({ MAX_LOCKFILE_ENTRIES: '6', USER_MAX_OPEN_REQUESTS: '2', USER_MAX_QUEUED_PACKAGES: '8' });
});
afterAll(async () => t?.close());
beforeEach(async () => {
  await sql`TRUNCATE requests, packages, package_events, audit_log RESTART IDENTITY CASCADE`.execute(t.db);
});

const upload = (role: 'user' | 'approver' | 'admin', n: number, prefix: string) =>
  t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: bearer(t.tokens[role]),
    payload: generatedLockfile(n, prefix),
  });

const settleAll = async () => {
  const ids = (await t.db.selectFrom('package_status').select('package_id').execute()).map((r) => r.package_id);
  await setStatus(t.db, ids, Status.PendingApproval);
};

describe('MAX_LOCKFILE_ENTRIES', () => {
  it('refuses a lockfile with more entries than the setting with 413 and a code naming it, writing nothing', async () => {
    const before = await writeCounts(t.db);
    const res = await upload('admin', 7, 'too-many');
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('ERR_MAX_LOCKFILE_ENTRIES');
    expect(res.json().error.message).toContain('MAX_LOCKFILE_ENTRIES');
    expect(res.json().error.details).toEqual({ setting: 'MAX_LOCKFILE_ENTRIES', limit: 6, entries: 7 });
    expect(await writeCounts(t.db)).toEqual(before);
    expect((await upload('user', 6, 'just-fits')).statusCode).toBe(202);
  });
});

describe('per-user quotas', () => {
  it('refuses a third open request with 429 ERR_QUOTA_OPEN_REQUESTS and Retry-After; others are not affected', async () => {
    expect((await upload('user', 1, 'one')).statusCode).toBe(202);
    expect((await upload('user', 1, 'two')).statusCode).toBe(202);
    const before = await writeCounts(t.db);
    const res = await upload('user', 1, 'three');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('60');
    expect(res.json().error).toMatchObject({
      code: 'ERR_QUOTA_OPEN_REQUESTS',
      details: { setting: 'USER_MAX_OPEN_REQUESTS', limit: 2, open_requests: 2 },
    });
    expect(await writeCounts(t.db)).toEqual(before);
    // Another user's quota is their own; an admin has none.
    expect((await upload('approver', 1, 'other')).statusCode).toBe(202);
    for (const p of ['a1', 'a2', 'a3']) expect((await upload('admin', 1, p)).statusCode).toBe(202);
    // Once the workers have settled the packages (waiting for a person counts as settled), there is room again.
    await settleAll();
    expect((await upload('user', 1, 'three')).statusCode).toBe(202);
  });

  it('refuses packages beyond USER_MAX_QUEUED_PACKAGES, counting only packages the upload adds to the queue', async () => {
    expect((await upload('user', 5, 'first')).statusCode).toBe(202);
    const before = await writeCounts(t.db);
    const res = await upload('user', 4, 'second');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('60');
    expect(res.json().error).toMatchObject({
      code: 'ERR_QUOTA_QUEUED_PACKAGES',
      details: { setting: 'USER_MAX_QUEUED_PACKAGES', limit: 8, queued_packages: 5, new_packages: 4 },
    });
    expect(await writeCounts(t.db)).toEqual(before);
    // The same packages again queue nothing new: accepted.
    const again = await upload('user', 5, 'first');
    expect(again.statusCode).toBe(202);
    expect(again.json().new_packages).toBe(0);
    // Up to the limit exactly is allowed.
    expect((await upload('user', 3, 'third')).statusCode).toBe(202);
    expect((await upload('user', 1, 'fourth')).statusCode).toBe(429);
    await settleAll();
    expect((await upload('user', 1, 'fourth')).statusCode).toBe(202);
  });

  it('counts two uploads sent at once one after the other, so they cannot both slip under the limit', async () => {
    const [a, b] = await Promise.all([upload('user', 5, 'race-a'), upload('user', 5, 'race-b')]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([202, 429]);
    const queued = await t.db.selectFrom('package_status').select('package_id').execute();
    expect(queued).toHaveLength(5);
  });
});
