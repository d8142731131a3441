import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { WORK_STATUSES } from '@spm/db';
import { startTestRegistry } from '@spm/testkit';
import { loadConfig } from '@spm/worker';
import { approveEverything, createUser, type DatabaseFactory } from './db.js';
import { startApi } from './api.js';
import { buildCorpus } from './corpus.js';
import { distinctPackages, planLockfile, renderLockfile, renderPackageJson } from './lockfile.js';
import { runNpmCi, type NpmCiRun } from './npm-ci.js';
import {
  stageTimings,
  startWorkerProcess,
  statusCounts,
  type StageTiming,
  type WorkerProcess,
} from './worker-process.js';
import { mean, msSince, round, sleep } from './stats.js';

export interface GateRun {
  ms: number;
  packages: number;
  packagesPerSec: number;
  statuses: Record<string, number>;
  /** Every status some package entered, in pipeline order of first appearance. */
  statusesReached: string[];
  rejections: Array<{ reason: string; n: number }>;
  workerPeakRssMb: number;
  workerExitCode: number | null;
  workerLogLines: number;
  workerLogBytes: number;
  /** CPU seconds the worker process used during the run, and as a share of the wall time (1 = one core). */
  workerCpuS: number;
  workerCpuShare: number;
  /** From the worker's log: time from claim to recorded outcome, per stage. */
  stageTimings: StageTiming[];
  /** Sum of stage durations over (wall time × slots): how busy the worker's slots were. */
  slotUtilisation: number;
}

export interface B4Result {
  entries: number;
  distinctPackages: number;
  corpusMb: number;
  corpusCached: boolean;
  sizes: { under50k: number; from50kTo500k: number; over500k: number; largestKb: number };
  /** Packages in flight per worker, all stages (WORKER_MAX_PACKAGES_PER_CYCLE or its default). */
  concurrency: number;
  /** Of those, the slots of the stages that wait (licence, download, decide, publish) and of the scan. */
  ioConcurrency: number;
  cpuConcurrency: number;
  workers: number;
  rounds: number;
  npmCi: NpmCiRun[];
  gate: GateRun[];
  npmCiMeanMs: number;
  gateMeanMs: number;
  ratio: number;
  gatePackagesPerSec: number;
  npmPackagesPerSec: number;
  workerPeakRssMb: number;
  stagesRan: string[];
}

const FINAL = ['Published', 'Rejected'];

function mergeTimings(logs: Array<{ stages: StageTiming[]; lines: number; bytes: number }>) {
  if (logs.length === 1) return logs[0]!;
  const by = new Map<string, StageTiming>();
  for (const l of logs) {
    for (const t of l.stages) {
      const e = by.get(t.stage);
      if (!e) by.set(t.stage, { ...t });
      else {
        const n = e.n + t.n;
        by.set(t.stage, {
          stage: t.stage,
          n,
          meanMs: round((e.meanMs * e.n + t.meanMs * t.n) / n),
          p95Ms: Math.max(e.p95Ms, t.p95Ms),
          totalS: round(e.totalS + t.totalS),
        });
      }
    }
  }
  return {
    stages: [...by.values()],
    lines: logs.reduce((a, l) => a + l.lines, 0),
    bytes: logs.reduce((a, l) => a + l.bytes, 0),
  };
}
const WORK = WORK_STATUSES as readonly string[];

/** The slots the worker process gives itself with the bench's environment (its own defaults when unset). */
function workerSlots(concurrency: number | null): { total: number; io: number; cpu: number } {
  const c = loadConfig(
    {
      DATABASE_URL: 'postgres://bench',
      SOURCE_REGISTRY_URL: 'http://127.0.0.1:9/',
      ...(concurrency ? { WORKER_MAX_PACKAGES_PER_CYCLE: String(concurrency) } : {}),
    },
    { npmRegistry: () => null },
  );
  return { total: c.maxPackagesPerCycle, io: c.ioConcurrency, cpu: c.cpuConcurrency };
}

/**
 * B4: the same lockfile of N real tarballs, from the same loopback registry, gated end to end by the
 * real worker process (all stages it has, under a policy that approves everything) and installed by `npm ci
 * --ignore-scripts`, alternating. The gate is timed from the upload request to the last package event.
 */
export async function benchEndToEnd(
  factory: DatabaseFactory,
  opts: { packages: number; rounds: number; concurrency: number | null; workers: number; log: (s: string) => void },
): Promise<B4Result> {
  const plan = planLockfile({ count: opts.packages, seed: 8 });
  const t0 = process.hrtime.bigint();
  const corpus = await buildCorpus(plan);
  opts.log(
    `  B4 corpus: ${corpus.packages.length} tarballs, ${round(corpus.totalBytes / 1e6)} MB (${corpus.cached ? 'cached' : `built in ${round(msSince(t0) / 1000)} s`})`,
  );
  const registry = await startTestRegistry();
  const tmp = await mkdtemp(join(tmpdir(), 'spm-bench-e2e-'));
  try {
    for (const p of corpus.packages) registry.add(p);
    const integrity = new Map(corpus.packages.map((p) => [`${p.name}@${p.version}`, p.integrity]));
    const lockfile = renderLockfile(plan, { registry: registry.url, integrity: (n, v) => integrity.get(`${n}@${v}`)! });
    const packageJson = renderPackageJson(plan);
    const body = JSON.stringify(lockfile);
    const distinct = distinctPackages(plan).length;

    const gateOnce = async (idx: number): Promise<GateRun> => {
      const b = await factory.fresh(`e2e${idx}`);
      await approveEverything(b.db);
      const api = await startApi(b.url);
      const logFiles = Array.from({ length: opts.workers }, (_, w) => join(tmp, `worker-${idx}-${w}.log`));
      const workers: WorkerProcess[] = [];
      for (const logFile of logFiles) {
        workers.push(
          await startWorkerProcess({
            db: b.db,
            logFile,
            env: {
              DATABASE_URL: b.url,
              SOURCE_REGISTRY_URL: registry.url,
              // Workers share one cache directory, as DESIGN requires of several workers.
              PACKAGE_CACHE_DIR: join(tmp, `cache-${idx}`),
              LOG_LEVEL: 'info',
              ...(opts.concurrency ? { WORKER_MAX_PACKAGES_PER_CYCLE: String(opts.concurrency) } : {}),
            },
          }),
        );
      }
      let exitCode: number | null = null;
      let stopped = false;
      try {
        await createUser(b.db, 'bench-user', 'bench-password-1', 'user');
        const token = await api.login('bench-user', 'bench-password-1');
        const cpuNow = async () =>
          (await Promise.all(workers.map((w) => w.cpuSeconds()))).reduce<number>((a, x) => a + (x ?? 0), 0);
        const cpu0 = await cpuNow();
        const start = Date.now();
        const res = await api.upload(token, body);
        if (res.status !== 202)
          throw new Error(`upload answered ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);
        let lastChange = Date.now();
        let last = '';
        const deadline = Date.now() + 15 * 60_000;
        for (;;) {
          await sleep(100);
          const counts = await statusCounts(b.db);
          const key = JSON.stringify(counts);
          if (key !== last) {
            last = key;
            lastChange = Date.now();
          }
          const total = Object.values(counts).reduce((a, x) => a + x, 0);
          const final = FINAL.reduce((a, s) => a + (counts[s] ?? 0), 0);
          const working = WORK.reduce((a, s) => a + (counts[s] ?? 0), 0);
          if (final === total) break;
          // Packages waiting for a person (findings) or a stage that has not landed: settled when quiet.
          if (working === 0 && Date.now() - lastChange > 3_000) break;
          if (Date.now() > deadline) throw new Error(`the gate did not settle: ${key}`);
        }
        const lastEvent = await sql<{ t: Date }>`SELECT max(created_at) AS t FROM package_events`.execute(b.db);
        const ms = lastEvent.rows[0]!.t.getTime() - start;
        const statuses = await statusCounts(b.db);
        const reached = await sql<{ to_status: string }>`
          SELECT to_status FROM package_events GROUP BY to_status ORDER BY min(id)
        `.execute(b.db);
        const rej = await sql<{ reason: string; n: number }>`
          SELECT left(coalesce(rejection_kind || ': ' || rejection_reason, '?'), 160) AS reason, count(*)::int AS n
          FROM package_status WHERE status = 'Rejected' GROUP BY 1 ORDER BY 2 DESC LIMIT 5
        `.execute(b.db);
        const cpu1 = await cpuNow();
        const codes = await Promise.all(workers.map((w) => w.stop()));
        stopped = true;
        exitCode = codes.find((c) => c !== 0) ?? 0;
        const logs = await Promise.all(logFiles.map((f) => stageTimings(f)));
        const timings = mergeTimings(logs);
        const slots = workerSlots(opts.concurrency).total * opts.workers;
        return {
          ms,
          packages: Object.values(statuses).reduce((a, x) => a + x, 0),
          packagesPerSec: 0,
          statuses,
          statusesReached: reached.rows.map((r) => r.to_status),
          rejections: rej.rows,
          workerPeakRssMb: round(Math.max(...workers.map((w) => w.peakRssMb()))),
          workerExitCode: exitCode,
          workerLogLines: timings.lines,
          workerLogBytes: timings.bytes,
          workerCpuS: round(cpu1 - cpu0),
          workerCpuShare: round((cpu1 - cpu0) / (ms / 1000), 2),
          stageTimings: timings.stages,
          slotUtilisation: round(timings.stages.reduce((a, t) => a + t.totalS, 0) / ((ms / 1000) * slots), 2),
        };
      } finally {
        if (!stopped) await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
        await api.close();
        await b.destroy();
      }
    };

    const npm: NpmCiRun[] = [];
    const gate: GateRun[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const order = r % 2 === 0 ? ['npm', 'gate'] : ['gate', 'npm'];
      for (const side of order) {
        if (side === 'npm') {
          const run = await runNpmCi({ lockfile, packageJson, registry: registry.url });
          if (run.exitCode !== 0) throw new Error(`npm ci failed (${run.exitCode}): ${run.stderrTail}`);
          npm.push(run);
          opts.log(`  B4 round ${r + 1} npm ci: ${round(run.ms / 1000, 2)} s`);
        } else {
          const g = await gateOnce(r);
          g.packagesPerSec = round((g.packages / g.ms) * 1000);
          gate.push(g);
          opts.log(
            `  B4 round ${r + 1} gate: ${round(g.ms / 1000, 2)} s, ${JSON.stringify(g.statuses)}, worker peak RSS ${g.workerPeakRssMb} MB`,
          );
        }
      }
    }
    const sizes = corpus.packages.map((p) => p.tarball.length);
    const npmMean = mean(npm.map((x) => x.ms));
    const gateMean = mean(gate.map((x) => x.ms));
    return {
      entries: plan.entries.length,
      distinctPackages: distinct,
      corpusMb: round(corpus.totalBytes / 1e6),
      corpusCached: corpus.cached,
      sizes: {
        under50k: sizes.filter((s) => s < 50_000).length,
        from50kTo500k: sizes.filter((s) => s >= 50_000 && s < 500_000).length,
        over500k: sizes.filter((s) => s >= 500_000).length,
        largestKb: round(Math.max(...sizes) / 1024),
      },
      concurrency: workerSlots(opts.concurrency).total,
      ioConcurrency: workerSlots(opts.concurrency).io,
      cpuConcurrency: workerSlots(opts.concurrency).cpu,
      workers: opts.workers,
      rounds: opts.rounds,
      npmCi: npm.map((x) => ({ ...x, ms: round(x.ms) })),
      gate,
      npmCiMeanMs: round(npmMean),
      gateMeanMs: round(gateMean),
      ratio: round(gateMean / npmMean, 2),
      gatePackagesPerSec: round((distinct / gateMean) * 1000),
      npmPackagesPerSec: round((distinct / npmMean) * 1000),
      workerPeakRssMb: Math.max(...gate.map((g) => g.workerPeakRssMb)),
      stagesRan: [...new Set(gate.flatMap((g) => g.statusesReached))],
    };
  } finally {
    await registry.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
