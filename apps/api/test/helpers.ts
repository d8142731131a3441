import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createUser, type DB, type PublicUser, type Role } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildApp } from '../src/app.js';
import { loadConfig, type ApiConfig } from '../src/config.js';

export const JWT_SECRET = 'integration-test-secret-integration-test-secret';
export const PASSWORD = 'correct horse battery staple';

export interface TestApp {
  app: FastifyInstance;
  db: DB;
  tdb: TestDatabase;
  config: Readonly<ApiConfig>;
  users: Record<Role, PublicUser>;
  tokens: Record<Role, string>;
  /** A token for any user (signed by the app with its real secret and expiry). */
  tokenFor(user: { id: number; username: string; role: Role; tokenVersion?: number }): string;
  close(): Promise<void>;
}

export function testConfig(databaseUrl: string, env: Record<string, string> = {}): Readonly<ApiConfig> {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    JWT_SECRET,
    LOG_LEVEL: 'silent',
    LOG_FORMAT: 'json',
    PACKAGE_CACHE_DIR: '/tmp/spm-api-test-cache',
    ...env,
  });
}

/** A fresh database, the app built on it, and one user (with a token) per role. */
export async function setupApp(env: Record<string, string> = {}): Promise<TestApp> {
  const tdb = await createTestDatabase();
  const config = testConfig(tdb.url, env);
  const app = await buildApp(config, { db: tdb.db, logger: false });
  const users = {} as Record<Role, PublicUser>;
  const tokens = {} as Record<Role, string>;
  const tokenFor = (u: { id: number; username: string; role: Role; tokenVersion?: number }) =>
    app.issueToken({ ...u, tokenVersion: u.tokenVersion ?? 0 }).token;
  for (const role of ['user', 'approver', 'admin'] as const) {
    users[role] = await createUser(tdb.db, { username: `test-${role}`, password: PASSWORD, role });
    tokens[role] = tokenFor(users[role]);
  }
  return {
    app,
    db: tdb.db,
    tdb,
    config,
    users,
    tokens,
    tokenFor,
    async close() {
      await app.close();
      await tdb.destroy();
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** An HS256 JWT signed with the app's secret whose `exp` has passed: everything right but the time. */
export function expiredToken(user: { id: number; username: string; role: Role }, secret = JWT_SECRET): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: String(user.id), username: user.username, role: user.role, ver: 0, jti: '00000000-0000-4000-8000-000000000000', iat: now - 7200, exp: now - 3600 })}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** Row counts of every table an upload writes, to prove a rejected upload wrote nothing. */
const COUNTED = [
  'requests',
  'packages',
  'request_packages',
  'package_status',
  'package_events',
  'users',
  'supported_licenses',
  'audit_log',
] as const;

export async function writeCounts(db: DB): Promise<Record<(typeof COUNTED)[number], number>> {
  const out = {} as Record<(typeof COUNTED)[number], number>;
  for (const t of COUNTED) {
    const r = await db
      .selectFrom(t)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    out[t] = Number(r.n);
  }
  return out;
}

const SRI = (seed: string) => `sha512-${createHmac('sha512', 'fixture').update(seed).digest('base64')}`;

/** A synthetic v3 lockfile of `n` distinct packages named with `prefix`, some scoped and nested. */
export function generatedLockfile(n: number, prefix = 'pkg'): Record<string, unknown> {
  const packages: Record<string, unknown> = { '': { name: `${prefix}-app`, version: '1.0.0' } };
  for (let i = 0; i < n; i++) {
    const name = i % 10 === 0 ? `@${prefix}/scoped-${i}` : `${prefix}-${i}`;
    const path = i % 7 === 3 ? `node_modules/${prefix}-host/node_modules/${name}` : `node_modules/${name}`;
    const version = `1.${i % 13}.${i}`;
    packages[path] = {
      version,
      resolved: `https://registry.example.test/${name}/-/${name.split('/').pop()}-${version}.tgz`,
      integrity: SRI(`${name}@${version}`),
      license: 'MIT',
      ...(i % 5 === 0 ? { dev: true } : {}),
    };
  }
  return { name: `${prefix}-app`, version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

/** Moves packages straight to a status (as the worker would have), for tests of the read side. */
export async function setStatus(
  db: DB,
  packageIds: number[],
  status: string,
  patch: Record<string, unknown> = {},
): Promise<void> {
  await db
    .updateTable('package_status')
    .set({ status, locked_by: null, locked_until: null, ...patch })
    .where('package_id', 'in', packageIds)
    .execute();
}

/** A file of ./fixtures. */
export const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

/** A multipart/form-data body with text fields and, optionally, one file. */
export function multipart(
  fields: Record<string, string>,
  file?: { name: string; content: Buffer | string; field?: string },
) {
  const boundary = '----spmtest' + Math.random().toString(16).slice(2);
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  if (file) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? 'file'}"; filename="${file.name}"\r\nContent-Type: application/json\r\n\r\n`,
      ),
      Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content),
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/**
 * Calls most route tests make, on the app `get()` returns (the file's TestApp, set in its beforeAll):
 * upload a lockfile, the package ids of a request, and the audit log's actions in order.
 */
export function appCalls(get: () => TestApp) {
  return {
    upload(token: string, lockfile: unknown, query = ''): Promise<LightMyRequestResponse> {
      return get().app.inject({
        method: 'POST',
        url: `/api/packages/upload${query}`,
        headers: bearer(token),
        payload: lockfile as Record<string, unknown>,
      });
    },
    async packageIdsOf(requestId: number): Promise<number[]> {
      const rows = await get()
        .db.selectFrom('request_packages')
        .select('package_id')
        .where('request_id', '=', requestId)
        .orderBy('package_id')
        .execute();
      return rows.map((r) => r.package_id);
    },
    async auditActions(): Promise<string[]> {
      return (await get().db.selectFrom('audit_log').select('action').orderBy('id').execute()).map((r) => r.action);
    },
  };
}
