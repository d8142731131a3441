import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Status,
  claimPackages,
  completeStage,
  createDb,
  enqueueLockfile,
  getProcessingStatus,
  migrateToLatest,
  seedDevUsers,
  seedLicenses,
  type DB,
  type LockfilePackage,
} from '@spm/db';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../src/index.js';

// What `pnpm start` relies on when there is no DATABASE_URL: the product's own migrations and queue SQL
// running through PGlite over the wire protocol, from several pg connections at once.

let dir: string;
let edb: EmbeddedDatabase;
let db: DB;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'spm-embedded-'));
  edb = await startEmbeddedDatabase({ dataDir: join(dir, 'pglite') });
  db = createDb({ connectionString: edb.url, max: 8 }).db;
});

afterAll(async () => {
  await db?.destroy();
  await edb?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function pkgs(n: number, prefix: string): LockfilePackage[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}-${i}`,
    version: '1.0.0',
    integrity: null,
    resolved: null,
    license: 'MIT',
    dev: false,
    optional: false,
  }));
}

describe('embedded database (PGlite over the wire protocol)', () => {
  it('applies every migration and the seeds through a pg client', async () => {
    const { error, results } = await migrateToLatest(db);
    expect(error).toBeUndefined();
    expect(results?.every((r) => r.status === 'Success')).toBe(true);
    expect(await seedLicenses(db)).toBeGreaterThan(20);
    const users = await seedDevUsers(db);
    expect(users.map((u) => u.role).sort()).toEqual(['admin', 'approver', 'user']);
    // A second run is a no-op, as on every `pnpm start` after the first.
    const again = await migrateToLatest(db);
    expect(again.error).toBeUndefined();
    expect(again.results).toEqual([]);
  });

  it('runs multi-statement SQL sent as one simple query', async () => {
    const c = new pg.Client({ connectionString: edb.url });
    await c.connect();
    try {
      await c.query(
        'CREATE TABLE multi_a (id int); CREATE TABLE multi_b (id int); INSERT INTO multi_a VALUES (1), (2);',
      );
      const r = await c.query('SELECT count(*)::int AS n FROM multi_a');
      expect(r.rows[0].n).toBe(2);
      await c.query('DROP TABLE multi_a; DROP TABLE multi_b;');
    } finally {
      await c.end();
    }
  });

  it('keeps parameterised statements of concurrent connections apart', async () => {
    const pool = new pg.Pool({ connectionString: edb.url, max: 6 });
    try {
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          i % 2
            ? pool.query<{ x: number }>('SELECT $1::int + 1 AS x', [i]).then((r) => r.rows[0]!.x === i + 1)
            : pool
                .query<{ y: string; z: number }>("SELECT $1::text || 'x' AS y, $2::int AS z", [String(i), i])
                .then((r) => r.rows[0]!.y === `${i}x` && r.rows[0]!.z === i),
        ),
      );
      expect(results.every(Boolean)).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('moves every package through the stages with several concurrent claimers, each claim exclusive', async () => {
    const res = await enqueueLockfile(db, {
      applicationName: 'embedded-app',
      applicationVersion: '1.0.0',
      requestorId: null,
      actor: 'tester',
      lockfile: { lockfileVersion: 3 },
      lockfileVersion: 3,
      packages: pkgs(60, 'emb'),
    });
    expect(res.newCount).toBe(60);

    // Each claimer has its own pool, as separate worker processes would; one claims inside an explicit
    // transaction to interleave transactions with autocommit statements.
    const claimers = Array.from({ length: 4 }, (_, i) => ({
      id: `embedded-claimer-${i}`,
      db: createDb({ connectionString: edb.url, max: 2 }).db,
      inTransaction: i === 0,
    }));
    const held = new Set<number>();
    const claims: string[] = [];
    let overlaps = 0;
    try {
      await Promise.all(
        claimers.map(async (w) => {
          for (;;) {
            const claim = (x: typeof w.db) => claimPackages(x, { workerId: w.id, limit: 3, leaseSeconds: 60 });
            const got = w.inTransaction ? await w.db.transaction().execute(claim) : await claim(w.db);
            if (got.length === 0) return;
            await Promise.all(
              got.map(async (p) => {
                if (held.has(p.packageId)) overlaps++;
                held.add(p.packageId);
                claims.push(`${p.packageId}:${p.stage.name}`);
                const ok = await completeStage(w.db, {
                  packageId: p.packageId,
                  workerId: w.id,
                  work: p.status,
                  to: p.stage.done,
                });
                held.delete(p.packageId);
                expect(ok).toBe(true);
              }),
            );
          }
        }),
      );
    } finally {
      await Promise.all(claimers.map((w) => w.db.destroy()));
    }
    expect(overlaps).toBe(0);
    // licence, download, scan and decide: four claims per package, none repeated (the decide stage's
    // `done` is Pending Approval, where a person takes over).
    expect(claims).toHaveLength(240);
    expect(new Set(claims).size).toBe(240);
    const done = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM package_status WHERE status = ${Status.PendingApproval}
    `.execute(db);
    expect(done.rows[0]!.n).toBe(60);
    const status = await getProcessingStatus(db);
    expect(status.counts[Status.PendingApproval]).toBe(60);
  });

  it('rolls back the transaction of a client that disconnects inside it, and serves the others', async () => {
    const a = new pg.Client({ connectionString: edb.url });
    await a.connect();
    await a.query('BEGIN');
    await a.query("INSERT INTO supported_licenses (spdx_id, name, tier) VALUES ('X-Abandoned', 'x', 'avoid')");
    // Kill the socket without a Terminate message, as a crashed process would.
    (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await a.end().catch(() => undefined);
    const row = await db
      .selectFrom('supported_licenses')
      .select('spdx_id')
      .where('spdx_id', '=', 'X-Abandoned')
      .executeTakeFirst();
    expect(row).toBeUndefined();
  });

  it('refuses a data directory another live process holds', async () => {
    const other = join(dir, 'other');
    // The parent of this test process is alive and is not us: it stands in for a running `pnpm start`.
    writeFileSync(`${other}.pid`, `${process.ppid}\n`);
    await expect(startEmbeddedDatabase({ dataDir: other })).rejects.toMatchObject({ code: 'ERR_EMBEDDED_DB_LOCKED' });
  });
});
