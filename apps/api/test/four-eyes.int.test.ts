import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type PublicUser } from '@spm/db';
import { buildApp } from '../src/app.js';
import { bearer, generatedLockfile, PASSWORD, setStatus, setupApp, testConfig, type TestApp } from './helpers.js';

/** Four eyes: nobody approves a package only they requested; admins may override with a reason, audited. */

let t: TestApp;
let otherApprover: PublicUser;
let otherToken: string;
let n = 0;

beforeAll(async () => {
  t = await setupApp();
  otherApprover = await createUser(t.db, { username: 'second-approver', password: PASSWORD, role: 'approver' });
  otherToken = t.tokenFor(otherApprover);
});
afterAll(async () => t?.close());

/** Uploads a lockfile as `token` and puts its packages in Pending Approval; returns their ids. */
async function pendingFrom(token: string, prefix = `fe${++n}`, count = 2): Promise<number[]> {
  const r = await t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: bearer(token),
    payload: generatedLockfile(count, prefix),
  });
  expect(r.statusCode, r.body).toBe(202);
  const rows = await t.db
    .selectFrom('request_packages')
    .select('package_id')
    .where('request_id', '=', r.json().request_id)
    .orderBy('package_id')
    .execute();
  const ids = rows.map((x) => Number(x.package_id));
  await setStatus(t.db, ids, 'Pending Approval');
  return ids;
}

const decide = (token: string, id: number, decision: 'approve' | 'reject', body: Record<string, unknown> = {}) =>
  t.app.inject({ method: 'POST', url: `/api/approvals/${id}/${decision}`, headers: bearer(token), payload: body });

const statusOf = async (id: number) =>
  (await t.db.selectFrom('package_status').select('status').where('package_id', '=', id).executeTakeFirstOrThrow())
    .status;

describe('four eyes', () => {
  it('refuses an approver approving a package only they requested, naming the rule; another approver may', async () => {
    const [id] = await pendingFrom(t.tokens.approver);
    const r = await decide(t.tokens.approver, id!, 'approve', { reason: 'looks fine to me' });
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('ERR_FOUR_EYES');
    expect(r.json().error.message).toMatch(/four eyes/i);
    expect(await statusOf(id!)).toBe('Pending Approval');
    expect((await decide(otherToken, id!, 'approve', { reason: 'checked' })).statusCode).toBe(200);
    expect(await statusOf(id!)).toBe('Approved');
  });

  it('lets a requestor reject their own package (stopping is never a four-eyes matter)', async () => {
    const [id] = await pendingFrom(t.tokens.approver);
    expect((await decide(t.tokens.approver, id!, 'reject', { reason: 'not needed after all' })).statusCode).toBe(200);
  });

  it('allows the approval when another person also requested the package', async () => {
    const prefix = `shared${++n}`;
    const [id] = await pendingFrom(t.tokens.approver, prefix);
    await pendingFrom(t.tokens.user, prefix);
    expect((await decide(t.tokens.approver, id!, 'approve')).statusCode).toBe(200);
  });

  it('skips own packages in a batch with the rule named, and decides the rest', async () => {
    const own = await pendingFrom(t.tokens.approver);
    const theirs = await pendingFrom(t.tokens.user);
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/batch',
      headers: bearer(t.tokens.approver),
      payload: { package_ids: [...own, ...theirs], decision: 'approve', reason: 'batch' },
    });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ approved: theirs.length, skipped: own.length });
    for (const res of body.results.filter((x: { package_id: number }) => own.includes(x.package_id))) {
      expect(res).toMatchObject({ outcome: 'skipped', status: 'Pending Approval', rule: 'ERR_FOUR_EYES' });
    }
  });

  it('an admin may override with a reason, audited; without the flag an admin is held to the rule too', async () => {
    const [id] = await pendingFrom(t.tokens.admin);
    expect((await decide(t.tokens.admin, id!, 'approve')).json().error.code).toBe('ERR_FOUR_EYES');
    const noReason = await decide(t.tokens.admin, id!, 'approve', { override_four_eyes: true });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().error.code).toBe('ERR_REASON_REQUIRED');
    const ok = await decide(t.tokens.admin, id!, 'approve', {
      override_four_eyes: true,
      reason: 'single maintainer on call, reviewed the diff',
    });
    expect(ok.statusCode, ok.body).toBe(200);
    const entry = await t.db
      .selectFrom('audit_log')
      .select(['action', 'details'])
      .where('target_id', '=', String(id))
      .where('action', '=', 'package.approve')
      .executeTakeFirstOrThrow();
    expect(entry.details).toMatchObject({
      reason: 'single maintainer on call, reviewed the diff',
      four_eyes_override: true,
    });
  });

  it('an approver cannot override', async () => {
    const [id] = await pendingFrom(t.tokens.approver);
    const r = await decide(t.tokens.approver, id!, 'approve', { override_four_eyes: true, reason: 'trust me' });
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('ERR_FORBIDDEN');
    expect(await statusOf(id!)).toBe('Pending Approval');
  });

  it('APPROVAL_FOUR_EYES=false turns the rule off (a team of one)', async () => {
    const solo = await buildApp(testConfig(t.tdb.url, { APPROVAL_FOUR_EYES: 'false' }), { db: t.db, logger: false });
    try {
      const [id] = await pendingFrom(t.tokens.approver);
      const r = await solo.inject({
        method: 'POST',
        url: `/api/approvals/${id}/approve`,
        headers: bearer(solo.issueToken(t.users.approver).token),
        payload: {},
      });
      expect(r.statusCode, r.body).toBe(200);
    } finally {
      await solo.close();
    }
  });
});

describe('least information in the processing status', () => {
  it('a plain user sees only activity on their own packages and no worker hosts; admins see all', async () => {
    const mine = await pendingFrom(t.tokens.user, `mine${++n}`);
    const theirs = await pendingFrom(otherToken, `theirs${++n}`);
    await t.db
      .insertInto('package_events')
      .values(
        [...mine, ...theirs].map((id) => ({
          package_id: id,
          from_status: 'Security Scanned',
          to_status: 'Pending Approval',
          actor: 'worker',
          actor_kind: 'worker' as const,
          reason: 'scanned',
        })),
      )
      .execute();
    await t.db
      .insertInto('workers')
      .values({ id: 'build-host-7-4242-abc', hostname: 'build-host-7', pid: 4242, version: null, stopped_at: null })
      .execute();
    const status = async (token: string) =>
      (await t.app.inject({ method: 'GET', url: '/api/packages/processing/status', headers: bearer(token) })).json();

    const asUser = await status(t.tokens.user);
    const seen = new Set(asUser.recent_activity.map((a: { package_id: number }) => a.package_id));
    expect(mine.every((id) => seen.has(id))).toBe(true);
    expect(theirs.some((id) => seen.has(id))).toBe(false);
    expect(JSON.stringify(asUser.workers)).not.toContain('build-host-7');
    expect(asUser.workers[0]).not.toHaveProperty('pid');

    const asApprover = await status(t.tokens.approver);
    const all = new Set(asApprover.recent_activity.map((a: { package_id: number }) => a.package_id));
    expect(theirs.every((id) => all.has(id))).toBe(true);
    expect(JSON.stringify(asApprover.workers)).not.toContain('build-host-7');

    const asAdmin = await status(t.tokens.admin);
    expect(asAdmin.workers).toEqual(
      expect.arrayContaining([expect.objectContaining({ hostname: 'build-host-7', pid: 4242 })]),
    );
  });
});
