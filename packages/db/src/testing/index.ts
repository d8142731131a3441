import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type DB } from '../db.js';
import { migrateToLatest } from '../migrate.js';
import { seedLicenses } from '../seed.js';

/** Replaces the database name in a postgres URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs `fn` with a single client connected to `url` (for CREATE/DROP DATABASE and the like), then closes it. */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Creates and migrates (and seeds the licence policy in) a template database; returns its name. */
export async function createTemplateDatabase(serverUrl: string): Promise<string> {
  const name = `spm_tpl_${process.pid}_${randomBytes(3).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const { db } = createDb({ connectionString: withDatabase(serverUrl, name), max: 1 });
  try {
    const { error } = await migrateToLatest(db);
    if (error) throw error;
    await seedLicenses(db);
  } finally {
    await db.destroy();
  }
  return name;
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, async (c) => {
    await c.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [name],
    );
    await c.query(`DROP DATABASE IF EXISTS "${name}"`);
  });
}

export interface TestDatabase {
  name: string;
  url: string;
  db: DB;
  pool: pg.Pool;
  /** Closes the pool and drops the database. */
  destroy(): Promise<void>;
}

/**
 * A fresh database cloned from the migrated template (env SPM_TEST_SERVER_URL and SPM_TEST_TEMPLATE_DB,
 * set by the integration globalSetup). Each test file creates its own and destroys it afterwards.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.SPM_TEST_SERVER_URL;
  const template = process.env.SPM_TEST_TEMPLATE_DB;
  if (!serverUrl || !template) {
    throw new Error('integration tests need the globalSetup (SPM_TEST_SERVER_URL and SPM_TEST_TEMPLATE_DB are unset)');
  }
  const name = `spm_t_${randomBytes(5).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  const url = withDatabase(serverUrl, name);
  const { db, pool } = createDb({ connectionString: url, max: 10 });
  return {
    name,
    url,
    db,
    pool,
    async destroy() {
      await db.destroy().catch(() => undefined);
      await dropDatabase(serverUrl, name);
    },
  };
}
