import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { Status } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type BuiltPackage, type TestRegistry } from '@spm/testkit';
import {
  HEALTH_MAIN,
  auditEvents,
  enqueue,
  lockfileEntry,
  spawnWorker,
  tempCacheDir,
  waitFor,
  type WorkerProcess,
} from './support/worker.js';

const WORK_TO_DONE = { 'Checking Licence': 'Licence Checked', Downloading: 'Downloaded' };
const LEASE_SECONDS = 3;

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
    WORKER_SLEEP_INTERVAL: '0.5',
    WORKER_LEASE_SECONDS: String(LEASE_SECONDS),
    WORKER_MAX_PACKAGES_PER_CYCLE: '5',
    WORKER_HEARTBEAT_SECONDS: '1',
    ...env,
  });
  workers.push(w);
  return w;
}

function packages(prefix: string, n: number): BuiltPackage[] {
  return Array.from({ length: n }, (_, i) => buildPackage({ name: `${prefix}-${i}`, version: '1.0.0' }));
}

async function countWhere(statuses: string[]): Promise<number> {
  const r = await t.db
    .selectFrom('package_status')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', 'in', statuses)
    .executeTakeFirstOrThrow();
  return Number(r.n);
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

describe('crash and shutdown safety', () => {
  it('after SIGKILL mid-download, a second worker finishes everything; only in-flight stages rerun, each stage completes once', async () => {
    const pkgs = packages('crash', 20);
    for (const p of pkgs) registry.add(p);
    registry.setTarballDelay(1_500);
    const a = start();
    await a.waitForLog((l) => l.msg === 'listening for wake-ups');
    await enqueue(
      t.db,
      pkgs.map((p) => lockfileEntry(p)),
    );

    await waitFor(() => countWhere([Status.Downloading]).then((n) => n >= 3), 20_000, 'downloads in flight');
    const { rows } = await sql<{ now: Date }>`SELECT now()`.execute(t.db);
    const killedAt = rows[0]!.now;
    a.proc.kill('SIGKILL');
    await a.exited;
    const inFlightAtKill = await t.db
      .selectFrom('package_status')
      .select(['package_id', 'status'])
      .where('status', 'in', [Status.CheckingLicence, Status.Downloading])
      .execute();
    expect(inFlightAtKill.length).toBeGreaterThanOrEqual(3);

    start();
    await waitFor(() => countWhere([Status.Downloaded]).then((n) => n === pkgs.length), 60_000, 'all downloaded');

    expect(await auditEvents(t.db, WORK_TO_DONE)).toEqual([]);
    const completions = await t.db
      .selectFrom('package_events')
      .select(['package_id', 'from_status'])
      .where((eb) =>
        eb.or([
          eb.and([eb('from_status', '=', Status.CheckingLicence), eb('to_status', '=', Status.LicenceChecked)]),
          eb.and([eb('from_status', '=', Status.Downloading), eb('to_status', '=', Status.Downloaded)]),
        ]),
      )
      .execute();
    expect(completions).toHaveLength(pkgs.length * 2);

    // Exactly the packages in flight at the kill were reset (lease expired), and none waited longer than
    // the lease plus one sweep interval.
    const resets = await t.db.selectFrom('package_events').selectAll().where('actor_kind', '=', 'system').execute();
    expect(resets.map((r) => r.package_id).sort()).toEqual(inFlightAtKill.map((r) => r.package_id).sort());
    for (const r of resets) {
      expect(r.reason).toBe('lease expired (worker died)');
      const waitedMs = r.created_at.getTime() - killedAt.getTime();
      // Reset by the lease-expiry sweep (seconds), not by the 30-minute stuck timeout; the margin absorbs a loaded machine.
      expect(waitedMs).toBeLessThan(LEASE_SECONDS * 1000 + 20_000);
    }
  });

  it('SIGTERM during work exits 0 within the timeout, releases in-flight packages without charging an attempt', async () => {
    const pkgs = packages('term', 4);
    for (const p of pkgs) registry.add(p);
    registry.setTarballDelay(8_000);
    const w = start({ WORKER_SHUTDOWN_TIMEOUT_SECONDS: '1' });
    await w.waitForLog((l) => l.msg === 'listening for wake-ups');
    await enqueue(
      t.db,
      pkgs.map((p) => lockfileEntry(p)),
    );
    await waitFor(() => countWhere([Status.Downloading]).then((n) => n === 4), 20_000, 'downloads in flight');

    const t0 = Date.now();
    w.proc.kill('SIGTERM');
    const exit = await w.exited;
    const tookMs = Date.now() - t0;
    expect(exit).toEqual({ code: 0, signal: null });
    // Bounded by the 1 s shutdown timeout rather than by the 5 s downloads (generous for a loaded machine).
    expect(tookMs).toBeLessThan(1_000 + 15_000);

    expect(await countWhere([Status.CheckingLicence, Status.Downloading])).toBe(0);
    const rows = await t.db.selectFrom('package_status').select(['status', 'attempts', 'locked_by']).execute();
    expect(rows).toEqual(pkgs.map(() => ({ status: Status.LicenceChecked, attempts: 0, locked_by: null })));
    const released = await t.db
      .selectFrom('package_events')
      .select('reason')
      .where('reason', '=', 'worker shutdown (SIGTERM)')
      .execute();
    expect(released).toHaveLength(4);
    const phases = w.logs.map((l) => l.msg).filter((m) => m.startsWith('shutdown:'));
    expect(phases).toEqual([
      'shutdown: stopped claiming',
      'shutdown: waiting for in-flight work to finish',
      'shutdown: aborting in-flight work',
      'shutdown: released to checkpoint, no attempt charged',
      'shutdown: complete',
    ]);
    const row = await t.db.selectFrom('workers').select('stopped_at').executeTakeFirstOrThrow();
    expect(row.stopped_at).not.toBeNull();
  });

  it('lets in-flight work finish when it can within the shutdown timeout', async () => {
    const pkgs = packages('finish', 3);
    for (const p of pkgs) registry.add(p);
    registry.setTarballDelay(1_000);
    const w = start({ WORKER_SHUTDOWN_TIMEOUT_SECONDS: '15' });
    await w.waitForLog((l) => l.msg === 'listening for wake-ups');
    await enqueue(
      t.db,
      pkgs.map((p) => lockfileEntry(p)),
    );
    await waitFor(() => countWhere([Status.Downloading]).then((n) => n === 3), 20_000, 'downloads in flight');
    w.proc.kill('SIGINT');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(await countWhere([Status.Downloaded])).toBe(3);
    expect(w.logs.some((l) => l.msg === 'shutdown: aborting in-flight work')).toBe(false);
  });

  it('a second signal skips the wait and releases at once', async () => {
    const pkgs = packages('twice', 2);
    for (const p of pkgs) registry.add(p);
    registry.setTarballDelay(20_000);
    const w = start({ WORKER_SHUTDOWN_TIMEOUT_SECONDS: '60' });
    await w.waitForLog((l) => l.msg === 'listening for wake-ups');
    await enqueue(
      t.db,
      pkgs.map((p) => lockfileEntry(p)),
    );
    await waitFor(() => countWhere([Status.Downloading]).then((n) => n === 2), 20_000, 'downloads in flight');
    const t0 = Date.now();
    w.proc.kill('SIGTERM');
    await w.waitForLog((l) => l.msg === 'shutdown: waiting for in-flight work to finish');
    w.proc.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    // Far below the 60 s shutdown timeout: the second signal skipped the wait.
    expect(Date.now() - t0).toBeLessThan(40_000);
    expect(await countWhere([Status.LicenceChecked])).toBe(2);
    expect(w.logs.some((l) => l.msg.startsWith('shutdown: second signal'))).toBe(true);
  });

  it('the health command passes for a live worker and fails once it has stopped or its heartbeat is stale', async () => {
    const w = start();
    await w.waitForLog((l) => l.msg === 'registered in workers');
    const health = (env: Record<string, string> = {}) =>
      spawnSync(process.execPath, [HEALTH_MAIN], {
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: t.url,
          PACKAGE_CACHE_DIR: cache.dir,
          WORKER_HEARTBEAT_SECONDS: '1',
          ...env,
        },
        encoding: 'utf8',
      });
    const ok = health();
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^healthy: worker /);

    // A hung worker: its heartbeat stops advancing.
    w.proc.kill('SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 3_500));
      const stale = health();
      expect(stale.status).toBe(1);
      expect(stale.stderr).toMatch(/last heartbeat \d+\.\d s ago \(limit 3 s\)/);
    } finally {
      w.proc.kill('SIGCONT');
    }
    await w.stop();
    const stopped = health();
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain('not registered or has stopped');
    const unknown = health({ WORKER_ID: 'nobody' });
    expect(unknown.status).toBe(1);
  });
});
