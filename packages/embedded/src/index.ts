import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { WireServer } from './wire-server.js';

export interface EmbeddedDatabaseOptions {
  /** Directory holding the database files (created if missing), e.g. `.data/pglite`. */
  dataDir: string;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Concurrent client connections accepted (default 64): the API and worker pools share them. */
  maxConnections?: number;
  /** Told about protocol failures that cost a client its connection. */
  onError?: (err: Error) => void;
}

export interface EmbeddedDatabase {
  /** A `postgres://` URL any pg client can connect to. */
  url: string;
  host: string;
  port: number;
  dataDir: string;
  /** Stops accepting connections, flushes and closes the database, and releases the data directory. Idempotent. */
  stop(): Promise<void>;
}

export class EmbeddedDatabaseError extends Error {
  constructor(
    readonly code: 'ERR_EMBEDDED_DB_LOCKED' | 'ERR_EMBEDDED_DB_START',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EmbeddedDatabaseError';
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite keeps the whole database in one process; two processes opening the same directory would
 * corrupt it. A pid file next to the data directory makes a second `pnpm start` fail with a clear
 * message instead. A pid file left by a crashed process is taken over.
 */
function acquireLock(dataDir: string): () => void {
  const lockFile = `${resolve(dataDir)}.pid`;
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    if (pid && pid !== process.pid && processAlive(pid)) {
      throw new EmbeddedDatabaseError(
        'ERR_EMBEDDED_DB_LOCKED',
        `The embedded database in ${dataDir} is already in use by process ${pid}. ` +
          'Stop that process first, or set DATABASE_URL to use a PostgreSQL server instead.',
      );
    }
  } catch (err) {
    if (err instanceof EmbeddedDatabaseError) throw err;
  }
  writeFileSync(lockFile, `${process.pid}\n`);
  return () => rmSync(lockFile, { force: true });
}

/**
 * Starts PGlite (PostgreSQL compiled to WebAssembly) on `dataDir` and serves it on a loopback TCP port
 * through the PostgreSQL wire protocol (see {@link WireServer}), so ordinary `pg` clients (the API, the
 * worker, psql) connect to it as to a server.
 *
 * Limits that callers must respect: PGlite is one backend. Statements from all connections run one at
 * a time, and while one connection has a transaction open every other connection waits, so code must
 * never wait on a second connection while holding a transaction. NOTIFY is not delivered between
 * connections: workers have to poll. Session settings are shared by all connections.
 */
export async function startEmbeddedDatabase(opts: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const host = opts.host ?? '127.0.0.1';
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = acquireLock(dataDir);

  let db: PGlite | undefined;
  let server: WireServer | undefined;
  let port: number;
  try {
    db = await PGlite.create({ dataDir });
    server = new WireServer(db, {
      host,
      port: opts.port ?? 0,
      maxConnections: opts.maxConnections ?? 64,
      onError: opts.onError,
    });
    port = await server.listen();
  } catch (err) {
    await server?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    releaseLock();
    throw new EmbeddedDatabaseError(
      'ERR_EMBEDDED_DB_START',
      `Could not start the embedded database in ${dataDir}: ${(err as Error).message}`,
      { cause: err },
    );
  }

  let stopping: Promise<void> | undefined;
  const runningDb = db;
  const runningServer = server;

  return {
    url: `postgres://postgres@${host}:${port}/postgres`,
    host,
    port,
    dataDir,
    stop() {
      stopping ??= (async () => {
        try {
          await runningServer.close();
        } finally {
          try {
            await runningDb.close();
          } finally {
            releaseLock();
          }
        }
      })();
      return stopping;
    },
  };
}

/** Where `pnpm start` keeps its embedded database and generated secrets, relative to the repository. */
export function defaultDataDir(root: string): string {
  return join(root, '.data', 'pglite');
}
