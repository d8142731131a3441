import { sql } from 'kysely';
import type { DB } from '../db.js';
import { CHECKPOINTS, WORK_STATUSES } from '../status.js';

const checkpointList = sql.raw(CHECKPOINTS.map((s) => `'${s}'`).join(', '));
const workList = sql.raw(WORK_STATUSES.map((s) => `'${s}'`).join(', '));

export interface ProcessingStatus {
  counts: Record<string, number>;
  total: number;
  queueDepth: number;
  runnableNow: number;
  inProgress: number;
  oldestRunnableAgeSeconds: number | null;
  stuckResets: number;
  retries: number;
  workers: Array<{
    id: string;
    hostname: string;
    pid: number;
    startedAt: Date;
    lastHeartbeat: Date;
    heartbeatAgeSeconds: number;
    inFlight: number;
    alive: boolean;
  }>;
  recentActivity: Array<{
    packageId: number;
    name: string;
    version: string;
    from: string | null;
    to: string;
    actor: string;
    reason: string | null;
    at: Date;
  }>;
}

/** Everything the processing-status endpoint shows, in a handful of reads. */
export async function getProcessingStatus(
  db: DB,
  opts: { recentLimit?: number; workerAliveSeconds?: number } = {},
): Promise<ProcessingStatus> {
  const aliveSeconds = opts.workerAliveSeconds ?? 60;
  const [counts, queue, workers, recent] = await Promise.all([
    db
      .selectFrom('package_status')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute(),
    sql<{
      queue_depth: number;
      runnable_now: number;
      in_progress: number;
      oldest_age: number | null;
      stuck_resets: number;
      retries: number;
    }>`
      SELECT count(*) FILTER (WHERE status IN (${checkpointList}))::int AS queue_depth,
             count(*) FILTER (WHERE status IN (${checkpointList}) AND run_at <= now())::int AS runnable_now,
             count(*) FILTER (WHERE status IN (${workList}))::int AS in_progress,
             extract(epoch FROM now() - min(run_at) FILTER (WHERE status IN (${checkpointList}) AND run_at <= now()))::float8 AS oldest_age,
             coalesce(sum(stuck_resets), 0)::int AS stuck_resets,
             coalesce(sum(retries), 0)::int AS retries
      FROM package_status
    `.execute(db),
    sql<{
      id: string;
      hostname: string;
      pid: number;
      started_at: Date;
      last_heartbeat: Date;
      age: number;
      in_flight: number;
      stopped_at: Date | null;
    }>`
      SELECT id, hostname, pid, started_at, last_heartbeat, in_flight, stopped_at,
             extract(epoch FROM now() - last_heartbeat)::float8 AS age
      FROM workers
      WHERE stopped_at IS NULL OR stopped_at > now() - interval '1 hour'
      ORDER BY last_heartbeat DESC LIMIT 50
    `.execute(db),
    db
      .selectFrom('package_events as e')
      .innerJoin('packages as p', 'p.id', 'e.package_id')
      .select([
        'e.package_id',
        'p.name',
        'p.version',
        'e.from_status',
        'e.to_status',
        'e.actor',
        'e.reason',
        'e.created_at',
      ])
      .orderBy('e.id', 'desc')
      .limit(opts.recentLimit ?? 20)
      .execute(),
  ]);
  const countMap: Record<string, number> = {};
  let total = 0;
  for (const c of counts) {
    countMap[c.status] = Number(c.n);
    total += Number(c.n);
  }
  const q = queue.rows[0]!;
  return {
    counts: countMap,
    total,
    queueDepth: q.queue_depth,
    runnableNow: q.runnable_now,
    inProgress: q.in_progress,
    oldestRunnableAgeSeconds: q.oldest_age === null ? null : Number(q.oldest_age),
    stuckResets: q.stuck_resets,
    retries: q.retries,
    workers: workers.rows.map((w) => ({
      id: w.id,
      hostname: w.hostname,
      pid: w.pid,
      startedAt: w.started_at,
      lastHeartbeat: w.last_heartbeat,
      heartbeatAgeSeconds: Number(w.age),
      inFlight: w.in_flight,
      alive: w.stopped_at === null && Number(w.age) < aliveSeconds,
    })),
    recentActivity: recent.map((r) => ({
      packageId: r.package_id,
      name: r.name,
      version: r.version,
      from: r.from_status,
      to: r.to_status,
      actor: r.actor,
      reason: r.reason,
      at: r.created_at,
    })),
  };
}
