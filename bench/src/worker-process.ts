import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import type { DB } from '@spm/db';
import { sleep } from './stats.js';

/** apps/worker/dist/main.js, found through the @spm/worker package the bench depends on. */
export function workerEntry(): string {
  return join(dirname(fileURLToPath(import.meta.resolve('@spm/worker'))), 'main.js');
}

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** The worker's id as registered in `workers` (the `locked_by` and `actor` of its writes). */
  id: string;
  /** Peak resident set size so far (VmHWM), in MB, sampled from /proc. */
  peakRssMb(): number;
  /** CPU time (user + system) the process has used so far, in seconds. */
  cpuSeconds(): Promise<number | null>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (no shutdown, leases left to expire) and wait until the process has gone. */
  kill(): Promise<void>;
}

async function cpuSeconds(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

async function vmHwmKb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Starts the real worker daemon (`node apps/worker/dist/main.js`) with `env`, its JSON log lines going
 * to `logFile` as an operator's would, and waits until it has registered in `workers`.
 */
export async function startWorkerProcess(opts: {
  db: DB;
  env: Record<string, string>;
  logFile: string;
}): Promise<WorkerProcess> {
  const before = new Set((await opts.db.selectFrom('workers').select('id').execute()).map((r) => r.id));
  const out = createWriteStream(opts.logFile);
  // For profiling the worker, e.g. BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, workerEntry()], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      LOG_FORMAT: 'json',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(out);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exited = code))));
  let peakKb = 0;
  const sampler = setInterval(() => {
    void vmHwmKb(child.pid!).then((kb) => {
      if (kb && kb > peakKb) peakKb = kb;
    });
  }, 200);
  const deadline = Date.now() + 30_000;
  let id: string;
  for (;;) {
    if (exited !== undefined) throw new Error(`the worker exited with ${String(exited)} before registering: ${stderr}`);
    const rows = await opts.db.selectFrom('workers').select('id').where('stopped_at', 'is', null).execute();
    const fresh = rows.find((r) => !before.has(r.id));
    if (fresh) {
      id = fresh.id;
      break;
    }
    if (Date.now() > deadline) throw new Error(`the worker did not register within 30 s: ${stderr}`);
    await sleep(20);
  }
  return {
    child,
    pid: child.pid!,
    id,
    peakRssMb: () => peakKb / 1024,
    cpuSeconds: () => cpuSeconds(child.pid!),
    async stop() {
      const kb = await vmHwmKb(child.pid!);
      if (kb && kb > peakKb) peakKb = kb;
      clearInterval(sampler);
      if (exited === undefined) child.kill('SIGTERM');
      const code = await exit;
      out.end();
      return code;
    },
    async kill() {
      const kb = await vmHwmKb(child.pid!);
      if (kb && kb > peakKb) peakKb = kb;
      clearInterval(sampler);
      if (exited === undefined) child.kill('SIGKILL');
      await exit;
      out.end();
    },
  };
}

/** Counts of packages per status. */
export async function statusCounts(db: DB): Promise<Record<string, number>> {
  const r = await sql<{
    status: string;
    n: number;
  }>`SELECT status, count(*)::int AS n FROM package_status GROUP BY status`.execute(db);
  return Object.fromEntries(r.rows.map((x) => [x.status, x.n]));
}

export interface StageTiming {
  stage: string;
  n: number;
  meanMs: number;
  p95Ms: number;
  totalS: number;
}

/** Per-stage durations from the worker's own log lines (`outcome` + `duration_ms`, claim to recorded outcome). */
export async function stageTimings(logFile: string): Promise<{ stages: StageTiming[]; lines: number; bytes: number }> {
  const text = await readFile(logFile, 'utf8');
  const by = new Map<string, number[]>();
  let lines = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    lines++;
    try {
      const j = JSON.parse(line) as { stage?: string; outcome?: string; duration_ms?: number };
      if (j.stage && j.outcome && typeof j.duration_ms === 'number') {
        const a = by.get(j.stage) ?? [];
        a.push(j.duration_ms);
        by.set(j.stage, a);
      }
    } catch {
      // not a JSON line
    }
  }
  const stages = [...by.entries()].map(([stage, a]) => {
    a.sort((x, y) => x - y);
    const total = a.reduce((x, y) => x + y, 0);
    return {
      stage,
      n: a.length,
      meanMs: Math.round((total / a.length) * 10) / 10,
      p95Ms: a[Math.min(a.length - 1, Math.ceil(a.length * 0.95) - 1)]!,
      totalS: Math.round(total / 100) / 10,
    };
  });
  return { stages, lines, bytes: Buffer.byteLength(text) };
}
