import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { Status } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type TestRegistry } from '@spm/testkit';
import {
  auditEvents,
  enqueue,
  lockfileEntry,
  spawnWorker,
  tempCacheDir,
  waitFor,
  type WorkerProcess,
} from './support/worker.js';

const WORK_TO_DONE = { 'Checking Licence': 'Licence Checked', Downloading: 'Downloaded' };

let t: TestDatabase;
let registry: TestRegistry;
let cache: Awaited<ReturnType<typeof tempCacheDir>>;
const workers: WorkerProcess[] = [];

function start(env: Record<string, string> = {}): WorkerProcess {
  const w = spawnWorker({
    DATABASE_URL: t.url,
    SOURCE_REGISTRY_URL: registry.url,
    PACKAGE_CACHE_DIR: cache.dir,
    // These tests are about the queue: the scan and publish stages stay out of the way.
    WORKER_STAGES: 'licence,download',
    WORKER_SLEEP_INTERVAL: '1',
    WORKER_LEASE_SECONDS: '5',
    WORKER_MAX_PACKAGES_PER_CYCLE: '8',
    LOG_LEVEL: 'warn',
    ...env,
  });
  workers.push(w);
  return w;
}

async function downloadedCount(): Promise<number> {
  const r = await t.db
    .selectFrom('package_status')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', Status.Downloaded)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Completion events per package and stage (each must be exactly 1). */
async function completionCounts(): Promise<Array<{ package_id: number; from_status: string; n: number }>> {
  const res = await sql<{ package_id: number; from_status: string; n: number }>`
    SELECT package_id, from_status, count(*)::int AS n FROM package_events
    WHERE (from_status = 'Checking Licence' AND to_status = 'Licence Checked')
       OR (from_status = 'Downloading' AND to_status = 'Downloaded')
    GROUP BY package_id, from_status
  `.execute(t.db);
  return res.rows;
}

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.destroy();
});
beforeEach(async () => {
  registry = await startTestRegistry();
  cache = await tempCacheDir();
  await sql`TRUNCATE requests, packages, package_events, workers RESTART IDENTITY CASCADE`.execute(t.db);
});
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
  await registry.close();
  await cache.remove();
});

describe('several workers and database trouble', () => {
  it('two worker processes over 300 packages: no package in both at once, each stage completes exactly once', async () => {
    const pkgs = Array.from({ length: 300 }, (_, i) => buildPackage({ name: `duo-${i}`, version: '1.0.0' }));
    for (const p of pkgs) registry.add(p);
    registry.setTarballDelay(5);
    const a = start();
    const b = start();
    await enqueue(
      t.db,
      pkgs.map((p) => lockfileEntry(p)),
    );
    await waitFor(async () => (await downloadedCount()) === 300, 90_000, 'all 300 downloaded', 200);

    expect(await auditEvents(t.db, WORK_TO_DONE)).toEqual([]);
    const counts = await completionCounts();
    expect(counts).toHaveLength(600);
    expect(counts.every((c) => c.n === 1)).toBe(true);
    // Both workers did real work, and each tarball was fetched once.
    const actors = await sql<{ actor: string; n: number }>`
      SELECT actor, count(*)::int AS n FROM package_events WHERE to_status = 'Downloaded' GROUP BY actor
    `.execute(t.db);
    expect(actors.rows).toHaveLength(2);
    expect(registry.requests.filter((r) => r.url.includes('/-/duo-'))).toHaveLength(300);
    expect(a.proc.exitCode).toBeNull();
    expect(b.proc.exitCode).toBeNull();
  });

  it('recovers by itself when its database connections are killed mid-run, LISTEN included', async () => {
    const pkgs = Array.from({ length: 60 }, (_, i) => buildPackage({ name: `outage-${i}`, version: '1.0.0' }));
    for (const p of pkgs) registry.add(p);
    registry.setTarballDelay(150);
    // A long poll interval: after the kill only a re-established LISTEN brings the late package in fast.
    const w = start({ WORKER_SLEEP_INTERVAL: '60', LOG_LEVEL: 'info', WORKER_MAX_PACKAGES_PER_CYCLE: '5' });
    await w.waitForLog((l) => l.msg === 'listening for wake-ups');
    await enqueue(
      t.db,
      pkgs.slice(0, 50).map((p) => lockfileEntry(p)),
    );
    await waitFor(async () => (await downloadedCount()) >= 10, 30_000, 'some downloaded');

    const kill = async () =>
      sql<{ n: number }>`
        SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'spm-worker%'
      `.execute(t.db);
    const first = await kill();
    expect(first.rows[0]!.n).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 300));
    await kill();
    await w.waitForLog((l) => l.msg === 'LISTEN re-established', 20_000);

    await waitFor(async () => (await downloadedCount()) === 50, 60_000, 'first 50 downloaded', 200);
    const t0 = Date.now();
    await enqueue(
      t.db,
      pkgs.slice(50).map((p) => lockfileEntry(p)),
    );
    await waitFor(async () => (await downloadedCount()) === 60, 20_000, 'late 10 downloaded', 100);
    // Well under the 60 s poll interval: the wake-up came through the re-established LISTEN.
    expect(Date.now() - t0).toBeLessThan(45_000);

    expect(w.proc.exitCode).toBeNull();
    expect(await auditEvents(t.db, WORK_TO_DONE)).toEqual([]);
    const counts = await completionCounts();
    expect(counts).toHaveLength(120);
    expect(counts.every((c) => c.n === 1)).toBe(true);
    const working = await t.db
      .selectFrom('package_status')
      .select('package_id')
      .where('status', 'in', [Status.CheckingLicence, Status.Downloading])
      .execute();
    expect(working).toEqual([]);
    expect(w.logs.some((l) => l.msg === 'LISTEN connection lost; reconnecting')).toBe(true);
  });
});
