import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appCalls, bearer, generatedLockfile, PASSWORD, setStatus, setupApp, type TestApp } from './helpers.js';

let t: TestApp;
const { upload, packageIdsOf } = appCalls(() => t);

/** What the log holds: sign-ins by each role (twice), three uploads, an approval and a rejection. */
beforeAll(async () => {
  t = await setupApp();
  for (const role of ['user', 'approver', 'admin', 'user', 'approver', 'admin'] as const) {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { username: `test-${role}`, password: PASSWORD },
    });
    expect(r.statusCode).toBe(200);
  }
  const requests: number[] = [];
  for (const prefix of ['audit-a', 'audit-b', 'audit-c']) {
    requests.push((await upload(t.tokens.user, generatedLockfile(2, prefix))).json().request_id);
  }
  const [a, b] = await packageIdsOf(requests[0]!);
  await setStatus(t.db, [a!, b!], 'Pending Approval');
  for (const [id, decision] of [
    [a, 'approve'],
    [b, 'reject'],
  ] as const) {
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${id}/${decision}`,
      headers: bearer(t.tokens.approver),
      payload: { reason: 'audited' },
    });
    expect(r.statusCode, r.body).toBe(200);
  }
});
afterAll(async () => t?.close());

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
