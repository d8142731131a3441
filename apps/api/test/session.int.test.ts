import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfTokenFor, CSRF_COOKIE, SESSION_COOKIE } from '../src/session.js';
import {
  expiredToken,
  generatedLockfile,
  JWT_SECRET,
  PASSWORD,
  setupApp,
  writeCounts,
  type TestApp,
} from './helpers.js';

/** The web app's credentials: an httpOnly session cookie set at sign-in, and a CSRF header on writes. */

let t: TestApp;

beforeAll(async () => {
  t = await setupApp({ LOGIN_RATE_LIMIT: '1000', LOGIN_RATE_LIMIT_PER_ADDRESS: '1000' });
});
afterAll(async () => t?.close());

function cookiesOf(res: { cookies: Array<{ name: string; value: string } & Record<string, unknown>> }) {
  return Object.fromEntries(res.cookies.map((c) => [c.name, c]));
}

async function signIn(username = 'test-user', headers: Record<string, string> = {}) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/auth/session',
    payload: { username, password: PASSWORD },
    headers,
  });
  expect(res.statusCode, res.body).toBe(200);
  const c = cookiesOf(res);
  return { res, session: c[SESSION_COOKIE]!, csrf: c[CSRF_COOKIE]!, body: res.json() };
}

describe('POST /api/auth/session', () => {
  it('sets an httpOnly, SameSite=Strict session cookie holding a working token, never in the body', async () => {
    const { res, session, csrf, body } = await signIn();
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(session.secure).toBeFalsy();
    expect(csrf).toMatchObject({ sameSite: 'Strict', path: '/' });
    expect(csrf.httpOnly).toBeFalsy();
    expect(csrf.value).toBe(body.csrf_token);
    expect(csrf.value).toBe(csrfTokenFor(JWT_SECRET, session.value));
    expect(res.body).not.toContain(session.value);
    expect(body.user).toMatchObject({ username: 'test-user', role: 'user' });
    // The cookie lives as long as the token (8 h by default), no longer.
    const expires = new Date(session.expires as Date).getTime();
    expect(expires).toBe(new Date(body.expires_at).getTime());
    expect(expires - Date.now()).toBeGreaterThan(7 * 3600_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(8 * 3600_000);

    const me = await t.app.inject({ method: 'GET', url: '/api/auth/me', cookies: { [SESSION_COOKIE]: session.value } });
    expect(me.statusCode).toBe(200);
    expect(me.json().username).toBe('test-user');
  });

  it('marks the cookies Secure when the API is reached over https', async () => {
    const proxied = await setupApp({ TRUST_PROXY: 'true' });
    try {
      const res = await proxied.app.inject({
        method: 'POST',
        url: '/api/auth/session',
        payload: { username: 'test-user', password: PASSWORD },
        headers: { 'x-forwarded-proto': 'https' },
      });
      const c = cookiesOf(res);
      expect(c[SESSION_COOKIE]!.secure).toBe(true);
      expect(c[CSRF_COOKIE]!.secure).toBe(true);
    } finally {
      await proxied.close();
    }
  });

  it('refuses a wrong password with 401 and sets no cookie', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/session',
      payload: { username: 'test-user', password: 'wrong password!' },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('ERR_INVALID_CREDENTIALS');
    expect(res.cookies).toHaveLength(0);
  });
});

describe('requests authenticated by the session cookie', () => {
  it('need the CSRF header to write: without it or with another session’s, 403 and nothing written', async () => {
    const a = await signIn();
    const b = await signIn('test-approver');
    const before = await writeCounts(t.db);
    for (const csrf of [undefined, b.csrf.value, '', 'x'.repeat(43)]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/packages/upload',
        cookies: { [SESSION_COOKIE]: a.session.value },
        headers: csrf === undefined ? {} : { 'x-csrf-token': csrf },
        payload: generatedLockfile(2, 'csrf'),
      });
      expect(res.statusCode, String(csrf)).toBe(403);
      expect(res.json().error.code).toBe('ERR_CSRF');
    }
    expect(await writeCounts(t.db)).toEqual(before);

    const ok = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      cookies: { [SESSION_COOKIE]: a.session.value },
      headers: { 'x-csrf-token': a.csrf.value },
      payload: generatedLockfile(2, 'csrf'),
    });
    expect(ok.statusCode, ok.body).toBe(202);
  });

  it('read without the CSRF header', async () => {
    const a = await signIn();
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/packages/requests',
      cookies: { [SESSION_COOKIE]: a.session.value },
    });
    expect(res.statusCode).toBe(200);
  });

  it('lose to an Authorization header: the bearer token decides who the caller is', async () => {
    const admin = await signIn('test-admin');
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/admin/users',
      cookies: { [SESSION_COOKIE]: admin.session.value },
      headers: { authorization: `Bearer ${t.tokens.user}` },
    });
    expect(res.statusCode).toBe(403);
  });

  it('answer 401 ERR_TOKEN_EXPIRED for a cookie holding an expired token', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/auth/me',
      cookies: { [SESSION_COOKIE]: expiredToken(t.users.user) },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('ERR_TOKEN_EXPIRED');
  });

  it('answer 401 for a cookie that is not a token of ours', async () => {
    for (const value of ['nonsense', expiredToken(t.users.admin, 'another-secret-another-secret-another')]) {
      const res = await t.app.inject({ method: 'GET', url: '/api/auth/me', cookies: { [SESSION_COOKIE]: value } });
      expect(res.statusCode).toBe(401);
    }
  });
});

describe('DELETE /api/auth/session', () => {
  it('expires both cookies', async () => {
    const a = await signIn();
    const res = await t.app.inject({
      method: 'DELETE',
      url: '/api/auth/session',
      cookies: { [SESSION_COOKIE]: a.session.value },
      headers: { 'x-csrf-token': a.csrf.value },
    });
    expect(res.statusCode).toBe(204);
    const c = cookiesOf(res);
    for (const name of [SESSION_COOKIE, CSRF_COOKIE]) {
      expect(c[name]!.value).toBe('');
      expect(new Date(c[name]!.expires as Date).getTime()).toBeLessThanOrEqual(Date.now());
    }
    expect(c[SESSION_COOKIE]!.httpOnly).toBe(true);
  });
});
