import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { APPROVE_ALL_POLICY, createDb, createPolicyVersion, hashPassword, type DB } from '@spm/db';
import { createTemplateDatabase, dropDatabase, withClient, withDatabase } from '@spm/db/testing';

/** The PostgreSQL server the benchmarks run on (DATABASE_URL, or the local default). */
export function serverUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
}

export interface BenchDatabase {
  name: string;
  url: string;
  db: DB;
  pool: pg.Pool;
  destroy(): Promise<void>;
}

/**
 * Databases for one bench run: a migrated template made once, and a fresh clone per benchmark so
 * each starts from an empty queue. Everything is dropped by `close()`.
 */
export class DatabaseFactory {
  private template: string | null = null;
  private readonly created: string[] = [];
  constructor(readonly server: string) {}

  async fresh(label: string): Promise<BenchDatabase> {
    if (!this.template) this.template = await createTemplateDatabase(this.server);
    const name = `spm_bench_${label}_${randomBytes(3).toString('hex')}`;
    await withClient(this.server, (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${this.template}"`));
    this.created.push(name);
    const url = withDatabase(this.server, name);
    const { db, pool } = createDb({ connectionString: url, max: 4, applicationName: 'spm-bench' });
    return {
      name,
      url,
      db,
      pool,
      destroy: async () => {
        await db.destroy().catch(() => undefined);
        await dropDatabase(this.server, name).catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    for (const name of this.created) await dropDatabase(this.server, name).catch(() => undefined);
    if (this.template) await dropDatabase(this.server, this.template).catch(() => undefined);
  }
}

/** Creates a user with a known password (roles as in DESIGN §3); returns its id. */
export async function createUser(
  db: DB,
  username: string,
  password: string,
  role: 'user' | 'approver' | 'admin',
): Promise<number> {
  const row = await db
    .insertInto('users')
    .values({ username, password_hash: await hashPassword(password), role })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Server facts for the report. */
export async function serverVersion(url: string): Promise<string> {
  return withClient(
    url,
    async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v,
  );
}

/**
 * Puts APPROVE_ALL_POLICY in force (a new policy version written by a bench admin), so the worker's
 * decide stage approves every package that is not malware and no person is involved: what the
 * benchmarks time is the gate, not a reviewer.
 */
export async function approveEverything(db: DB): Promise<void> {
  const username = `bench-policy-${randomBytes(3).toString('hex')}`;
  const userId = await createUser(db, username, 'bench-password-1', 'admin');
  await createPolicyVersion(db, {
    document: APPROVE_ALL_POLICY,
    comment: 'benchmark: approve everything',
    userId,
    username,
  });
}
