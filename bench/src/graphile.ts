import pg from 'pg';
import { Logger, makeWorkerUtils, run, type Runner } from 'graphile-worker';
import { msSince, sleep } from './stats.js';

const silent = new Logger(() => () => undefined);

export interface GraphileRun {
  mode: 'default' | 'batched';
  jobs: number;
  concurrency: number;
  ms: number;
  jobsPerSec: number;
  /** CPU time of this Node process per job (graphile-worker's runner, pg, the bench's polling), ms. */
  nodeCpuMsPerJob: number;
}

/** Installs graphile-worker's schema in the database (not timed). */
export async function prepareGraphile(url: string): Promise<void> {
  const utils = await makeWorkerUtils({ connectionString: url, logger: silent });
  try {
    await utils.migrate();
  } finally {
    await utils.release();
  }
}

/**
 * Queues `jobs` no-op jobs, then times a graphile-worker runner from start until its job table is
 * empty. `default` is graphile-worker as configured out of the box (one fetch and one completion
 * round trip per job); `batched` is its documented batching (`localQueue`, `completeJobBatchDelay`).
 */
export async function drainGraphile(
  url: string,
  opts: { jobs: number; concurrency: number; mode: 'default' | 'batched' },
): Promise<GraphileRun> {
  const utils = await makeWorkerUtils({ connectionString: url, logger: silent });
  try {
    for (let i = 0; i < opts.jobs; i += 1000) {
      const n = Math.min(1000, opts.jobs - i);
      await utils.addJobs(Array.from({ length: n }, (_, k) => ({ identifier: 'noop', payload: { i: i + k } })));
    }
  } finally {
    await utils.release();
  }
  const probe = new pg.Client({ connectionString: url });
  await probe.connect();
  let runner: Runner | null = null;
  try {
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    runner = await run({
      logger: silent,
      noHandleSignals: true,
      taskList: { noop: async () => undefined },
      preset: {
        worker: {
          connectionString: url,
          concurrentJobs: opts.concurrency,
          maxPoolSize: Math.max(10, opts.concurrency + 2),
          ...(opts.mode === 'batched'
            ? {
                localQueue: { size: Math.max(opts.concurrency * 2, 10) },
                completeJobBatchDelay: 0,
                failJobBatchDelay: 0,
              }
            : {}),
        },
      },
    });
    for (;;) {
      const { rows } = await probe.query<{ n: number }>('SELECT count(*)::int AS n FROM graphile_worker._private_jobs');
      if (rows[0]!.n === 0) break;
      await sleep(10);
    }
    const ms = msSince(start);
    const cpu = process.cpuUsage(cpu0);
    return {
      mode: opts.mode,
      jobs: opts.jobs,
      concurrency: opts.concurrency,
      ms,
      jobsPerSec: (opts.jobs / ms) * 1000,
      nodeCpuMsPerJob: (cpu.user + cpu.system) / 1000 / opts.jobs,
    };
  } finally {
    await runner?.stop().catch(() => undefined);
    await probe.end();
  }
}
