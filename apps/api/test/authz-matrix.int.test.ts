import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, createUser, DEFAULT_POLICY, updateUser, type ApiTokenScope, type Role } from '@spm/db';
import { csrfTokenFor, SESSION_COOKIE } from '../src/session.js';
import { bearer, expiredToken, generatedLockfile, JWT_SECRET, setupApp, type TestApp } from './helpers.js';

/**
 * Every route × every kind of caller. `min` is the least role a route needs; `ok` is the status an allowed
 * caller gets with the request below (chosen so it is deterministic for every allowed role).
 */
interface RouteCase {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The OpenAPI path (to check that the matrix covers every route). */
  path: string;
  url: () => string;
  min: Role | 'public';
  ok: number;
  payload?: () => unknown;
  /** The route ends the token it is called with (logout): each call gets a token of its own. */
  endsToken?: boolean;
  /** The API token scope the route accepts (default: read for GET, none for other methods; any: every token). */
  scope?: ApiTokenScope | 'any';
  /** The status an API token gets where it differs from a session's (`ok`). */
  okWithApiToken?: number;
}

let t: TestApp;
let requestId: number;
let packageId: number;
let packageSpec: { name: string; version: string };
let counter = 0;

const routes: RouteCase[] = [
  {
    method: 'POST',
    path: '/api/auth/login',
    url: () => '/api/auth/login',
    min: 'public',
    ok: 401,
    payload: () => ({ username: 'nobody', password: 'x' }),
  },
  {
    method: 'POST',
    path: '/api/auth/session',
    url: () => '/api/auth/session',
    min: 'public',
    ok: 401,
    payload: () => ({ username: 'nobody', password: 'x' }),
  },
  {
    method: 'DELETE',
    path: '/api/auth/session',
    url: () => '/api/auth/session',
    min: 'public',
    ok: 204,
    endsToken: true,
  },
  { method: 'POST', path: '/api/auth/logout', url: () => '/api/auth/logout', min: 'user', ok: 204, endsToken: true },
  { method: 'GET', path: '/api/auth/me', url: () => '/api/auth/me', min: 'user', ok: 200 },
  {
    // Revokes the API token it is sent with; a session is told to log out instead.
    method: 'DELETE',
    path: '/api/auth/tokens/current',
    url: () => '/api/auth/tokens/current',
    min: 'user',
    ok: 400,
    okWithApiToken: 204,
    endsToken: true,
    scope: 'any',
  },
  {
    method: 'POST',
    path: '/api/auth/tokens/',
    url: () => '/api/auth/tokens',
    min: 'user',
    ok: 201,
    payload: () => ({ name: `matrix-${++counter}`, scopes: ['read'] }),
  },
  // Token management needs a session: GET included, API tokens never list tokens.
  { method: 'GET', path: '/api/auth/tokens/', url: () => '/api/auth/tokens', min: 'user', ok: 200, scope: undefined },
  {
    method: 'DELETE',
    path: '/api/auth/tokens/{id}',
    url: () => '/api/auth/tokens/999999',
    min: 'user',
    ok: 404,
  },
  {
    method: 'POST',
    path: '/api/packages/upload',
    url: () => '/api/packages/upload',
    min: 'user',
    ok: 202,
    payload: () => generatedLockfile(3, 'matrix'),
    scope: 'submit',
  },
  { method: 'GET', path: '/api/packages/requests', url: () => '/api/packages/requests', min: 'user', ok: 200 },
  {
    method: 'GET',
    path: '/api/packages/requests/{id}',
    url: () => `/api/packages/requests/${requestId}`,
    min: 'user',
    ok: 200,
  },
  {
    method: 'GET',
    path: '/api/packages/requests/{id}/sbom',
    url: () => `/api/packages/requests/${requestId}/sbom`,
    min: 'user',
    ok: 200,
  },
  {
    method: 'PATCH',
    path: '/api/packages/requests/{id}',
    url: () => '/api/packages/requests/999999',
    min: 'user',
    ok: 404,
    payload: () => ({ priority: 'low' }),
  },
  {
    method: 'GET',
    path: '/api/packages/requests/{id}/processing-status',
    url: () => `/api/packages/requests/${requestId}/processing-status`,
    min: 'user',
    ok: 200,
  },
  {
    method: 'GET',
    path: '/api/packages/processing/status',
    url: () => '/api/packages/processing/status',
    min: 'user',
    ok: 200,
  },
  {
    method: 'POST',
    path: '/api/packages/processing/retry',
    url: () => '/api/packages/processing/retry',
    min: 'admin',
    ok: 200,
    payload: () => ({}),
  },
  {
    method: 'GET',
    path: '/api/packages/lookup',
    url: () => `/api/packages/lookup?${new URLSearchParams(packageSpec)}`,
    min: 'user',
    ok: 200,
  },
  {
    method: 'GET',
    path: '/api/packages/{packageId}/report',
    url: () => `/api/packages/${packageId}/report`,
    min: 'user',
    ok: 200,
  },
  { method: 'GET', path: '/api/approvals/pending', url: () => '/api/approvals/pending', min: 'approver', ok: 200 },
  {
    method: 'POST',
    path: '/api/approvals/{packageId}/approve',
    url: () => '/api/approvals/999999/approve',
    min: 'approver',
    ok: 404,
    payload: () => ({ reason: 'matrix' }),
  },
  {
    method: 'POST',
    path: '/api/approvals/{packageId}/reject',
    url: () => '/api/approvals/999999/reject',
    min: 'approver',
    ok: 404,
    payload: () => ({ reason: 'matrix' }),
  },
  {
    method: 'POST',
    path: '/api/approvals/batch',
    url: () => '/api/approvals/batch',
    min: 'approver',
    ok: 200,
    payload: () => ({ package_ids: [999999], decision: 'reject', reason: 'matrix' }),
  },
  { method: 'GET', path: '/api/admin/users/', url: () => '/api/admin/users', min: 'admin', ok: 200 },
  {
    method: 'POST',
    path: '/api/admin/users/',
    url: () => '/api/admin/users',
    min: 'admin',
    ok: 201,
    payload: () => ({ username: `matrix-${++counter}`, password: 'long enough password', role: 'user' }),
  },
  {
    method: 'PATCH',
    path: '/api/admin/users/{id}',
    url: () => `/api/admin/users/${t.users.user.id}`,
    min: 'admin',
    ok: 200,
    payload: () => ({ role: 'user' }),
  },
  { method: 'GET', path: '/api/admin/licenses/', url: () => '/api/admin/licenses', min: 'admin', ok: 200 },
  {
    method: 'POST',
    path: '/api/admin/licenses/',
    url: () => '/api/admin/licenses',
    min: 'admin',
    ok: 201,
    payload: () => ({ spdx_id: `LicenseRef-matrix-${++counter}`, name: 'Matrix', tier: 'avoid' }),
  },
  { method: 'GET', path: '/api/admin/licenses/{spdxId}', url: () => '/api/admin/licenses/MIT', min: 'admin', ok: 200 },
  {
    method: 'PATCH',
    path: '/api/admin/licenses/{spdxId}',
    url: () => '/api/admin/licenses/MIT',
    min: 'admin',
    ok: 200,
    payload: () => ({ notes: 'matrix' }),
  },
  {
    method: 'DELETE',
    path: '/api/admin/licenses/{spdxId}',
    url: () => '/api/admin/licenses/LicenseRef-absent',
    min: 'admin',
    ok: 404,
  },
  { method: 'GET', path: '/api/admin/audit/', url: () => '/api/admin/audit', min: 'admin', ok: 200 },
  { method: 'GET', path: '/api/admin/policy/', url: () => '/api/admin/policy', min: 'admin', ok: 200 },
  {
    method: 'PUT',
    path: '/api/admin/policy/',
    url: () => '/api/admin/policy',
    min: 'admin',
    ok: 200,
    payload: () => ({ document: DEFAULT_POLICY, comment: 'matrix' }),
  },
  { method: 'GET', path: '/api/admin/policy/versions', url: () => '/api/admin/policy/versions', min: 'admin', ok: 200 },
  {
    method: 'GET',
    path: '/api/admin/policy/versions/{version}',
    url: () => '/api/admin/policy/versions/1',
    min: 'admin',
    ok: 200,
  },
  {
    method: 'POST',
    path: '/api/admin/policy/dry-run',
    url: () => '/api/admin/policy/dry-run',
    min: 'admin',
    ok: 200,
    payload: () => ({ document: DEFAULT_POLICY }),
  },
  {
    method: 'POST',
    path: '/api/approvals/waivers',
    url: () => '/api/approvals/waivers',
    min: 'approver',
    ok: 201,
    payload: () => ({
      package_name: 'matrix-pkg',
      version_range: '*',
      kind: 'signal',
      subject: 'install_script',
      reason: 'matrix',
      owner: 'matrix',
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    }),
  },
  { method: 'GET', path: '/api/approvals/waivers', url: () => '/api/approvals/waivers', min: 'approver', ok: 200 },
  {
    method: 'DELETE',
    path: '/api/approvals/waivers/{id}',
    url: () => '/api/approvals/waivers/999999',
    min: 'approver',
    ok: 404,
  },
  {
    method: 'POST',
    path: '/api/approvals/cooldown-release',
    url: () => '/api/approvals/cooldown-release',
    min: 'approver',
    ok: 200,
    payload: () => ({ package_ids: [packageId], reason: 'matrix' }),
  },
  {
    method: 'GET',
    path: '/api/approvals/quarantine',
    url: () => '/api/approvals/quarantine',
    min: 'approver',
    ok: 200,
  },
  {
    // Not quarantined: the same 404 for every approver.
    method: 'POST',
    path: '/api/approvals/quarantine/{id}/release',
    url: () => `/api/approvals/quarantine/${packageId}/release`,
    min: 'approver',
    ok: 404,
    payload: () => ({ reason: 'matrix', expires_at: new Date(Date.now() + 86_400_000).toISOString() }),
  },
  {
    method: 'POST',
    path: '/api/approvals/quarantine/{id}/reject',
    url: () => `/api/approvals/quarantine/${packageId}/reject`,
    min: 'approver',
    ok: 404,
    payload: () => ({ reason: 'matrix' }),
  },
  {
    method: 'GET',
    path: '/api/impact/packages/{id}',
    url: () => `/api/impact/packages/${packageId}`,
    min: 'approver',
    ok: 200,
  },
  {
    method: 'GET',
    path: '/api/impact/advisories/{id}',
    url: () => '/api/impact/advisories/GHSA-none-none-none',
    min: 'approver',
    ok: 404,
  },
  { method: 'GET', path: '/api/admin/webhooks/', url: () => '/api/admin/webhooks', min: 'admin', ok: 200 },
  {
    // A loopback URL without WEBHOOK_ALLOW_PRIVATE: refused the same way for every admin.
    method: 'POST',
    path: '/api/admin/webhooks/',
    url: () => '/api/admin/webhooks',
    min: 'admin',
    ok: 400,
    payload: () => ({ url: 'http://127.0.0.1:9/hook', events: ['package.rejected'] }),
  },
  {
    method: 'PATCH',
    path: '/api/admin/webhooks/{id}',
    url: () => '/api/admin/webhooks/999999',
    min: 'admin',
    ok: 404,
    payload: () => ({ enabled: false }),
  },
  {
    method: 'DELETE',
    path: '/api/admin/webhooks/{id}',
    url: () => '/api/admin/webhooks/999999',
    min: 'admin',
    ok: 404,
  },
  {
    method: 'GET',
    path: '/api/admin/webhooks/{id}/deliveries',
    url: () => '/api/admin/webhooks/999999/deliveries',
    min: 'admin',
    ok: 404,
  },
  {
    method: 'POST',
    path: '/api/admin/webhooks/{id}/deliveries/{deliveryId}/redeliver',
    url: () => '/api/admin/webhooks/999999/deliveries/1/redeliver',
    min: 'admin',
    ok: 404,
  },
  {
    method: 'POST',
    path: '/api/admin/webhooks/{id}/ping',
    url: () => '/api/admin/webhooks/999999/ping',
    min: 'admin',
    ok: 404,
  },
  { method: 'GET', path: '/health', url: () => '/health', min: 'public', ok: 200 },
  { method: 'GET', path: '/ready', url: () => '/ready', min: 'public', ok: 200 },
  { method: 'GET', path: '/metrics', url: () => '/metrics', min: 'public', ok: 200 },
];

const RANK = { public: 0, user: 1, approver: 2, admin: 3 } as const;

/** What the web app sends: the session cookie, and the CSRF header derived from it. */
function sessionHeaders(token: string) {
  return { cookie: `${SESSION_COOKIE}=${token}`, 'x-csrf-token': csrfTokenFor(JWT_SECRET, token) };
}

beforeAll(async () => {
  // The login route is called many times here from one address; its rate limit has its own test.
  t = await setupApp({ LOGIN_RATE_LIMIT: '1000', LOGIN_RATE_LIMIT_PER_ADDRESS: '1000' });
  const up = await t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: bearer(t.tokens.user),
    payload: generatedLockfile(5, 'seed'),
  });
  requestId = up.json().request_id;
  const pkg = await t.db
    .selectFrom('request_packages as rp')
    .innerJoin('packages as p', 'p.id', 'rp.package_id')
    .select(['rp.package_id', 'p.name', 'p.version'])
    .where('rp.request_id', '=', requestId)
    .executeTakeFirstOrThrow();
  packageId = pkg.package_id;
  packageSpec = { name: pkg.name, version: pkg.version };
});
afterAll(async () => t?.close());

it('covers every route of the OpenAPI document under /api and the ops endpoints', async () => {
  const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  const documented = Object.entries(doc.paths)
    .filter(([p]) => p.startsWith('/api/') || ['/health', '/ready', '/metrics'].includes(p))
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
  expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(documented);
});

describe.each(routes)('$method $path', (route) => {
  const call = (headers: Record<string, string>) =>
    t.app.inject({
      method: route.method,
      url: route.url(),
      headers,
      ...(route.payload ? { payload: route.payload() as Record<string, unknown> } : {}),
    });
  const denied = route.min === 'public' ? route.ok : 401;
  const tokenOf = (role: Role) => (route.endsToken ? t.tokenFor(t.users[role]) : t.tokens[role]);

  it('without a token', async () => {
    const r = await call({});
    expect(r.statusCode).toBe(denied);
    if (route.min !== 'public') expect(r.json().error.code).toBe('ERR_UNAUTHORIZED');
  });

  it('with a malformed token', async () => {
    for (const authorization of [
      'Bearer not-a-jwt',
      'Bearer a.b.c',
      'Basic dXNlcjpwYXNz',
      'Bearer',
      `Bearer ${t.tokens.admin}x`,
    ]) {
      const r = await call({ authorization });
      expect(r.statusCode, authorization).toBe(denied);
    }
  });

  it('with a token signed by another secret', async () => {
    expect(await call(bearer(expiredToken(t.users.admin, 'another-secret-another-secret-another')))).toMatchObject({
      statusCode: denied,
    });
  });

  it('with an expired token', async () => {
    const r = await call(bearer(expiredToken(t.users.admin)));
    expect(r.statusCode).toBe(denied);
    if (route.min !== 'public') expect(r.json().error.code).toBe('ERR_TOKEN_EXPIRED');
  });

  it('with the token of a disabled admin', async () => {
    const u = await createUser(t.db, {
      username: `disabled-${++counter}`,
      password: 'long enough password',
      role: 'admin',
    });
    const token = t.tokenFor(u);
    await updateUser(t.db, u.id, { disabled: true });
    expect((await call(bearer(token))).statusCode).toBe(denied);
  });

  for (const role of ['user', 'approver', 'admin'] as const) {
    const allowed = RANK[role] >= RANK[route.min];
    it(`as ${role}: ${allowed ? route.ok : 403}`, async () => {
      const r = await call(bearer(tokenOf(role)));
      expect(r.statusCode, r.body).toBe(allowed ? route.ok : 403);
      if (!allowed) expect(r.json().error.code).toBe('ERR_FORBIDDEN');
    });

    it(`as ${role} through the web app's session cookie and CSRF header: ${allowed ? route.ok : 403}`, async () => {
      const r = await call(sessionHeaders(tokenOf(role)));
      expect(r.statusCode, r.body).toBe(allowed ? route.ok : 403);
    });
  }

  if (route.min !== 'public' && route.method !== 'GET') {
    it('through the session cookie without the CSRF header: 403 ERR_CSRF, whatever the role', async () => {
      for (const role of ['user', 'admin'] as const) {
        const { cookie } = sessionHeaders(tokenOf(role));
        for (const headers of [
          { cookie } as Record<string, string>,
          { cookie, 'x-csrf-token': csrfTokenFor(JWT_SECRET, t.tokens.user + 'x') },
        ]) {
          const r = await call(headers);
          expect(r.statusCode, r.body).toBe(403);
          expect(r.json().error.code).toBe('ERR_CSRF');
        }
      }
    });
  }
});

/** The scope an API token needs for the route, or null when API tokens are refused there. */
const scopeOf = (route: RouteCase): ApiTokenScope | 'any' | null =>
  'scope' in route ? (route.scope ?? null) : route.method === 'GET' ? 'read' : null;

const SCOPE_SETS: ApiTokenScope[][] = [['read'], ['submit'], ['registry'], ['submit', 'read', 'registry']];
const apiTokens = new Map<string, string>();
const apiToken = async (role: 'user' | 'admin', scopes: ApiTokenScope[], fresh = false) => {
  const key = fresh ? `${role}:${scopes.join('+')}:${++counter}` : `${role}:${scopes.join('+')}`;
  let token = apiTokens.get(key);
  if (!token) {
    token = (
      await createApiToken(t.db, {
        userId: t.users[role].id,
        name: `matrix-${key}`,
        scopes,
        expiresAt: new Date(Date.now() + 3_600_000),
      })
    ).secret;
    apiTokens.set(key, token);
  }
  return token;
};

describe.each(routes)('API tokens: $method $path', (route) => {
  const call = (token: string) =>
    t.app.inject({
      method: route.method,
      url: route.url(),
      headers: bearer(token),
      ...(route.payload ? { payload: route.payload() as Record<string, unknown> } : {}),
    });
  const needed = scopeOf(route);
  const ok = route.okWithApiToken ?? route.ok;
  const fresh = Boolean(route.endsToken);

  for (const scopes of SCOPE_SETS) {
    const fits = route.min === 'public' || needed === 'any' || (needed !== null && scopes.includes(needed));
    it(`an admin's token with ${scopes.join(', ')}: ${fits ? ok : '403 ERR_TOKEN_SCOPE'}`, async () => {
      const r = await call(await apiToken('admin', scopes, fresh));
      expect(r.statusCode, r.body).toBe(fits ? ok : 403);
      if (!fits) expect(r.json().error.code).toBe('ERR_TOKEN_SCOPE');
    });
  }

  it("a plain user's token with every scope keeps the user's role", async () => {
    const r = await call(await apiToken('user', ['submit', 'read', 'registry'], fresh));
    if (route.min === 'public') return expect(r.statusCode).toBe(ok);
    if (needed === null) {
      expect(r.statusCode).toBe(403);
      return expect(r.json().error.code).toBe('ERR_TOKEN_SCOPE');
    }
    const allowed = RANK.user >= RANK[route.min];
    expect(r.statusCode, r.body).toBe(allowed ? ok : 403);
    if (!allowed) expect(r.json().error.code).toBe('ERR_FORBIDDEN');
  });
});

it('a user can never approve, reject, retry or edit policy, even for their own packages', async () => {
  await t.db
    .updateTable('package_status')
    .set({ status: 'Pending Approval' })
    .where('package_id', '=', packageId)
    .execute();
  const h = bearer(t.tokens.user);
  const attempts = [
    t.app.inject({
      method: 'POST',
      url: `/api/approvals/${packageId}/approve`,
      headers: h,
      payload: { reason: 'mine' },
    }),
    t.app.inject({
      method: 'POST',
      url: `/api/approvals/${packageId}/reject`,
      headers: h,
      payload: { reason: 'mine' },
    }),
    t.app.inject({
      method: 'POST',
      url: '/api/approvals/batch',
      headers: h,
      payload: { package_ids: [packageId], decision: 'approve' },
    }),
    t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: h,
      payload: { request_id: requestId },
    }),
    t.app.inject({ method: 'PATCH', url: '/api/admin/licenses/MIT', headers: h, payload: { tier: 'blocked' } }),
    t.app.inject({ method: 'DELETE', url: '/api/admin/licenses/MIT?force=true', headers: h }),
    t.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${t.users.user.id}`,
      headers: h,
      payload: { role: 'admin' },
    }),
  ];
  for (const r of await Promise.all(attempts)) expect(r.statusCode).toBe(403);
  const st = await t.db
    .selectFrom('package_status')
    .select('status')
    .where('package_id', '=', packageId)
    .executeTakeFirstOrThrow();
  expect(st.status).toBe('Pending Approval');
  const mit = await t.db
    .selectFrom('supported_licenses')
    .select('tier')
    .where('spdx_id', '=', 'MIT')
    .executeTakeFirstOrThrow();
  expect(mit.tier).toBe('always_allowed');
  const me = await t.db.selectFrom('users').select('role').where('id', '=', t.users.user.id).executeTakeFirstOrThrow();
  expect(me.role).toBe('user');
});

it('a role change ends existing tokens at once; a new token carries the new role', async () => {
  const u = await createUser(t.db, {
    username: `promoted-${++counter}`,
    password: 'long enough password',
    role: 'user',
  });
  const token = t.tokenFor(u);
  expect(
    (await t.app.inject({ method: 'GET', url: '/api/approvals/pending', headers: bearer(token) })).statusCode,
  ).toBe(403);
  const promoted = await updateUser(t.db, u.id, { role: 'approver' });
  const old = await t.app.inject({ method: 'GET', url: '/api/approvals/pending', headers: bearer(token) });
  expect(old.statusCode).toBe(401);
  expect(old.json().error.code).toBe('ERR_TOKEN_REVOKED');
  expect(
    (await t.app.inject({ method: 'GET', url: '/api/approvals/pending', headers: bearer(t.tokenFor(promoted!)) }))
      .statusCode,
  ).toBe(200);
});

it('protects the HEAD twin of every GET route the same way', async () => {
  for (const route of routes.filter((r) => r.method === 'GET' && r.min !== 'public')) {
    expect((await t.app.inject({ method: 'HEAD', url: route.url() })).statusCode, route.path).toBe(401);
    const expected = RANK.user >= RANK[route.min] ? 200 : 403;
    expect(
      (await t.app.inject({ method: 'HEAD', url: route.url(), headers: bearer(t.tokens.user) })).statusCode,
      route.path,
    ).toBe(expected);
  }
});
