import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { enqueueLockfile, type DB, type LockfilePackage } from '@spm/db';
import type { BuiltPackage } from '@spm/testkit';

export const WORKER_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
export const HEALTH_MAIN = fileURLToPath(new URL('../../dist/cli/health.js', import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  time: number;
  [key: string]: unknown;
}

export interface WorkerProcess {
  proc: ChildProcess;
  pid: number;
  logs: LogLine[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<void>;
}

/** Starts the real worker (dist/main.js) as a child process with JSON logs captured. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const proc = spawn(process.execPath, [WORKER_MAIN], {
    env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let err = '';
  let buf = '';
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const l = JSON.parse(line) as LogLine;
        logs.push(l);
        for (const w of [...waiters]) {
          if (w.pred(l)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(l);
          }
        }
      } catch {
        err += `${line}\n`;
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    pid: proc.pid!,
    logs,
    stderr: () => err,
    exited,
    waitForLog(pred, timeoutMs = 20_000) {
      const hit = logs.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise<LogLine>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for a log line; stderr: ${err.slice(-2000)}`)),
          timeoutMs,
        );
        waiters.push({ pred, resolve: (l) => (clearTimeout(t), resolve(l)) });
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Polls `fn` until it returns a truthy value. */
export async function waitFor<T>(
  fn: () => Promise<T> | T,
  timeoutMs = 30_000,
  what = 'condition',
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function lockfileEntry(pkg: BuiltPackage, overrides: Partial<LockfilePackage> = {}): LockfilePackage {
  return {
    name: pkg.name,
    version: pkg.version,
    integrity: pkg.integrity,
    resolved: `https://registry.example.test/${pkg.name}/-/${pkg.name.split('/').pop()}-${pkg.version}.tgz`,
    license: (pkg.manifest.license as string | undefined) ?? null,
    dev: false,
    optional: false,
    ...overrides,
  };
}

export async function enqueue(db: DB, packages: LockfilePackage[]) {
  return enqueueLockfile(db, {
    applicationName: 'app',
    applicationVersion: '1.0.0',
    requestorId: null,
    actor: 'tester',
    lockfile: { lockfileVersion: 3 },
    lockfileVersion: 3,
    packages,
  });
}

export async function tempCacheDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'spm-worker-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function packageId(db: DB, name: string, version = '1.0.0'): Promise<number> {
  const row = await db
    .selectFrom('packages')
    .select('id')
    .where('name', '=', name)
    .where('version', '=', version)
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function statusOf(db: DB, name: string, version = '1.0.0') {
  return db
    .selectFrom('package_status')
    .innerJoin('packages', 'packages.id', 'package_status.package_id')
    .selectAll('package_status')
    .where('packages.name', '=', name)
    .where('packages.version', '=', version)
    .executeTakeFirstOrThrow();
}

export async function eventsOf(db: DB, id: number) {
  return db.selectFrom('package_events').selectAll().where('package_id', '=', id).orderBy('id').execute();
}

/**
 * Checks the exactly-once and no-overlap guarantees from package_events: per package, every claim
 * (checkpoint → work) is followed by that work ending (→ done checkpoint, Rejected, back to the
 * checkpoint) before the next claim, and each stage completes at most once. Returns problems found.
 */
export async function auditEvents(db: DB, workToDone: Record<string, string>): Promise<string[]> {
  const rows = await db.selectFrom('package_events').selectAll().orderBy('package_id').orderBy('id').execute();
  const problems: string[] = [];
  const byPkg = new Map<number, typeof rows>();
  for (const r of rows) {
    if (!byPkg.has(r.package_id)) byPkg.set(r.package_id, []);
    byPkg.get(r.package_id)!.push(r);
  }
  for (const [id, evs] of byPkg) {
    let held: string | null = null;
    const completions = new Map<string, number>();
    for (const e of evs) {
      const isWork = e.to_status in workToDone;
      if (isWork) {
        if (held) problems.push(`package ${id}: claimed ${e.to_status} by ${e.actor} while ${held} held it`);
        held = e.actor;
      } else if (e.from_status && e.from_status in workToDone) {
        if (!held) problems.push(`package ${id}: ${e.from_status} → ${e.to_status} with no holder`);
        if (e.actor_kind === 'worker' && held && e.actor !== held)
          problems.push(`package ${id}: ${e.actor} wrote while ${held} held it`);
        if (workToDone[e.from_status] === e.to_status)
          completions.set(e.from_status, (completions.get(e.from_status) ?? 0) + 1);
        held = null;
      }
    }
    for (const [work, n] of completions) if (n > 1) problems.push(`package ${id}: ${work} completed ${n} times`);
  }
  return problems;
}
