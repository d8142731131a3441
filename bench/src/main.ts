import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { DatabaseFactory, serverUrl, serverVersion } from './db.js';
import { benchIngest, type B1Result } from './b1-ingest.js';
import { benchQueue, type B2Result } from './b2-queue.js';
import { benchWakeup, type B3Result } from './b3-wakeup.js';
import { benchEndToEnd, type B4Result } from './b4-e2e.js';
import { benchCrash, type B5Result } from './b5-crash.js';
import { benchStatusReads, type B6Result } from './b6-status.js';
import { benchDetection, type B7Result } from './b7-detection.js';
import { benchFairness, type B8Result } from './b8-fairness.js';
import { benchReevaluation, type B9Result } from './b9-reevaluation.js';
import { installQueryCounter } from './query-counter.js';
import { round } from './stats.js';

type Env = Record<string, string | undefined>;

/** Benchmark settings, from the environment (BENCH_*). Defaults keep a full run under ten minutes on 2 cores. */
export function benchConfig(env: Env = process.env) {
  const int = (k: string, d: number) => {
    const v = env[k];
    if (v === undefined || v === '') return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`Invalid environment: ${k}=${v} (expected a positive number)`);
    return n;
  };
  const only = (env.BENCH_ONLY ?? 'b1,b2,b3,b4,b5,b6,b7,b8,b9')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim());
  return {
    only,
    ingest: { entries: int('BENCH_INGEST_ENTRIES', 2000), uploads: int('BENCH_INGEST_UPLOADS', 30) },
    queue: {
      packages: int('BENCH_QUEUE_PACKAGES', 1000),
      concurrencies: [5, int('BENCH_QUEUE_HIGH_CONCURRENCY', 50)],
      rounds: int('BENCH_QUEUE_ROUNDS', 2),
    },
    wakeup: {
      uploads: int('BENCH_WAKEUP_UPLOADS', 100),
      pollingUploads: int('BENCH_WAKEUP_POLLING_UPLOADS', 20),
      pollingIntervalSeconds: int('BENCH_WAKEUP_POLL_INTERVAL', 1),
    },
    e2e: {
      packages: int('BENCH_E2E_PACKAGES', 800),
      rounds: int('BENCH_E2E_ROUNDS', 2),
      // Unset: the worker's own defaults (WORKER_IO_CONCURRENCY and WORKER_CPU_CONCURRENCY from the cores).
      concurrency: env.BENCH_E2E_CONCURRENCY ? int('BENCH_E2E_CONCURRENCY', 5) : null,
      workers: int('BENCH_E2E_WORKERS', 1),
    },
    crash: {
      packages: int('BENCH_CRASH_PACKAGES', 500),
      kills: int('BENCH_CRASH_KILLS', 5),
      leaseSeconds: int('BENCH_CRASH_LEASE_SECONDS', 3),
    },
    status: {
      requests: int('BENCH_STATUS_REQUESTS', 10),
      perRequest: int('BENCH_STATUS_PACKAGES', 20_000),
      calls: int('BENCH_STATUS_CALLS', 30),
    },
    fairness: {
      big: int('BENCH_FAIR_BIG', 20_000),
      small: int('BENCH_FAIR_SMALL', 10),
      concurrency: int('BENCH_FAIR_CONCURRENCY', 5),
      timeoutSeconds: int('BENCH_FAIR_TIMEOUT_SECONDS', 600),
    },
    reevaluation: {
      versions: int('BENCH_REEVAL_VERSIONS', 100_000),
      advisories: int('BENCH_REEVAL_ADVISORIES', 500),
      background: int('BENCH_REEVAL_BACKGROUND', 5000),
      webhook: env.BENCH_REEVAL_WEBHOOK !== '0',
    },
  };
}

interface Target {
  id: string;
  target: string;
  measured: string;
  met: boolean;
}

type Results = {
  b1?: B1Result;
  b2?: B2Result;
  b3?: B3Result;
  b4?: B4Result;
  b5?: B5Result;
  b6?: B6Result;
  b7?: B7Result;
  b8?: B8Result;
  b9?: B9Result;
};

function targets(r: Results): Target[] {
  const out: Target[] = [];
  if (r.b1) {
    out.push({
      id: 'B1',
      target: 'upload of a 2,000-package lockfile answered 202 in ≤ 150 ms median',
      measured: `first-time p50 ${r.b1.firstTime.latencyMs.p50} ms, already-known p50 ${r.b1.alreadyKnown.latencyMs.p50} ms`,
      met: r.b1.firstTime.latencyMs.p50 <= 150 && r.b1.alreadyKnown.latencyMs.p50 <= 150,
    });
  }
  if (r.b2) {
    for (const c of r.b2.byConcurrency) {
      out.push({
        id: `B2 c=${c.concurrency}`,
        target: 'packages/s through every transition ≥ graphile-worker default jobs/s',
        measured: `${c.oursPackagesPerSec} packages/s vs ${c.graphileDefaultJobsPerSec} jobs/s (×${c.ratioVsDefault})`,
        met: c.ratioVsDefault >= 1,
      });
    }
  }
  if (r.b3) {
    out.push({
      id: 'B3',
      target: 'upload to first claim ≤ 50 ms median with NOTIFY',
      measured: `enqueue→claim p50 ${r.b3.notify.enqueueToClaimMs.p50} ms (sent→claim p50 ${r.b3.notify.sentToClaimMs.p50} ms)`,
      met: r.b3.notify.enqueueToClaimMs.p50 <= 50 && r.b3.notify.sentToClaimMs.p50 <= 50,
    });
  }
  if (r.b4) {
    out.push({
      id: 'B4 time',
      target: 'gated end to end in ≤ 2× the time of npm ci --ignore-scripts',
      measured: `${round(r.b4.gateMeanMs / 1000, 1)} s vs ${round(r.b4.npmCiMeanMs / 1000, 1)} s (×${r.b4.ratio})`,
      met: r.b4.ratio <= 2,
    });
    out.push({
      id: 'B4 RSS',
      target: 'worker RSS under 256 MB',
      measured: `peak VmHWM ${r.b4.workerPeakRssMb} MB`,
      met: r.b4.workerPeakRssMb < 256,
    });
  }
  if (r.b5) {
    const c = r.b5;
    const unfinished = c.packages - (c.statuses.Published ?? 0);
    out.push({
      id: 'B5 kills',
      target: `worker SIGKILLed ${c.killsPlanned}× in a ${c.packages}-package run: all finish, every stage completed exactly once`,
      measured: `${c.kills.length} kills, ${c.statuses.Published ?? 0}/${c.packages} Published, ${c.duplicateEvents} duplicate and ${c.missing} missing completions`,
      met: c.kills.length >= 5 && unfinished === 0 && c.duplicateEvents === 0 && c.missing === 0,
    });
    out.push({
      id: 'B5 workers',
      target: 'two or more workers at once: no package worked on in two places at once',
      measured: `2 workers for ${c.twoWorkersS} s: ${c.overlaps} overlapping claims, ${c.foreignWrites} writes without the claim`,
      met: c.twoWorkersS > 0 && c.overlaps === 0 && c.foreignWrites === 0 && c.chainBreaks === 0,
    });
  }
  if (r.b6) {
    const paged = r.b6.endpoints.filter((e) => e.page500);
    const summaries = r.b6.endpoints.filter((e) => e.summary);
    const worst = Math.max(...paged.map((e) => e.latencyMs.p50));
    const biggest = Math.max(...summaries.map((e) => e.bytes));
    out.push({
      id: 'B6 pages',
      target: `status reads at ${r.b6.packages.toLocaleString('en')} packages: p50 ≤ 50 ms per page of 500`,
      measured: paged.map((e) => `${e.name.split(':')[0]} p50 ${e.latencyMs.p50} ms`).join(', '),
      met: worst <= 50,
    });
    out.push({
      id: 'B6 summary',
      target: 'a summary answer under 2 KB',
      measured: summaries.map((e) => `${e.name} ${e.bytes} B, p50 ${e.latencyMs.p50} ms`).join('; '),
      met: biggest < 2048,
    });
  }
  if (r.b7) {
    for (const p of r.b7.byPlacement) {
      out.push({
        id: `B7 ${p.placement}`,
        target: 'malicious samples high or critical ≥ 90 %, benign look-alikes high ≤ 5 %',
        measured: `${p.truePositiveRate} % of ${p.malicious} malicious, ${p.falsePositiveRate} % of ${p.benign} benign`,
        met: p.truePositiveRate >= 90 && p.falsePositiveRate <= 5,
      });
    }
  }
  if (r.b8) {
    out.push({
      id: 'B8',
      target: `a ${r.b8.smallPackages}-package request behind another user's ${r.b8.bigPackages} settles in about the time it takes alone`,
      measured: `${round(r.b8.behindMs / 1000, 2)} s behind vs ${round(r.b8.aloneMs / 1000, 2)} s alone (×${r.b8.ratio})`,
      met: !r.b8.timedOut && r.b8.ratio <= 3,
    });
  }
  if (r.b9) {
    out.push({
      id: 'B9',
      target: `${r.b9.changedAdvisories} changed advisories re-evaluated against ${r.b9.versions} published versions in seconds (≤ 10 s)`,
      measured: `${round(r.b9.firstRunMs / 1000, 2)} s (${r.b9.matched} matches), again ${round(r.b9.rerunMs / 1000, 2)} s`,
      met: r.b9.firstRunMs <= 10_000,
    });
  }
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const cfg = benchConfig();
  const started = new Date();
  const log = (s: string) => process.stdout.write(`${s}\n`);
  installQueryCounter();
  const server = serverUrl();
  const factory = new DatabaseFactory(server);
  const machine = {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: round(totalmem() / 2 ** 30, 1),
    freeMemoryGb: round(freemem() / 2 ** 30, 1),
    node: process.version,
    postgres: await serverVersion(server),
    loadAverageAtStart: loadavg().map((x) => round(x, 2)),
    loadAverageAtEnd: [] as number[],
  };
  log(
    `spm bench: ${machine.nproc} cores, ${machine.memoryGb} GB, Node ${machine.node}, PostgreSQL ${machine.postgres}, load ${machine.loadAverageAtStart.join(' ')}`,
  );
  const results: Results = {};
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    log(`${name} …`);
    try {
      return await fn();
    } finally {
      timings[name] = round((Date.now() - t0) / 1000, 1);
    }
  };
  try {
    if (cfg.only.includes('b1'))
      results.b1 = await timed('B1 ingest', () => benchIngest(factory, { ...cfg.ingest, log }));
    if (cfg.only.includes('b2'))
      results.b2 = await timed('B2 queue overhead', () => benchQueue(factory, { ...cfg.queue, log }));
    if (cfg.only.includes('b3'))
      results.b3 = await timed('B3 wake-up latency', () => benchWakeup(factory, { ...cfg.wakeup, log }));
    if (cfg.only.includes('b4'))
      results.b4 = await timed('B4 end to end', () => benchEndToEnd(factory, { ...cfg.e2e, log }));
    if (cfg.only.includes('b5'))
      results.b5 = await timed('B5 crash soak', () => benchCrash(factory, { ...cfg.crash, log }));
    if (cfg.only.includes('b6'))
      results.b6 = await timed('B6 status reads', () => benchStatusReads(factory, { ...cfg.status, log }));
    if (cfg.only.includes('b7')) results.b7 = await timed('B7 detection', () => benchDetection({ log }));
    if (cfg.only.includes('b8'))
      results.b8 = await timed('B8 fairness', () => benchFairness(factory, { ...cfg.fairness, log }));
    if (cfg.only.includes('b9'))
      results.b9 = await timed('B9 re-evaluation', () => benchReevaluation(factory, { ...cfg.reevaluation, log }));
  } finally {
    await factory.close();
  }
  machine.loadAverageAtEnd = loadavg().map((x) => round(x, 2));
  const finished = new Date();
  const t = targets(results);
  const report = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: round((finished.getTime() - started.getTime()) / 1000, 1),
    secondsPerBenchmark: timings,
    machine,
    config: cfg,
    targets: t,
    results,
  };

  const rows: string[][] = [['benchmark', 'figure', 'value']];
  const { b1, b2, b3, b4, b5, b6, b7, b8, b9 } = results;
  if (b1) {
    rows.push([
      'B1 ingest',
      `202 latency, first-time (${b1.distinctPackages} new packages)`,
      `p50 ${b1.firstTime.latencyMs.p50} ms, p95 ${b1.firstTime.latencyMs.p95} ms`,
    ]);
    rows.push([
      '',
      '202 latency, already known',
      `p50 ${b1.alreadyKnown.latencyMs.p50} ms, p95 ${b1.alreadyKnown.latencyMs.p95} ms`,
    ]);
    rows.push([
      '',
      'statements per upload (first / known)',
      `${b1.firstTime.statementsPerUpload} / ${b1.alreadyKnown.statementsPerUpload}`,
    ]);
    rows.push([
      '',
      'database time per upload (first / known)',
      `${b1.firstTime.dbMsPerUpload} / ${b1.alreadyKnown.dbMsPerUpload} ms`,
    ]);
  }
  if (b2) {
    for (const c of b2.byConcurrency) {
      rows.push([
        `B2 queue c=${c.concurrency}`,
        `ours (${b2.packages} packages, 10 transitions each)`,
        `${c.oursPackagesPerSec} packages/s, ${c.oursTransitionsPerSec} transitions/s`,
      ]);
      rows.push([
        '',
        'graphile-worker default / batched',
        `${c.graphileDefaultJobsPerSec} / ${c.graphileBatchedJobsPerSec} jobs/s`,
      ]);
      rows.push(['', 'ratio ours ÷ graphile (default / batched)', `${c.ratioVsDefault} / ${c.ratioVsBatched}`]);
      const st = mean0(c.ours.map((o) => o.statementsPerPackage));
      rows.push(['', 'statements per package / per graphile job', `${round(st, 1)} / ${c.graphileStatementsPerJob}`]);
    }
  }
  if (b3) {
    rows.push([
      'B3 wake-up',
      `NOTIFY: enqueue→claim (${b3.notify.uploads} uploads)`,
      `p50 ${b3.notify.enqueueToClaimMs.p50} ms, p95 ${b3.notify.enqueueToClaimMs.p95} ms`,
    ]);
    rows.push([
      '',
      'NOTIFY: upload sent→claim / 202→claim',
      `p50 ${b3.notify.sentToClaimMs.p50} ms / ${b3.notify.acceptedToClaimMs.p50} ms`,
    ]);
    rows.push([
      '',
      `polling only, WORKER_SLEEP_INTERVAL=${b3.polling.sleepIntervalSeconds} s (${b3.polling.uploads} uploads)`,
      `p50 ${b3.polling.enqueueToClaimMs.p50} ms, p95 ${b3.polling.enqueueToClaimMs.p95} ms`,
    ]);
  }
  if (b4) {
    rows.push([
      'B4 end to end',
      `npm ci --ignore-scripts (${b4.distinctPackages} packages, ${b4.corpusMb} MB)`,
      `${round(b4.npmCiMeanMs / 1000, 2)} s (${b4.npmPackagesPerSec} packages/s)`,
    ]);
    rows.push([
      '',
      `gate: ${b4.workers} worker(s) × ${b4.concurrency} slots (I/O ${b4.ioConcurrency}, CPU ${b4.cpuConcurrency}), all stages`,
      `${round(b4.gateMeanMs / 1000, 2)} s (${b4.gatePackagesPerSec} packages/s)`,
    ]);
    rows.push(['', 'ratio gate ÷ npm ci', `${b4.ratio}`]);
    rows.push(['', 'worker peak RSS (VmHWM)', `${b4.workerPeakRssMb} MB`]);
    rows.push(['', 'end states', JSON.stringify(b4.gate.at(-1)?.statuses ?? {})]);
  }
  if (b5) {
    rows.push([
      'B5 crash soak',
      `${b5.packages} packages, ${b5.kills.length} SIGKILLs, lease ${b5.leaseSeconds} s`,
      `${round(b5.ms / 1000, 2)} s (${b5.packagesPerSec} packages/s)`,
    ]);
    rows.push([
      '',
      'kills at (s, share of stages done)',
      b5.kills.map((k) => `${k.atS} s/${Math.round(k.progress * 100)} %`).join(', '),
    ]);
    rows.push([
      '',
      'in flight on the killed worker / lease resets',
      `${b5.kills.reduce((a, k) => a + k.inFlight, 0)} / ${b5.leaseResets} (${b5.systemEvents} system events)`,
    ]);
    rows.push(['', 'worker processes / time with 2 at once', `${b5.workerProcesses} / ${b5.twoWorkersS} s`]);
    rows.push([
      '',
      'duplicate / missing stage completions',
      `${b5.duplicateEvents} (${b5.duplicatePairs} pairs) / ${b5.missing}`,
    ]);
    rows.push([
      '',
      'overlapping claims / writes without the claim / chain breaks',
      `${b5.overlaps} / ${b5.foreignWrites} / ${b5.chainBreaks}`,
    ]);
    rows.push(['', 'end states', JSON.stringify(b5.statuses)]);
  }
  if (b6) {
    b6.endpoints.forEach((e, i) => {
      rows.push([
        i === 0 ? `B6 status reads (${b6.packages} packages)` : '',
        e.name,
        `p50 ${e.latencyMs.p50} ms, p95 ${e.latencyMs.p95} ms, ${e.bytes} B${e.status === 304 ? ' (304)' : ''}`,
      ]);
    });
  }
  if (b7) {
    for (const p of b7.byPlacement) {
      rows.push([
        p.placement === b7.byPlacement[0]!.placement ? 'B7 detection' : '',
        `${p.placement === 'install' ? 'postinstall' : 'index.js'}: malicious high or critical / any finding`,
        `${p.maliciousHigh}/${p.malicious} (${p.truePositiveRate} %) / ${p.maliciousAny}/${p.malicious}`,
      ]);
      rows.push([
        '',
        `${p.placement === 'install' ? 'postinstall' : 'index.js'}: benign high`,
        `${p.benignHigh}/${p.benign} (${p.falsePositiveRate} %)`,
      ]);
    }
    rows.push(['', 'scan time per package (mean)', `${b7.scanMs.meanPerPackage} ms`]);
  }
  if (b8) {
    rows.push([
      'B8 fairness',
      `${b8.smallPackages}-package request alone (${b8.concurrency} slots)`,
      `${round(b8.aloneMs / 1000, 2)} s`,
    ]);
    rows.push([
      '',
      `behind another user's ${b8.bigPackages}-package request`,
      `${round(b8.behindMs / 1000, 2)} s${b8.timedOut ? ' (timed out)' : ''}, ${b8.bigSettledMeanwhile} of the big one settled meanwhile`,
    ]);
  }
  if (b9) {
    rows.push([
      'B9 re-evaluation',
      `${b9.changedAdvisories} changed advisories × ${b9.versions} published versions`,
      `${round(b9.firstRunMs / 1000, 2)} s first run (${b9.matched} matches, ${b9.quarantined} quarantined)`,
    ]);
    rows.push(['', 'the matching join alone (nothing written)', `${round(b9.matchOnlyMs / 1000, 2)} s`]);
    rows.push(['', 'the same advisories again (all findings known)', `${round(b9.rerunMs / 1000, 2)} s`]);
  }
  log('');
  log(table(rows));
  log('');
  log(
    table([
      ['target (DESIGN §10)', 'measured', 'met'],
      ...t.map((x) => [`${x.id}: ${x.target}`, x.measured, x.met ? 'yes' : 'NO']),
    ]),
  );

  const dir = new URL('../results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  await writeFile(new URL(`${stamp}.json`, dir), json);
  await writeFile(new URL('latest.json', dir), json);
  log(`\nwritten: bench/results/${stamp}.json and bench/results/latest.json (${report.durationSeconds} s)`);
}

function mean0(a: number[]): number {
  return a.length ? a.reduce((x, y) => x + y, 0) / a.length : 0;
}

main().then(
  // Exit explicitly: a stray keep-alive socket must not hold the run open.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
