import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.js';

// bigint (int8) columns such as ids and byte sizes fit comfortably in a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type DB = Kysely<Database>;

export interface CreateDbOptions {
  connectionString: string;
  /** Maximum pool size (default 10). */
  max?: number;
  /** Called for errors on idle clients (e.g. the server restarted); the pool replaces them. */
  onPoolError?: (err: Error) => void;
  applicationName?: string;
}

/**
 * Creates a Kysely instance over a pg Pool. An idle client that dies (server restart,
 * pg_terminate_backend) is reported to `onPoolError` instead of crashing the process.
 */
export function createDb(opts: CreateDbOptions): { db: DB; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'spm',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (err) => opts.onPoolError?.(err));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, pool };
}
