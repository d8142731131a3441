import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createUser, type PublicUser } from '@spm/db';
import { bearer, generatedLockfile, PASSWORD, setupApp, type TestApp } from './helpers.js';

/*
 * API tokens: created by a signed-in user for themselves, shown once, stored as a hash, listed without the
 * secret, revoked; used as `Authorization: Bearer spm_…` within their scopes; ended like session tokens by
 * a password change or disabling; never able to manage tokens themselves.
 */

let t: TestApp;
let owner: PublicUser;
let ownerSession: string;
let n = 0;

beforeAll(async () => {
  t = await setupApp();
  owner = await createUser(t.db, { username: 'token-owner', password: PASSWORD, role: 'user' });
  ownerSession = t.tokenFor(owner);
});
afterAll(async () => t?.close());

const create = (body: Record<string, unknown>, auth = ownerSession) =>
  t.app.inject({ method: 'POST', url: '/api/auth/tokens', headers: bearer(auth), payload: body });

async function newToken(scopes: string[], auth = ownerSession): Promise<{ id: number; token: string }> {
  const res = await create({ name: `ci-${++n}`, scopes }, auth);
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

const get = (url: string, auth: string) => t.app.inject({ method: 'GET', url, headers: bearer(auth) });
const upload = (auth: string, prefix: string) =>
  t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: bearer(auth),
    payload: generatedLockfile(2, prefix),
  });

describe('creating, listing and revoking', () => {
  it('shows the secret once, stores only its SHA-256, and lists the token without it', async () => {
    const res = await create({ name: 'CI pipeline', scopes: ['submit', 'read'], expires_in_days: 30 });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.token).toMatch(/^spm_[A-Za-z0-9_-]{43}$/);
    expect(body).toMatchObject({ name: 'CI pipeline', scopes: ['submit', 'read'], prefix: body.token.slice(0, 12) });
    const days = (Date.parse(body.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);

    const row = await t.db.selectFrom('api_tokens').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(createHash('sha256').update(body.token).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(body.token);
    const audit = await sql<{ details: unknown }>`SELECT details FROM audit_log WHERE action = 'token.create'`.execute(
      t.db,
    );
    expect(audit.rows).toHaveLength(1);
    expect(JSON.stringify(audit.rows)).not.toContain(body.token.slice(4));

    const list = await get('/api/auth/tokens', ownerSession);
    expect(list.statusCode).toBe(200);
    expect(list.json().tokens.map((x: { id: number }) => x.id)).toContain(body.id);
    expect(list.body).not.toContain(body.token);
  });

  it('refuses bad bodies with a 400 and a code, and a second live token of the same name with 409', async () => {
    for (const payload of [
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['admin'] },
      { name: 'x', scopes: ['read', 'read'] },
      { name: 'x', scopes: ['read'], expires_in_days: 0 },
      { name: 'x', scopes: ['read'], expires_in_days: 367 },
      { name: '', scopes: ['read'] },
      { scopes: ['read'] },
      { name: 'x', scopes: ['read'], extra: 1 },
    ]) {
      const res = await create(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toMatch(/^ERR_/);
    }
    const nul = await create({ name: 'a\u0000b', scopes: ['read'] });
    expect(nul.json().error.code).toBe('ERR_CONTROL_CHARACTER');
    expect((await create({ name: 'Deploy', scopes: ['read'] })).statusCode).toBe(201);
    const dup = await create({ name: 'deploy', scopes: ['submit'] });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('ERR_TOKEN_NAME_EXISTS');
  });

  it('revokes a token at once; another user cannot revoke or see it', async () => {
    const { id, token } = await newToken(['read']);
    expect((await get('/api/auth/me', token)).statusCode).toBe(200);
    const other = await t.app.inject({
      method: 'DELETE',
      url: `/api/auth/tokens/${id}`,
      headers: bearer(t.tokens.admin),
    });
    expect(other.statusCode).toBe(404);
    expect((await get('/api/auth/tokens', t.tokens.admin)).json().tokens).toEqual([]);

    const del = await t.app.inject({ method: 'DELETE', url: `/api/auth/tokens/${id}`, headers: bearer(ownerSession) });
    expect(del.statusCode).toBe(204);
    const after = await get('/api/auth/me', token);
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('ERR_TOKEN_REVOKED');
    expect((await get('/api/auth/tokens', ownerSession)).json().tokens.map((x: { id: number }) => x.id)).not.toContain(
      id,
    );
    const again = await t.app.inject({
      method: 'DELETE',
      url: `/api/auth/tokens/${id}`,
      headers: bearer(ownerSession),
    });
    expect(again.statusCode).toBe(404);
    // The name is free again.
    const revokedName = (
      await t.db.selectFrom('api_tokens').select('name').where('id', '=', id).executeTakeFirstOrThrow()
    ).name;
    expect((await create({ name: revokedName, scopes: ['read'] })).statusCode).toBe(201);
  });
});

describe('using a token', () => {
  it('acts as its user within its scopes: read for GET, submit for the upload', async () => {
    const read = (await newToken(['read'])).token;
    const me = await get('/api/auth/me', read);
    expect(me.statusCode).toBe(200);
    expect(me.json().username).toBe('token-owner');
    const refused = await upload(read, 'read-only');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({ code: 'ERR_TOKEN_SCOPE', details: { required: 'submit' } });

    const submit = (await newToken(['submit'])).token;
    const up = await upload(submit, 'by-token');
    expect(up.statusCode).toBe(202);
    const req = await t.db
      .selectFrom('requests')
      .select('requestor_id')
      .where('id', '=', up.json().request_id)
      .executeTakeFirstOrThrow();
    expect(req.requestor_id).toBe(owner.id);
    expect((await get('/api/packages/requests', submit)).json().error.code).toBe('ERR_TOKEN_SCOPE');
  });

  it('cannot create, list or revoke tokens, log out, or do anything else a session does', async () => {
    const all = (await newToken(['submit', 'read', 'registry'])).token;
    for (const res of [
      await create({ name: 'minted', scopes: ['read'] }, all),
      await get('/api/auth/tokens', all),
      await t.app.inject({ method: 'DELETE', url: '/api/auth/tokens/1', headers: bearer(all) }),
      await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(all) }),
      await t.app.inject({
        method: 'PATCH',
        url: '/api/packages/requests/1',
        headers: bearer(all),
        payload: { priority: 'low' },
      }),
    ]) {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error.code).toBe('ERR_TOKEN_SCOPE');
    }
  });

  it('may revoke itself (DELETE /api/auth/tokens/current) whatever its scopes, and nothing else', async () => {
    const mine = await newToken(['registry']);
    const other = await newToken(['read']);
    const del = (auth: string) =>
      t.app.inject({ method: 'DELETE', url: '/api/auth/tokens/current', headers: bearer(auth) });
    const res = await del(mine.token);
    expect(res.statusCode, res.body).toBe(204);
    expect((await get('/api/auth/me', mine.token)).json().error.code).toBe('ERR_TOKEN_REVOKED');
    expect((await get('/api/auth/me', other.token)).statusCode).toBe(200);
    expect((await del(mine.token)).json().error.code).toBe('ERR_TOKEN_REVOKED');
    // A session is not an API token: it ends with POST /api/auth/logout.
    const session = await del(ownerSession);
    expect(session.statusCode).toBe(400);
    expect(session.json().error.code).toBe('ERR_NOT_API_TOKEN');
    const audit = await sql<{ target_id: string }>`
      SELECT target_id FROM audit_log WHERE action = 'token.revoke' AND details->>'by' = 'itself'`.execute(t.db);
    expect(audit.rows.map((r) => Number(r.target_id))).toEqual([mine.id]);
  });

  it('is refused when expired, forged or unknown', async () => {
    const { id, token } = await newToken(['read']);
    await t.db
      .updateTable('api_tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', id)
      .execute();
    const expired = await get('/api/auth/me', token);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe('ERR_TOKEN_EXPIRED');
    for (const forged of [`spm_${'A'.repeat(43)}`, 'spm_short', `${token}x`]) {
      const r = await get('/api/auth/me', forged);
      expect(r.statusCode, forged).toBe(401);
      expect(r.json().error.code).toBe('ERR_UNAUTHORIZED');
    }
  });

  it('is ended by a password change and by disabling, and enabling again does not revive it', async () => {
    const u = await createUser(t.db, { username: `ended-${++n}`, password: PASSWORD, role: 'user' });
    const session = t.tokenFor(u);
    const first = (await newToken(['read'], session)).token;
    expect((await get('/api/auth/me', first)).statusCode).toBe(200);
    const patch = (payload: Record<string, unknown>) =>
      t.app.inject({ method: 'PATCH', url: `/api/admin/users/${u.id}`, headers: bearer(t.tokens.admin), payload });
    expect((await patch({ password: 'another long passphrase' })).statusCode).toBe(200);
    expect((await get('/api/auth/me', first)).json().error.code).toBe('ERR_TOKEN_REVOKED');

    const fresh = t.tokenFor({ ...u, tokenVersion: u.tokenVersion + 1 });
    const second = (await newToken(['read'], fresh)).token;
    expect((await get('/api/auth/me', second)).statusCode).toBe(200);
    expect((await patch({ disabled: true })).statusCode).toBe(200);
    expect((await get('/api/auth/me', second)).statusCode).toBe(401);
    expect((await patch({ disabled: false })).statusCode).toBe(200);
    const revived = await get('/api/auth/me', second);
    expect(revived.statusCode).toBe(401);
    expect(revived.json().error.code).toBe('ERR_TOKEN_REVOKED');
  });
});
