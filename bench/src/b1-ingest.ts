import { createUser, type DatabaseFactory } from './db.js';
import { startApi } from './api.js';
import { planLockfile, renderLockfile } from './lockfile.js';
import { queryStats, traceQueries } from './query-counter.js';
import { summarize, mean, round, type Summary } from './stats.js';

export interface B1Result {
  entries: number;
  distinctPackages: number;
  bodyBytes: number;
  uploads: number;
  firstTime: { latencyMs: Summary; statementsPerUpload: number; dbMsPerUpload: number };
  alreadyKnown: { latencyMs: Summary; statementsPerUpload: number; dbMsPerUpload: number };
  /** One traced upload of each kind: every statement the API sent, with its time in flight. */
  profile: { firstTime: Array<{ sql: string; ms: number }>; alreadyKnown: Array<{ sql: string; ms: number }> };
}

/**
 * B1: a 2,000-entry v3 lockfile uploaded to the real API over HTTP. "First time" uploads carry only
 * name@versions the database has never seen (same tree shape, every version shifted); "already known"
 * re-uploads one lockfile whose packages are all linked as existing. The two alternate.
 */
export async function benchIngest(
  factory: DatabaseFactory,
  opts: { entries: number; uploads: number; log: (s: string) => void },
): Promise<B1Result> {
  const b = await factory.fresh('ingest');
  const api = await startApi(b.url);
  try {
    await createUser(b.db, 'bench-user', 'bench-password-1', 'user');
    const token = await api.login('bench-user', 'bench-password-1');
    const known = JSON.stringify(renderLockfile(planLockfile({ count: opts.entries, seed: 11 })));
    // Fresh bodies are rendered up front so the timing covers only HTTP + API + database.
    const fresh = Array.from({ length: opts.uploads + 3 }, (_, i) =>
      JSON.stringify(renderLockfile(planLockfile({ count: opts.entries, seed: 11, majorOffset: 100 * (i + 1) }))),
    );
    const upload = async (body: string) => {
      const q0 = queryStats(b.name);
      const r = await api.upload(token, body);
      const q1 = queryStats(b.name);
      if (r.status !== 202) throw new Error(`upload answered ${r.status}: ${JSON.stringify(r.json).slice(0, 500)}`);
      return { ms: r.ms, statements: q1.n - q0.n, dbMs: q1.ms - q0.ms, json: r.json };
    };
    // Warm-up (JIT, pool, plan caches): the known lockfile once (its packages become known) and 3 fresh ones.
    const first = await upload(known);
    for (let i = 0; i < 3; i++) await upload(fresh[opts.uploads + i]!);
    const newRuns: Array<{ ms: number; statements: number; dbMs: number }> = [];
    const knownRuns: Array<{ ms: number; statements: number; dbMs: number }> = [];
    for (let i = 0; i < opts.uploads; i++) {
      const n = await upload(fresh[i]!);
      if (n.json.existing_packages !== 0)
        throw new Error(`a first-time upload found ${String(n.json.existing_packages)} existing packages`);
      newRuns.push(n);
      const k = await upload(known);
      if (k.json.new_packages !== 0)
        throw new Error(`an already-known upload found ${String(k.json.new_packages)} new packages`);
      knownRuns.push(k);
    }
    const traced = async (body: string) => {
      const stop = traceQueries();
      await upload(body);
      return stop()
        .filter((q) => q.db === b.name)
        .map((q) => ({ sql: q.sql, ms: round(q.ms) }));
    };
    const profile = {
      firstTime: await traced(
        JSON.stringify(
          renderLockfile(planLockfile({ count: opts.entries, seed: 11, majorOffset: 100 * (opts.uploads + 10) })),
        ),
      ),
      alreadyKnown: await traced(known),
    };
    const r: B1Result = {
      profile,
      entries: opts.entries,
      distinctPackages: Number(first.json.package_count),
      bodyBytes: known.length,
      uploads: opts.uploads,
      firstTime: {
        latencyMs: summarize(newRuns.map((x) => x.ms)),
        statementsPerUpload: round(mean(newRuns.map((x) => x.statements))),
        dbMsPerUpload: round(mean(newRuns.map((x) => x.dbMs))),
      },
      alreadyKnown: {
        latencyMs: summarize(knownRuns.map((x) => x.ms)),
        statementsPerUpload: round(mean(knownRuns.map((x) => x.statements))),
        dbMsPerUpload: round(mean(knownRuns.map((x) => x.dbMs))),
      },
    };
    opts.log(
      `  B1 first-time p50 ${r.firstTime.latencyMs.p50} ms p95 ${r.firstTime.latencyMs.p95} ms; already-known p50 ${r.alreadyKnown.latencyMs.p50} ms p95 ${r.alreadyKnown.latencyMs.p95} ms`,
    );
    return r;
  } finally {
    await api.close();
    await b.destroy();
  }
}
