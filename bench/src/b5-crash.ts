import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { STAGES } from '@spm/db';
import { startTestRegistry } from '@spm/testkit';
import { approveEverything, createUser, type BenchDatabase, type DatabaseFactory } from './db.js';
import { startApi } from './api.js';
import { buildCorpus } from './corpus.js';
import { distinctPackages, planLockfile, renderLockfile } from './lockfile.js';
import { startWorkerProcess, statusCounts, type WorkerProcess } from './worker-process.js';
import { round, sleep } from './stats.js';

export interface CrashKill {
  /** Seconds since the upload. */
  atS: number;
  /** Stage completions so far, as a share of 4 × packages, when the kill was sent. */
  progress: number;
  /** Packages Published when the kill was sent. */
  published: number;
  /** Packages the killed worker held in a work status at that moment (left to lease expiry). */
  inFlight: number;
  /** Worker processes running right after the kill and the restart. */
  workersAfter: number;
}

export interface CrashOverlap {
  packageId: number;
  a: { worker: string; status: string; from: string; to: string };
  b: { worker: string; status: string; from: string; to: string };
}

export interface B5Result {
  packages: number;
  distinctPackages: number;
  corpusMb: number;
  leaseSeconds: number;
  ms: number;
  packagesPerSec: number;
  kills: CrashKill[];
  killsPlanned: number;
  /** Worker processes started over the run (the first, the restarts, and the second worker). */
  workerProcesses: number;
  /** Longest stretch with two workers running at once, in seconds. */
  twoWorkersS: number;
  statuses: Record<string, number>;
  /** Lease-expiry resets recorded by the sweep (actor_kind 'system'), and all system events. */
  leaseResets: number;
  systemEvents: number;
  claims: number;
  /** (package, stage) pairs with more than one completion event (work → done), and the extra events. */
  duplicatePairs: number;
  duplicateEvents: number;
  /** (package, stage) pairs of a Published package with no completion event. */
  missing: number;
  /** Work-status events written by a worker other than the one whose claim opened that work interval. */
  foreignWrites: number;
  /** Events whose from_status is not the previous event's to_status. */
  chainBreaks: number;
  /** Pairs of claim intervals of one package, held by different workers, that overlap in time. */
  overlaps: number;
  examples: { duplicates: unknown[]; missing: unknown[]; overlaps: CrashOverlap[]; foreignWrites: unknown[] };
  /** Worker log lines saying a lease was lost while working (the fencing at work). */
  leaseLostLogLines: number;
}

const FINAL = ['Published', 'Rejected'];
const WORK = STAGES.map((s) => s.work as string);
/** Stages completed by a package in each status (Rejected counts as not progressing). */
const DONE_STAGES: Record<string, number> = {
  'Licence Checked': 1,
  Downloading: 1,
  Downloaded: 2,
  'Security Scanning': 2,
  'Security Scanned': 3,
  'Applying Policy': 3,
  'Pending Approval': 4,
  Approved: 4,
  Publishing: 4,
  Published: 5,
};

interface Ev {
  id: number;
  package_id: number;
  from_status: string | null;
  to_status: string;
  actor: string;
  actor_kind: string;
  reason: string | null;
  t: number;
}

/** Exactly-once and overlap checks over the whole `package_events` history. */
async function audit(db: BenchDatabase['db']) {
  const r = await sql<Omit<Ev, 't'> & { created_at: Date }>`
    SELECT id::int AS id, package_id::int AS package_id, from_status, to_status, actor, actor_kind, reason, created_at
    FROM package_events ORDER BY package_id, id
  `.execute(db);
  const published = new Set(
    (
      await sql<{ id: number }>`SELECT package_id::int AS id FROM package_status WHERE status = 'Published'`.execute(db)
    ).rows.map((x) => x.id),
  );
  const byPkg = new Map<number, Ev[]>();
  for (const e of r.rows) {
    const list = byPkg.get(e.package_id) ?? [];
    list.push({ ...e, t: e.created_at.getTime() });
    byPkg.set(e.package_id, list);
  }
  const out = {
    leaseResets: 0,
    systemEvents: 0,
    claims: 0,
    duplicatePairs: 0,
    duplicateEvents: 0,
    missing: 0,
    foreignWrites: 0,
    chainBreaks: 0,
    overlaps: 0,
    examples: {
      duplicates: [] as unknown[],
      missing: [] as unknown[],
      overlaps: [] as CrashOverlap[],
      foreignWrites: [] as unknown[],
    },
  };
  const label = (e: Ev) =>
    `${e.id} ${e.from_status ?? '∅'}→${e.to_status} by ${e.actor} at ${new Date(e.t).toISOString()}`;
  for (const [pkg, evs] of byPkg) {
    const completions = new Map<string, Ev[]>();
    const intervals: Array<{ worker: string; status: string; start: number; end: number; claim: Ev; next?: Ev }> = [];
    let holder: string | null = null;
    for (let i = 0; i < evs.length; i++) {
      const e = evs[i]!;
      if (i > 0 && e.from_status !== evs[i - 1]!.to_status) out.chainBreaks++;
      if (e.actor_kind === 'system') {
        out.systemEvents++;
        if (e.reason?.startsWith('lease expired')) out.leaseResets++;
      }
      const stage = STAGES.find((s) => s.work === e.from_status);
      if (stage && e.actor_kind === 'worker') {
        if (holder !== e.actor) {
          out.foreignWrites++;
          if (out.examples.foreignWrites.length < 5)
            out.examples.foreignWrites.push({ packageId: pkg, holder, event: label(e) });
        }
        if (e.to_status !== stage.checkpoint) {
          const list = completions.get(stage.name) ?? [];
          list.push(e);
          completions.set(stage.name, list);
        }
      }
      const claimed = STAGES.find((s) => s.checkpoint === e.from_status && s.work === e.to_status);
      if (claimed && e.actor_kind === 'worker') {
        out.claims++;
        const next = evs[i + 1];
        intervals.push({
          worker: e.actor,
          status: e.to_status,
          start: e.t,
          end: next ? next.t : Number.POSITIVE_INFINITY,
          claim: e,
          next,
        });
      }
      holder = WORK.includes(e.to_status) ? e.actor : null;
    }
    for (const s of STAGES) {
      const n = completions.get(s.name)?.length ?? 0;
      if (n > 1) {
        out.duplicatePairs++;
        out.duplicateEvents += n - 1;
        if (out.examples.duplicates.length < 5)
          out.examples.duplicates.push({ packageId: pkg, stage: s.name, events: completions.get(s.name)!.map(label) });
      }
      if (n === 0 && published.has(pkg)) {
        out.missing++;
        if (out.examples.missing.length < 5) out.examples.missing.push({ packageId: pkg, stage: s.name });
      }
    }
    for (let i = 0; i < intervals.length; i++) {
      for (let j = i + 1; j < intervals.length; j++) {
        const a = intervals[i]!;
        const b = intervals[j]!;
        if (a.worker !== b.worker && a.start < b.end && b.start < a.end) {
          out.overlaps++;
          if (out.examples.overlaps.length < 5) {
            const side = (x: typeof a) => ({
              worker: x.worker,
              status: x.status,
              from: label(x.claim),
              to: x.next ? label(x.next) : 'open',
            });
            out.examples.overlaps.push({ packageId: pkg, a: side(a), b: side(b) });
          }
        }
      }
    }
  }
  return out;
}

/**
 * B5: a lockfile of N real tarballs gated by the real worker process (a policy that approves everything, short
 * leases) while the worker is SIGKILLed `kills` times, each time a further 15 % of all stage completions
 * (5 × N) have happened, and restarted at once; between the first and the fourth kill a second worker runs
 * beside it (stopped with SIGTERM). At the end, `package_events` is audited: every stage of every
 * package completed exactly once, no two workers' claim intervals on one package overlapping, no
 * work-status write by a worker that did not hold the claim.
 */
export async function benchCrash(
  factory: DatabaseFactory,
  opts: { packages: number; kills: number; leaseSeconds: number; log: (s: string) => void },
): Promise<B5Result> {
  // Entries that repeat a name@version are one package: grow the lockfile until it holds N distinct ones.
  let plan = planLockfile({ count: opts.packages, seed: 5 });
  for (let n = opts.packages + 1; distinctPackages(plan).length < opts.packages; n++)
    plan = planLockfile({ count: n, seed: 5 });
  const corpus = await buildCorpus(plan);
  opts.log(
    `  B5 corpus: ${corpus.packages.length} tarballs, ${round(corpus.totalBytes / 1e6)} MB${corpus.cached ? ' (cached)' : ''}`,
  );
  const registry = await startTestRegistry();
  const tmp = await mkdtemp(join(tmpdir(), 'spm-bench-crash-'));
  const b = await factory.fresh('crash');
  await approveEverything(b.db);
  const api = await startApi(b.url);
  const running: WorkerProcess[] = [];
  const logFiles: string[] = [];
  try {
    for (const p of corpus.packages) registry.add(p);
    const integrity = new Map(corpus.packages.map((p) => [`${p.name}@${p.version}`, p.integrity]));
    const body = JSON.stringify(
      renderLockfile(plan, { registry: registry.url, integrity: (n, v) => integrity.get(`${n}@${v}`)! }),
    );
    const distinct = distinctPackages(plan).length;
    const start = async (): Promise<WorkerProcess> => {
      const logFile = join(tmp, `worker-${logFiles.length}.log`);
      logFiles.push(logFile);
      const w = await startWorkerProcess({
        db: b.db,
        logFile,
        env: {
          DATABASE_URL: b.url,
          SOURCE_REGISTRY_URL: registry.url,
          PACKAGE_CACHE_DIR: join(tmp, 'cache'),
          WORKER_LEASE_SECONDS: String(opts.leaseSeconds),
          WORKER_LISTEN: 'true',
          LOG_LEVEL: 'info',
        },
      });
      running.push(w);
      return w;
    };
    let primary = await start();
    let second: WorkerProcess | null = null;
    let twoSince: number | null = null;
    let twoWorkersMs = 0;

    await createUser(b.db, 'bench-user', 'bench-password-1', 'user');
    const token = await api.login('bench-user', 'bench-password-1');
    const t0 = Date.now();
    const res = await api.upload(token, body);
    if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);

    const kills: CrashKill[] = [];
    let last = '';
    let lastChange = Date.now();
    const deadline = Date.now() + 8 * 60_000;
    for (;;) {
      await sleep(100);
      const counts = await statusCounts(b.db);
      const total = Object.values(counts).reduce((a, x) => a + x, 0);
      const published = counts.Published ?? 0;
      const progress =
        Object.entries(counts).reduce((a, [s, n]) => a + (DONE_STAGES[s] ?? 0) * n, 0) / (STAGES.length * total);
      if (kills.length < opts.kills && progress >= 0.15 * (kills.length + 1)) {
        const killed = primary;
        await killed.kill();
        running.splice(running.indexOf(killed), 1);
        // The dead worker's packages stay in their work status until the lease expires.
        const held = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM package_status WHERE locked_by = ${killed.id}
        `.execute(b.db);
        const atS = round((Date.now() - t0) / 1000, 1);
        primary = await start();
        // A second worker beside the first from the first kill to the fourth.
        if (kills.length === 0 && !second) {
          second = await start();
          twoSince = Date.now();
        } else if (kills.length === 3 && second) {
          await second.stop();
          running.splice(running.indexOf(second), 1);
          second = null;
          twoWorkersMs += Date.now() - twoSince!;
        }
        kills.push({
          atS,
          progress: round(progress, 2),
          published,
          inFlight: held.rows[0]!.n,
          workersAfter: running.length,
        });
        opts.log(
          `  B5 kill ${kills.length} at ${atS} s: ${round(progress * 100)} % of stages done, ${published}/${total} Published, ${held.rows[0]!.n} in flight on the killed worker, ${running.length} worker(s) now`,
        );
        continue;
      }
      const key = JSON.stringify(counts);
      if (key !== last) {
        last = key;
        lastChange = Date.now();
      }
      const final = FINAL.reduce((a, s) => a + (counts[s] ?? 0), 0);
      const working = WORK.reduce((a, s) => a + (counts[s] ?? 0), 0);
      if (final === total) break;
      if (working === 0 && Date.now() - lastChange > 3 * opts.leaseSeconds * 1000) break;
      if (Date.now() > deadline) throw new Error(`B5 did not settle: ${key}`);
    }
    if (second && twoSince) twoWorkersMs += Date.now() - twoSince;
    const lastEvent = await sql<{ t: Date }>`SELECT max(created_at) AS t FROM package_events`.execute(b.db);
    const ms = lastEvent.rows[0]!.t.getTime() - t0;
    const statuses = await statusCounts(b.db);
    for (const w of running) await w.stop();
    running.length = 0;
    const a = await audit(b.db);
    let leaseLostLogLines = 0;
    for (const f of logFiles) {
      const text = await readFile(f, 'utf8').catch(() => '');
      leaseLostLogLines += text.split('\n').filter((l) => l.includes('lease lost')).length;
    }
    const packages = Object.values(statuses).reduce((x, y) => x + y, 0);
    return {
      packages,
      distinctPackages: distinct,
      corpusMb: round(corpus.totalBytes / 1e6),
      leaseSeconds: opts.leaseSeconds,
      ms,
      packagesPerSec: round((packages / ms) * 1000),
      kills,
      killsPlanned: opts.kills,
      workerProcesses: logFiles.length,
      twoWorkersS: round(twoWorkersMs / 1000, 1),
      statuses,
      ...a,
      leaseLostLogLines,
    };
  } finally {
    await Promise.all(running.map((w) => w.kill().catch(() => undefined)));
    await api.close();
    await b.destroy();
    await registry.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
