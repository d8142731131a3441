import pino from 'pino';
import { sql } from 'kysely';
import { SETTLED_STATUSES, enqueueLockfile, type LockfilePackage } from '@spm/db';
import { loadConfig } from '@spm/worker';
import { InstantWorker } from './b2-queue.js';
import { createUser, type BenchDatabase, type DatabaseFactory } from './db.js';
import { fakeIntegrity, tarballUrl, NEUTRAL_REGISTRY } from './lockfile.js';
import { msSince, round, sleep } from './stats.js';

export interface B8Result {
  bigPackages: number;
  smallPackages: number;
  concurrency: number;
  /** Time for the small request to settle with nothing else queued (ms). */
  aloneMs: number;
  /** Time from the small request's 202 to its last package settling, behind the big one (ms). */
  behindMs: number;
  /** behindMs ÷ aloneMs: 1 is perfectly fair. */
  ratio: number;
  /** Packages of the big request settled meanwhile. */
  bigSettledMeanwhile: number;
  /** True when the small request was still unsettled at the deadline (behindMs is then the deadline). */
  timedOut: boolean;
}

function packages(prefix: string, n: number): LockfilePackage[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `${prefix}-${i}`;
    return {
      name,
      version: '1.0.0',
      integrity: fakeIntegrity(name, '1.0.0'),
      resolved: tarballUrl(NEUTRAL_REGISTRY, name, '1.0.0'),
      license: 'MIT',
      dev: false,
      optional: false,
    };
  });
}

async function submit(b: BenchDatabase, userId: number, actor: string, pkgs: LockfilePackage[]): Promise<number> {
  const r = await enqueueLockfile(b.db, {
    applicationName: actor,
    applicationVersion: '1.0.0',
    requestorId: userId,
    actor,
    lockfile: { name: actor, lockfileVersion: 3, packages: {} },
    lockfileVersion: 3,
    packages: pkgs,
  });
  return r.requestId;
}

async function settled(b: BenchDatabase, requestId: number): Promise<number> {
  const r = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
    WHERE rp.request_id = ${requestId} AND ps.status = ANY(${[...SETTLED_STATUSES]}::text[])`.execute(b.db);
  return r.rows[0]!.n;
}

/** Polls every 5 ms until `n` packages of the request are settled or the deadline passes; returns false on timeout. */
async function waitSettled(b: BenchDatabase, requestId: number, n: number, deadline: number): Promise<boolean> {
  while ((await settled(b, requestId)) < n) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

function startWorker(b: BenchDatabase, concurrency: number): InstantWorker {
  const config = loadConfig({
    DATABASE_URL: b.url,
    SOURCE_REGISTRY_URL: 'http://127.0.0.1:9/',
    WORKER_MAX_PACKAGES_PER_CYCLE: String(concurrency),
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
  });
  const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true }));
  return new InstantWorker({ config, logger });
}

/**
 * B8 fairness (DESIGN §10): one user's big request is queued first, and while the worker is busy with
 * it another user queues a small one. Measured: the time from the small request's commit until every
 * one of its packages is settled, beside the time the same small request takes alone. The run stops as
 * soon as the small request is settled (the big one is not drained).
 */
export async function benchFairness(
  factory: DatabaseFactory,
  opts: { big: number; small: number; concurrency: number; timeoutSeconds: number; log: (s: string) => void },
): Promise<B8Result> {
  const b = await factory.fresh('fairness');
  try {
    const bigUser = await createUser(b.db, 'bench-big', 'bench-password-1', 'user');
    const smallUser = await createUser(b.db, 'bench-small', 'bench-password-2', 'user');

    // Alone: the small request with an empty queue.
    let worker = startWorker(b, opts.concurrency);
    await worker.start();
    const a0 = process.hrtime.bigint();
    const aloneId = await submit(b, smallUser, 'bench-small-alone', packages('fair-alone', opts.small));
    await waitSettled(b, aloneId, opts.small, Date.now() + opts.timeoutSeconds * 1000);
    const aloneMs = msSince(a0);
    await worker.shutdown('bench');
    opts.log(`  B8 small request alone: ${round(aloneMs)} ms`);

    // Behind: the big request first, the worker busy with it, then the small one.
    worker = startWorker(b, opts.concurrency);
    const bigId = await submit(b, bigUser, 'bench-big', packages('fair-big', opts.big));
    await worker.start();
    await sleep(500);
    const s0 = process.hrtime.bigint();
    const smallId = await submit(b, smallUser, 'bench-small', packages('fair-small', opts.small));
    const ok = await waitSettled(b, smallId, opts.small, Date.now() + opts.timeoutSeconds * 1000);
    const behindMs = msSince(s0);
    const bigSettledMeanwhile = await settled(b, bigId);
    await worker.shutdown('bench');
    opts.log(
      `  B8 small request behind ${opts.big} packages: ${round(behindMs)} ms${ok ? '' : ' (timed out)'}, ${bigSettledMeanwhile} of the big request settled meanwhile`,
    );
    return {
      bigPackages: opts.big,
      smallPackages: opts.small,
      concurrency: opts.concurrency,
      aloneMs: round(aloneMs),
      behindMs: round(behindMs),
      ratio: round(behindMs / aloneMs, 2),
      bigSettledMeanwhile,
      timedOut: !ok,
    };
  } finally {
    await b.destroy();
  }
}
