import pino from 'pino';
import { sql } from 'kysely';
import { Status, decidePackages, enqueueLockfile, type StageName } from '@spm/db';
import { BaseWorker, loadConfig, type StageHandler } from '@spm/worker';
import { createUser, type DatabaseFactory, type BenchDatabase } from './db.js';
import { drainGraphile, prepareGraphile, type GraphileRun } from './graphile.js';
import {
  fakeIntegrity,
  planLockfile,
  renderLockfile,
  tarballUrl,
  NEUTRAL_REGISTRY,
  distinctPackages,
} from './lockfile.js';
import { queryCount, traceQueries } from './query-counter.js';
import { mean, msSince, round, sleep } from './stats.js';

const done = async () => ({ kind: 'done' as const });
const INSTANT: Record<StageName, StageHandler> = {
  licence: done,
  download: done,
  scan: done,
  // The decide stage hands the package to the approver, as the real one does under a policy that holds it.
  decide: async () => ({ kind: 'done' as const, to: Status.PendingApproval }),
  publish: done,
};

/** The real BaseWorker loop (claiming, leases, heartbeat, sweep, logging) with stages that return at once. */
export class InstantWorker extends BaseWorker {
  protected stageHandler(stage: StageName): StageHandler | undefined {
    return INSTANT[stage];
  }
}

export interface OursRun {
  packages: number;
  concurrency: number;
  ms: number;
  /** Time to get every package to Pending Approval. */
  toPendingMs: number;
  approveMs: number;
  packagesPerSec: number;
  transitions: number;
  transitionsPerSec: number;
  statementsPerPackage: number;
  /** CPU time of this Node process (worker loop, Kysely, pg, pino, the bench's polling) per package, ms. */
  nodeCpuMsPerPackage: number;
  /** Statements per package by kind, and their mean time in flight (ms). */
  profile: Array<{ statement: string; perPackage: number; meanMs: number }>;
}

async function waitForCount(b: BenchDatabase, status: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM package_status WHERE status = ${status}`.execute(
      b.db,
    );
    if (r.rows[0]!.n >= n) return;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${n} packages in ${status} (have ${r.rows[0]!.n})`);
    await sleep(10);
  }
}

async function resetQueue(b: BenchDatabase): Promise<void> {
  await sql`TRUNCATE package_events, request_packages, package_status, packages, requests, audit_log, workers RESTART IDENTITY CASCADE`.execute(
    b.db,
  );
  await sql`VACUUM ANALYZE`.execute(b.db);
}

async function runOurs(
  b: BenchDatabase,
  opts: { packages: number; concurrency: number; seed: number; userId: number },
): Promise<OursRun> {
  await resetQueue(b);
  const plan = planLockfile({ count: Math.round(opts.packages * 1.05), seed: opts.seed });
  const pkgs = distinctPackages(plan).slice(0, opts.packages);
  await enqueueLockfile(b.db, {
    applicationName: 'bench-queue',
    applicationVersion: '1.0.0',
    requestorId: opts.userId,
    actor: 'bench',
    lockfile: renderLockfile(plan),
    lockfileVersion: 3,
    packages: pkgs.map((p) => ({
      name: p.name,
      version: p.version,
      integrity: fakeIntegrity(p.name, p.version),
      resolved: tarballUrl(NEUTRAL_REGISTRY, p.name, p.version),
      license: p.license,
      dev: p.dev,
      optional: false,
    })),
  });
  const n = pkgs.length;
  const config = loadConfig({
    DATABASE_URL: b.url,
    SOURCE_REGISTRY_URL: 'http://127.0.0.1:9/',
    WORKER_MAX_PACKAGES_PER_CYCLE: String(opts.concurrency),
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
  });
  // Log lines are produced and serialised as in production (info, JSON), then discarded.
  const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true }));
  const worker = new InstantWorker({ config, logger });
  const q0 = queryCount(b.name);
  const stopTrace = traceQueries();
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  await worker.start();
  await waitForCount(b, Status.PendingApproval, n, 300_000);
  const toPendingMs = msSince(start);
  const ids = (await b.db.selectFrom('package_status').select('package_id').execute()).map((r) => r.package_id);
  const a0 = process.hrtime.bigint();
  await decidePackages(b.db, {
    packageIds: ids,
    decision: 'approve',
    userId: opts.userId,
    username: 'bench-approver',
    reason: 'bench',
  });
  const approveMs = msSince(a0);
  await waitForCount(b, Status.Published, n, 300_000);
  const ms = msSince(start);
  const statements = queryCount(b.name) - q0;
  const cpu = process.cpuUsage(cpu0);
  const trace = stopTrace().filter(
    (q) => q.db === b.name && !q.sql.startsWith('SELECT count(*)::int AS n FROM package_status'),
  );
  const kinds = new Map<string, { n: number; ms: number }>();
  for (const q of trace) {
    const k = q.sql.slice(0, 60);
    const e = kinds.get(k) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += q.ms;
    kinds.set(k, e);
  }
  const profile = [...kinds.entries()]
    .sort((a, b2) => b2[1].n - a[1].n)
    .map(([statement, e]) => ({ statement, perPackage: round(e.n / n, 2), meanMs: round(e.ms / e.n, 2) }));
  await worker.shutdown('bench');
  const ev = await sql<{
    n: number;
  }>`SELECT count(*)::int AS n FROM package_events WHERE from_status IS NOT NULL`.execute(b.db);
  const transitions = ev.rows[0]!.n;
  return {
    packages: n,
    concurrency: opts.concurrency,
    ms,
    toPendingMs,
    approveMs,
    packagesPerSec: (n / ms) * 1000,
    transitions,
    transitionsPerSec: (transitions / ms) * 1000,
    // Includes the bench's own progress polling (one count per 10 ms), a few percent at most.
    statementsPerPackage: statements / n,
    nodeCpuMsPerPackage: (cpu.user + cpu.system) / 1000 / n,
    profile,
  };
}

export interface B2Result {
  packages: number;
  rounds: number;
  byConcurrency: Array<{
    concurrency: number;
    ours: OursRun[];
    graphileDefault: GraphileRun[];
    graphileBatched: GraphileRun[];
    oursPackagesPerSec: number;
    oursTransitionsPerSec: number;
    graphileDefaultJobsPerSec: number;
    graphileBatchedJobsPerSec: number;
    ratioVsDefault: number;
    ratioVsBatched: number;
    graphileStatementsPerJob: number;
  }>;
}

/**
 * B2: our queue against graphile-worker on the same server, same run, alternating per round.
 * Each side gets its own freshly truncated/emptied tables before a round; means over rounds.
 */
export async function benchQueue(
  factory: DatabaseFactory,
  opts: { packages: number; concurrencies: number[]; rounds: number; log: (s: string) => void },
): Promise<B2Result> {
  const b = await factory.fresh('queue');
  const g = await factory.fresh('graphile');
  try {
    const userId = await createUser(b.db, 'bench-approver', 'bench-password-1', 'approver');
    await prepareGraphile(g.url);
    const out: B2Result = { packages: opts.packages, rounds: opts.rounds, byConcurrency: [] };
    for (const concurrency of opts.concurrencies) {
      const ours: OursRun[] = [];
      const gd: GraphileRun[] = [];
      const gb: GraphileRun[] = [];
      let gStatements = 0;
      for (let round = 0; round < opts.rounds; round++) {
        const order = round % 2 === 0 ? ['ours', 'default', 'batched'] : ['batched', 'default', 'ours'];
        for (const side of order) {
          if (side === 'ours') {
            const r = await runOurs(b, { packages: opts.packages, concurrency, seed: 200 + round, userId });
            ours.push(r);
            opts.log(
              `  B2 c=${concurrency} round ${round + 1} ours: ${round1(r.packagesPerSec)} packages/s (${round1(r.transitionsPerSec)} transitions/s, ${round1(r.statementsPerPackage)} statements/package)`,
            );
          } else {
            await sql`VACUUM ANALYZE`.execute(g.db);
            const q0 = queryCount(g.name);
            const r = await drainGraphile(g.url, {
              jobs: opts.packages,
              concurrency,
              mode: side as 'default' | 'batched',
            });
            if (side === 'default') {
              gd.push(r);
              gStatements += queryCount(g.name) - q0;
            } else gb.push(r);
            opts.log(`  B2 c=${concurrency} round ${round + 1} graphile ${side}: ${round1(r.jobsPerSec)} jobs/s`);
          }
        }
      }
      const oursPps = mean(ours.map((r) => r.packagesPerSec));
      const gdJps = mean(gd.map((r) => r.jobsPerSec));
      const gbJps = mean(gb.map((r) => r.jobsPerSec));
      out.byConcurrency.push({
        concurrency,
        ours,
        graphileDefault: gd,
        graphileBatched: gb,
        oursPackagesPerSec: round(oursPps),
        oursTransitionsPerSec: round(mean(ours.map((r) => r.transitionsPerSec))),
        graphileDefaultJobsPerSec: round(gdJps),
        graphileBatchedJobsPerSec: round(gbJps),
        ratioVsDefault: round(oursPps / gdJps, 2),
        ratioVsBatched: round(oursPps / gbJps, 2),
        graphileStatementsPerJob: round(gStatements / (opts.packages * gd.length), 2),
      });
    }
    return out;
  } finally {
    await b.destroy();
    await g.destroy();
  }
}

const round1 = (n: number) => round(n, 1);
