import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { findUserForLogin, passwordProblem } from '@spm/db';
import * as m0005 from '../../../packages/db/src/migrations/0005_access.js';
import { bearer, PASSWORD, setupApp, type TestApp } from './helpers.js';

/** Login limits per address, the password policy, and usernames unique regardless of case. */

let t: TestApp;
beforeAll(async () => {
  t = await setupApp({ LOGIN_RATE_LIMIT: '5', LOGIN_RATE_LIMIT_PER_ADDRESS: '8' });
});
afterAll(async () => t?.close());

const login = (username: string, password: string, remoteAddress = '203.0.113.7') =>
  t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password }, remoteAddress });

describe('login limits', () => {
  it('stops password spraying: many usernames from one address get 429 with Retry-After', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await login(`sprayed-${i}`, 'Summer2026!!!')).statusCode);
    expect(codes.slice(0, 8)).toEqual(Array(8).fill(401));
    expect(codes.slice(8)).toEqual(Array(4).fill(429));
    const r = await login('sprayed-99', 'Summer2026!!!');
    expect(r.statusCode).toBe(429);
    expect(r.json().error.code).toBe('ERR_RATE_LIMITED');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not affected, and neither is the web app's sign-in from it.
    expect((await login('test-user', PASSWORD, '203.0.113.8')).statusCode).toBe(200);
  });

  it('still limits one username from one address below the per-address limit', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await login('test-admin', 'wrong password!!', '203.0.113.9')).statusCode);
    expect(codes).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('counts the web app sign-in against the same address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/auth/session',
        payload: { username: `web-${i}`, password: 'not the password' },
        remoteAddress: '203.0.113.10',
      });
      statuses.push(r.statusCode);
    }
    expect(statuses.at(-1)).toBe(429);
  });
});

describe('password policy', () => {
  const create = (username: string, password: string) =>
    t.app.inject({
      method: 'POST',
      url: '/api/admin/users',
      headers: bearer(t.tokens.admin),
      payload: { username, password, role: 'admin' },
      remoteAddress: '198.51.100.1',
    });

  it.each([
    ['password', 'ERR_VALIDATION'],
    ['short pass', 'ERR_VALIDATION'],
    ['password1234', 'ERR_WEAK_PASSWORD'],
    ['QWERTY123456', 'ERR_WEAK_PASSWORD'],
    ['aaaaaaaaaaaaaaaa', 'ERR_WEAK_PASSWORD'],
    ['policy-admin-1', 'ERR_WEAK_PASSWORD'],
    ['my POLICY-ADMIN-1 secret', 'ERR_WEAK_PASSWORD'],
  ])('refuses %s for an admin (%s)', async (password, code) => {
    const r = await create('policy-admin-1', password);
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe(code);
  });

  it('accepts a long, unrelated password, and applies the same rule to a reset', async () => {
    const r = await create('policy-admin-2', 'velvet otter chooses maple');
    expect(r.statusCode, r.body).toBe(201);
    const reset = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/users/${r.json().id}`,
      headers: bearer(t.tokens.admin),
      payload: { password: 'policy-admin-2-again' },
    });
    expect(reset.statusCode).toBe(400);
    expect(reset.json().error.code).toBe('ERR_WEAK_PASSWORD');
  });

  it('names the rule (pure check)', () => {
    expect(passwordProblem('short', 'x')).toMatch(/at least 12/);
    expect(passwordProblem('alice-alice-alice', 'Alice')).toMatch(/username/);
    expect(passwordProblem('velvet otter chooses maple', 'alice')).toBeNull();
  });
});

describe('usernames regardless of case', () => {
  it('refuses Alice beside alice with 409, and signs in alice by any case', async () => {
    const create = (username: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/admin/users',
        headers: bearer(t.tokens.admin),
        payload: { username, password: 'velvet otter chooses maple', role: 'user' },
      });
    expect((await create('alice')).statusCode).toBe(201);
    const dup = await create('Alice');
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('ERR_USER_EXISTS');
    const r = await login('ALICE', 'velvet otter chooses maple', '198.51.100.2');
    expect(r.statusCode).toBe(200);
    expect(r.json().user.username).toBe('alice');
  });

  it('migration 0005 renames look-alikes already present: the oldest keeps its name, the audit log says so', async () => {
    await m0005.down(t.db);
    // The schema as it was before 0005 (no token_version): rows written as the old code wrote them.
    const insert = async (username: string) =>
      (
        await sql<{
          id: number;
        }>`INSERT INTO users (username, password_hash, role) VALUES (${username}, 'x', 'user') RETURNING id`.execute(
          t.db,
        )
      ).rows[0]!;
    const first = await insert('bob');
    const second = await insert('BOB');
    const third = await insert('Bob');
    await m0005.up(t.db);
    const names = await t.db
      .selectFrom('users')
      .select(['id', 'username', 'token_version'])
      .where('id', 'in', [first.id, second.id, third.id])
      .orderBy('id')
      .execute();
    expect(names).toEqual([
      { id: first.id, username: 'bob', token_version: 0 },
      { id: second.id, username: `BOB-${second.id}`, token_version: 1 },
      { id: third.id, username: `Bob-${third.id}`, token_version: 1 },
    ]);
    const audit = await t.db
      .selectFrom('audit_log')
      .select(['target_id', 'details'])
      .where('action', '=', 'user.renamed')
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { target_id: String(second.id), details: expect.objectContaining({ from: 'BOB', to: `BOB-${second.id}` }) },
      { target_id: String(third.id), details: expect.objectContaining({ from: 'Bob', to: `Bob-${third.id}` }) },
    ]);
    expect((await findUserForLogin(t.db, 'bob'))?.id).toBe(first.id);
    await expect(
      sql`INSERT INTO users (username, password_hash, role) VALUES ('BoB', 'x', 'user')`.execute(t.db),
    ).rejects.toThrow(/users_username_lower_key/);
  });
});
