import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { Status } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type TestRegistry } from '@spm/testkit';
import { enqueue, lockfileEntry, spawnWorker, tempCacheDir, waitFor, type WorkerProcess } from './support/worker.js';

/*
 * WORKER_CPU_CONCURRENCY and WORKER_IO_CONCURRENCY: the scan (CPU) and the other stages (network, database)
 * each have their own slots. Read back from package_events: the intervals a package spent in a work status
 * (its claim to its next event) never overlap more than the kind's limit, while the other kind runs beside.
 */

let t: TestDatabase;
let registry: TestRegistry;
let cache: Awaited<ReturnType<typeof tempCacheDir>>;
let worker: WorkerProcess;
const COUNT = 24;

beforeAll(async () => {
  t = await createTestDatabase();
  registry = await startTestRegistry();
  cache = await tempCacheDir();
  // Sources of a few hundred kilobytes, so a scan lasts long enough for others to queue behind it.
  const body = Array.from({ length: 6000 }, (_, i) => `exports.f${i} = function f${i}(a) { return a + ${i}; };`).join(
    '\n',
  );
  const pkgs = Array.from({ length: COUNT }, (_, i) =>
    buildPackage({ name: `pool-${i}`, version: '1.0.0', files: { 'lib.js': body } }),
  );
  for (const p of pkgs) registry.add(p);
  worker = spawnWorker({
    DATABASE_URL: t.url,
    SOURCE_REGISTRY_URL: registry.url,
    PACKAGE_CACHE_DIR: cache.dir,
    WORKER_STAGES: 'licence,download,scan',
    WORKER_SLEEP_INTERVAL: '1',
    WORKER_CPU_CONCURRENCY: '1',
    WORKER_IO_CONCURRENCY: '4',
    LOG_LEVEL: 'warn',
  });
  await enqueue(
    t.db,
    pkgs.map((p) => lockfileEntry(p)),
  );
  await waitFor(
    async () => {
      const r = await t.db
        .selectFrom('package_status')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', Status.SecurityScanned)
        .executeTakeFirstOrThrow();
      return Number(r.n) === COUNT;
    },
    60_000,
    'every package scanned',
  );
});

afterAll(async () => {
  await worker?.stop();
  await registry?.close();
  await cache?.remove();
  await t?.destroy();
});

/** The most packages at once in these work statuses, from claim events to each package's next event. */
async function mostAtOnce(statuses: string[]): Promise<number> {
  const res = await sql<{ n: number }>`
    WITH spans AS (
      SELECT e.created_at AS s, lead(e.created_at) OVER (PARTITION BY e.package_id ORDER BY e.id) AS f, e.to_status
      FROM package_events e
    ), points AS (
      SELECT s AS at, 1 AS d FROM spans WHERE to_status = ANY(${statuses}::text[]) AND f IS NOT NULL
      UNION ALL
      SELECT f AS at, -1 AS d FROM spans WHERE to_status = ANY(${statuses}::text[]) AND f IS NOT NULL
    )
    SELECT coalesce(max(running), 0)::int AS n
    FROM (SELECT sum(d) OVER (ORDER BY at, d) AS running FROM points) x
  `.execute(t.db);
  return res.rows[0]!.n;
}

it('never scans more packages at once than WORKER_CPU_CONCURRENCY', async () => {
  expect(await mostAtOnce([Status.SecurityScanning])).toBe(1);
});

it('runs up to WORKER_IO_CONCURRENCY licence checks and downloads at once, beside the scan', async () => {
  const io = await mostAtOnce([Status.CheckingLicence, Status.Downloading]);
  expect(io).toBeGreaterThan(1);
  expect(io).toBeLessThanOrEqual(4);
  const all = await mostAtOnce([Status.CheckingLicence, Status.Downloading, Status.SecurityScanning]);
  expect(all).toBeLessThanOrEqual(5);
});

it('completes every stage of every package exactly once', async () => {
  const res = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM package_events
    WHERE (from_status, to_status) IN (('Checking Licence', 'Licence Checked'), ('Downloading', 'Downloaded'),
                                      ('Security Scanning', 'Security Scanned'))
  `.execute(t.db);
  expect(res.rows[0]!.n).toBe(3 * COUNT);
});
