import { sql } from 'kysely';
import type { DB } from '../db.js';
import { CHECKPOINTS, STAGES, Status, WORK_STATUSES, type StageName } from '../status.js';

const checkpointList = sql.raw(CHECKPOINTS.map((s) => `'${s}'`).join(', '));
const workList = sql.raw(WORK_STATUSES.map((s) => `'${s}'`).join(', '));

export interface ProcessingStatus {
  counts: Record<string, number>;
  total: number;
  queueDepth: number;
  runnableNow: number;
  inProgress: number;
  oldestRunnableAgeSeconds: number | null;
  /** How long the package that has waited longest for a person has waited (null: none waits). */
  pendingApprovalOldestAgeSeconds: number | null;
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
    /** Never stopped, but its heartbeat is older than the alive window: crashed or hung. */
    stale: boolean;
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
      pending_age: number | null;
      stuck_resets: number;
      retries: number;
    }>`
      SELECT count(*) FILTER (WHERE status IN (${checkpointList}))::int AS queue_depth,
             count(*) FILTER (WHERE status IN (${checkpointList}) AND run_at <= now())::int AS runnable_now,
             count(*) FILTER (WHERE status IN (${workList}))::int AS in_progress,
             extract(epoch FROM now() - min(run_at) FILTER (WHERE status IN (${checkpointList}) AND run_at <= now()))::float8 AS oldest_age,
             extract(epoch FROM now() - min(updated_at) FILTER (WHERE status = ${Status.PendingApproval}))::float8 AS pending_age,
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
    pendingApprovalOldestAgeSeconds: q.pending_age === null ? null : Number(q.pending_age),
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
      stale: w.stopped_at === null && Number(w.age) >= aliveSeconds,
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

export interface SecondsStats {
  count: number;
  avg: number;
  p50: number;
  p95: number;
  max: number;
}

export interface StageTimings {
  /** How many of the newest package events the figures come from, and the oldest of them. */
  events: number;
  since: Date | null;
  stages: Array<{
    stage: StageName;
    /** Time in the stage's work status (held by a worker). */
    work: SecondsStats | null;
    /** Time waiting at the stage's checkpoint before a worker claimed it (backoff included). */
    wait: SecondsStats | null;
  }>;
}

/**
 * Time per stage over the newest `recentEvents` package events (by id, so the read stays cheap on a
 * long history): how long packages waited at each checkpoint and worked in each stage.
 */
export async function getStageTimings(db: DB, opts: { recentEvents?: number } = {}): Promise<StageTimings> {
  const limit = opts.recentEvents ?? 10_000;
  const res = await sql<{
    status: string | null;
    n: number;
    avg: number;
    p50: number;
    p95: number;
    max: number;
    events: number;
    since: Date | null;
  }>`
    WITH recent AS (
      SELECT id, package_id, to_status, created_at FROM package_events ORDER BY id DESC LIMIT ${limit}
    ), paired AS (
      SELECT to_status, extract(epoch FROM lead(created_at) OVER (PARTITION BY package_id ORDER BY id) - created_at)
               ::float8 AS secs
      FROM recent
    ), timed AS (
      SELECT to_status AS status, count(*)::int AS n, avg(secs)::float8 AS avg,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY secs)::float8 AS p50,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY secs)::float8 AS p95, max(secs)::float8 AS max
      FROM paired WHERE secs IS NOT NULL GROUP BY to_status
    )
    SELECT t.*, w.events, w.since
    FROM (SELECT count(*)::int AS events, min(created_at) AS since FROM recent) w
    LEFT JOIN timed t ON true
  `.execute(db);
  const by = new Map(res.rows.filter((r) => r.status !== null).map((r) => [r.status!, r]));
  const stats = (status: string): SecondsStats | null => {
    const r = by.get(status);
    return r ? { count: r.n, avg: r.avg, p50: r.p50, p95: r.p95, max: r.max } : null;
  };
  return {
    events: res.rows[0]?.events ?? 0,
    since: res.rows[0]?.since ?? null,
    stages: STAGES.map((s) => ({ stage: s.name, work: stats(s.work), wait: stats(s.checkpoint) })),
  };
}
