import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@spm/db';
import { buildApp } from '../src/app.js';
import { appCalls, bearer, PASSWORD, setupApp, testConfig, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());
const { auditActions } = appCalls(() => t);

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
