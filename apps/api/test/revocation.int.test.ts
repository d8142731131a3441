import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, type PublicUser } from '@spm/db';
import { SESSION_COOKIE } from '../src/session.js';
import { bearer, JWT_SECRET, PASSWORD, setupApp, type TestApp } from './helpers.js';

/** Tokens end when they should: password change, disable, role change and logout; `exp` is required. */

let t: TestApp;
let n = 0;

beforeAll(async () => {
  t = await setupApp({ LOGIN_RATE_LIMIT: '1000', LOGIN_RATE_LIMIT_PER_ADDRESS: '1000' });
});
afterAll(async () => t?.close());

async function freshUser(role: 'user' | 'approver' | 'admin' = 'user'): Promise<PublicUser> {
  return createUser(t.db, { username: `revoke-${role}-${++n}`, password: PASSWORD, role });
}

async function login(username: string): Promise<string> {
  const r = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: PASSWORD } });
  expect(r.statusCode, r.body).toBe(200);
  return r.json().token as string;
}

async function sessionCookie(username: string): Promise<{ session: string; csrf: string }> {
  const r = await t.app.inject({ method: 'POST', url: '/api/auth/session', payload: { username, password: PASSWORD } });
  expect(r.statusCode, r.body).toBe(200);
  const c = Object.fromEntries(r.cookies.map((x) => [x.name, x.value]));
  return { session: c[SESSION_COOKIE]!, csrf: r.json().csrf_token as string };
}

const me = (headers: Record<string, string>, cookies?: Record<string, string>) =>
  t.app.inject({ method: 'GET', url: '/api/auth/me', headers, ...(cookies ? { cookies } : {}) });

async function patchUser(id: number, patch: Record<string, unknown>) {
  const r = await t.app.inject({
    method: 'PATCH',
    url: `/api/admin/users/${id}`,
    headers: bearer(t.tokens.admin),
    payload: patch,
  });
  expect(r.statusCode, r.body).toBe(200);
}

function expectRevoked(r: { statusCode: number; json(): { error: { code: string } } }) {
  expect(r.statusCode).toBe(401);
  expect(r.json().error.code).toBe('ERR_TOKEN_REVOKED');
}

describe('ending every earlier token', () => {
  it('a password change ends the bearer token and the session cookie; the new password signs in', async () => {
    const u = await freshUser();
    const token = await login(u.username);
    const { session } = await sessionCookie(u.username);
    expect((await me(bearer(token))).statusCode).toBe(200);
    await patchUser(u.id, { password: 'a new and long password' });
    expectRevoked(await me(bearer(token)));
    expectRevoked(await me({}, { [SESSION_COOKIE]: session }));
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { username: u.username, password: 'a new and long password' },
    });
    expect((await me(bearer(r.json().token))).statusCode).toBe(200);
  });

  it('disabling ends the token and enabling again does not revive it', async () => {
    const u = await freshUser();
    const token = await login(u.username);
    await patchUser(u.id, { disabled: true });
    expect((await me(bearer(token))).statusCode).toBe(401);
    await patchUser(u.id, { disabled: false });
    expectRevoked(await me(bearer(token)));
    expect((await me(bearer(await login(u.username)))).statusCode).toBe(200);
  });

  it('a role change ends the token (a demoted approver cannot keep acting on an old one)', async () => {
    const u = await freshUser('approver');
    const token = await login(u.username);
    await patchUser(u.id, { role: 'user' });
    expectRevoked(await me(bearer(token)));
    const fresh = await login(u.username);
    expect((await me(bearer(fresh))).json().role).toBe('user');
  });

  it('a patch that changes nothing that matters keeps tokens (re-enabling an enabled user)', async () => {
    const u = await freshUser();
    const token = await login(u.username);
    await patchUser(u.id, { disabled: false });
    await patchUser(u.id, { role: 'user' });
    expect((await me(bearer(token))).statusCode).toBe(200);
  });
});

describe('logout', () => {
  it('POST /api/auth/logout ends that bearer token only', async () => {
    const u = await freshUser();
    const a = await login(u.username);
    const b = await login(u.username);
    const out = await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(a) });
    expect(out.statusCode).toBe(204);
    expectRevoked(await me(bearer(a)));
    expect((await me(bearer(b))).statusCode).toBe(200);
    // Logging out twice is refused like any other use of an ended token.
    expectRevoked(await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(a) }));
  });

  it('DELETE /api/auth/session ends the cookie token even if someone kept a copy of the cookie', async () => {
    const u = await freshUser();
    const { session, csrf } = await sessionCookie(u.username);
    const out = await t.app.inject({
      method: 'DELETE',
      url: '/api/auth/session',
      cookies: { [SESSION_COOKIE]: session },
      headers: { 'x-csrf-token': csrf },
    });
    expect(out.statusCode).toBe(204);
    expectRevoked(await me({}, { [SESSION_COOKIE]: session }));
    // The same token as a bearer header is ended too: one token, two ways of sending it.
    expectRevoked(await me(bearer(session)));
  });
});

describe('token claims', () => {
  const sign = (claims: Record<string, unknown>) => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${head}.${createHmac('sha256', JWT_SECRET).update(head).digest('base64url')}`;
  };

  it('refuses a correctly signed token without exp', async () => {
    const u = t.users.admin;
    const claims = { sub: String(u.id), username: u.username, role: u.role, ver: 0, jti: crypto.randomUUID() };
    const r = await me(bearer(sign(claims)));
    expect(r.statusCode).toBe(401);
    expect(r.json().error.code).toBe('ERR_UNAUTHORIZED');
    // The same claims with an exp are accepted: the refusal is about exp, not the signature.
    const ok = await me(bearer(sign({ ...claims, exp: Math.floor(Date.now() / 1000) + 60 })));
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('refuses a correctly signed token without a token id or version (tokens issued before revocation existed)', async () => {
    const u = t.users.admin;
    const exp = Math.floor(Date.now() / 1000) + 60;
    for (const claims of [
      { sub: String(u.id), username: u.username, role: u.role, exp, ver: 0 },
      { sub: String(u.id), username: u.username, role: u.role, exp, jti: crypto.randomUUID() },
      { sub: String(u.id), username: u.username, role: u.role, exp, ver: 0, jti: 'not-a-uuid' },
    ]) {
      expect((await me(bearer(sign(claims)))).statusCode).toBe(401);
    }
  });
});
