import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@spm/db';
import { bearer, PASSWORD, setupApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());

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
