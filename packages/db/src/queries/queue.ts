import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database, RejectionKind, PackageStatusTable } from '../schema.js';
import type { DB } from '../db.js';
import {
  CHECKPOINTS,
  STAGES,
  Status,
  WAKE_CHANNEL,
  WORK_STATUSES,
  stageForCheckpoint,
  stageForWork,
  type StageDef,
} from '../status.js';
import { storableJson, storableText } from '../outside-text.js';
import { scanRow, type NewSecurityScan } from './scans.js';

type Executor = Kysely<Database> | Transaction<Database>;

/** A package handed to a worker by {@link claimPackages}. */
export interface ClaimedPackage {
  packageId: number;
  name: string;
  version: string;
  integrity: string | null;
  resolved: string | null;
  declaredLicense: string | null;
  /** The work status now held. */
  status: string;
  /** The checkpoint it came from (and returns to on release). */
  checkpoint: string;
  stage: StageDef;
  attempts: number;
  lockedUntil: Date;
  storageKey: string | null;
  checksum: string | null;
  sizeBytes: number | null;
  registryIntegrity: string | null;
  licenseExpression: string | null;
}

const caseWorkFromCheckpoint = sql.raw(
  `CASE ps.status ${STAGES.map((s) => `WHEN '${s.checkpoint}' THEN '${s.work}'`).join(' ')} END`,
);
const caseCheckpointFromWork = sql.raw(
  `CASE ps.status ${STAGES.map((s) => `WHEN '${s.work}' THEN '${s.checkpoint}'`).join(' ')} END`,
);
const checkpointList = sql.raw(CHECKPOINTS.map((s) => `'${s}'`).join(', '));
const workList = sql.raw(WORK_STATUSES.map((s) => `'${s}'`).join(', '));

/** Sends a wake-up to every listening worker. Delivered when the surrounding transaction commits. */
export async function notifyRunnable(db: Executor): Promise<void> {
  await sql`SELECT pg_notify(${WAKE_CHANNEL}, '')`.execute(db);
}

/**
 * Claims up to `limit` runnable packages in one statement (`FOR UPDATE SKIP LOCKED`), moving each to its
 * work status with a lease held by `workerId`, counting the attempt, and recording the transition in
 * package_events. Concurrent claimers never receive the same package.
 *
 * Order: priority first (a more urgent package always goes before a less urgent one); within one priority
 * the claim takes turns, first between requestors, then between each requestor's requests (a package's
 * lane is the request that queued it), and within a request it goes by run_at, then id. So one user's
 * 20,000-package backlog does not starve another user's 10 packages: each gets every other slot. The lanes
 * are found with a skip scan of package_status_lane_idx and only the first few packages of each lane are
 * ranked, so the cost grows with the number of lanes, not with the backlog.
 */
export async function claimPackages(
  db: Executor,
  opts: {
    workerId: string;
    limit: number;
    leaseSeconds: number;
    /** Only claim packages at these checkpoints (default: every checkpoint). A worker passes the
     * checkpoints of the stages it has a handler for, so the others wait rather than fail. */
    checkpoints?: readonly string[];
  },
): Promise<ClaimedPackage[]> {
  if (opts.limit <= 0) return [];
  if (opts.checkpoints && opts.checkpoints.length === 0) return [];
  const only = opts.checkpoints ? sql`AND ps.status = ANY(${[...opts.checkpoints]}::text[])` : sql``;
  // A few more than the limit per lane, so a claimer racing others still finds unlocked packages.
  const perLane = opts.limit * 2;
  const res = await sql<{
    package_id: number;
    name: string;
    version: string;
    integrity: string | null;
    resolved: string | null;
    declared_license: string | null;
    status: string;
    from_status: string;
    attempts: number;
    locked_until: Date;
    storage_key: string | null;
    checksum: string | null;
    size_bytes: number | null;
    registry_integrity: string | null;
    license_expression: string | null;
  }>`
    WITH RECURSIVE lanes AS (
      (SELECT request_id FROM package_status
       WHERE status IN (${checkpointList}) AND request_id IS NOT NULL ORDER BY request_id LIMIT 1)
      UNION ALL
      SELECT (SELECT ps.request_id FROM package_status ps
              WHERE ps.status IN (${checkpointList}) AND ps.request_id > l.request_id ORDER BY ps.request_id LIMIT 1)
      FROM lanes l WHERE l.request_id IS NOT NULL
    ), heads AS (
      -- The first runnable packages of each lane (and of packages queued outside any request).
      SELECT h.* FROM lanes l CROSS JOIN LATERAL (
        SELECT ps.package_id, ps.priority, ps.run_at, ps.request_id FROM package_status ps
        WHERE ps.request_id = l.request_id AND ps.status IN (${checkpointList}) AND ps.run_at <= now() ${only}
        ORDER BY ps.priority, ps.run_at, ps.package_id LIMIT ${perLane}
      ) h WHERE l.request_id IS NOT NULL
      UNION ALL
      (SELECT ps.package_id, ps.priority, ps.run_at, ps.request_id FROM package_status ps
       WHERE ps.request_id IS NULL AND ps.status IN (${checkpointList}) AND ps.run_at <= now() ${only}
       ORDER BY ps.priority, ps.run_at, ps.package_id LIMIT ${perLane})
    ), in_request AS (
      SELECT h.*, r.requestor_id,
             row_number() OVER (PARTITION BY h.request_id, h.priority ORDER BY h.run_at, h.package_id) AS turn
      FROM heads h LEFT JOIN requests r ON r.id = h.request_id
    ), ranked AS (
      SELECT package_id, priority, request_id,
             row_number() OVER (PARTITION BY requestor_id, priority ORDER BY turn, request_id) AS turn
      FROM in_request
    ), claim_order AS (
      -- As one array, so the locking scan below is a handful of primary-key probes, not a join the
      -- planner might answer by reading the whole table.
      SELECT array_agg(package_id ORDER BY priority, turn, request_id NULLS LAST, package_id) AS ids FROM ranked
    ), candidates AS (
      SELECT ps.package_id, ps.status AS from_status FROM claim_order o JOIN package_status ps ON ps.package_id = ANY(o.ids)
      WHERE ps.status IN (${checkpointList}) AND ps.run_at <= now() ${only}
      ORDER BY array_position(o.ids, ps.package_id)
      LIMIT ${opts.limit}
      FOR UPDATE OF ps SKIP LOCKED
    ), claimed AS (
      UPDATE package_status ps
      SET status = ${caseWorkFromCheckpoint},
          locked_by = ${opts.workerId},
          locked_until = now() + make_interval(secs => ${opts.leaseSeconds}),
          stage_started_at = now(),
          attempts = ps.attempts + 1,
          updated_at = now()
      FROM candidates c
      WHERE ps.package_id = c.package_id
      RETURNING ps.*, c.from_status
    ), ev AS (
      INSERT INTO package_events (package_id, from_status, to_status, actor, actor_kind, attempt)
      SELECT package_id, from_status, status, ${opts.workerId}, 'worker', attempts FROM claimed
    )
    SELECT c.package_id, p.name, p.version, p.integrity, p.resolved, p.declared_license, c.status, c.from_status,
           c.attempts, c.locked_until, c.storage_key, c.checksum, c.size_bytes, c.registry_integrity, c.license_expression
    FROM claimed c JOIN packages p ON p.id = c.package_id
    ORDER BY c.priority, c.run_at, c.package_id
  `.execute(db);
  return res.rows.map((r) => ({
    packageId: r.package_id,
    name: r.name,
    version: r.version,
    integrity: r.integrity,
    resolved: r.resolved,
    declaredLicense: r.declared_license,
    status: r.status,
    checkpoint: r.from_status,
    stage: stageForCheckpoint(r.from_status)!,
    attempts: r.attempts,
    lockedUntil: r.locked_until,
    storageKey: r.storage_key,
    checksum: r.checksum,
    sizeBytes: r.size_bytes,
    registryIntegrity: r.registry_integrity,
    licenseExpression: r.license_expression,
  }));
}

/**
 * Extends the lease of every package this worker still holds among `packageIds`.
 * Returns the ids still held; a package missing from the result was taken away (reset or re-claimed)
 * and its work must stop.
 */
export async function extendLeases(
  db: Executor,
  opts: { workerId: string; packageIds: number[]; leaseSeconds: number },
): Promise<number[]> {
  if (opts.packageIds.length === 0) return [];
  const res = await sql<{ package_id: number }>`
    UPDATE package_status
    SET locked_until = now() + make_interval(secs => ${opts.leaseSeconds})
    WHERE package_id = ANY(${opts.packageIds}::bigint[]) AND locked_by = ${opts.workerId} AND status IN (${workList})
    RETURNING package_id
  `.execute(db);
  return res.rows.map((r) => r.package_id);
}

/** Columns a stage may set on its package when it completes. */
export type StagePatch = Partial<
  Pick<
    { [K in keyof PackageStatusTable]: unknown },
    | 'license_expression'
    | 'license_tier'
    | 'license_score'
    | 'license_flags'
    | 'security_score'
    | 'scan_state'
    | 'checksum'
    | 'size_bytes'
    | 'storage_key'
    | 'registry_integrity'
    | 'published_at'
    | 'published_to'
    | 'registry_published_at'
    | 'registry_deprecated'
    | 'policy_version'
    | 'policy_rule'
    | 'policy_outcome'
    | 'policy_reason'
    | 'policy_decision'
    | 'policy_generation'
    | 'policy_evaluated_at'
    | 'cooldown_until'
  >
>;

function patchAssignments(patch: StagePatch | undefined) {
  const entries = Object.entries(patch ?? {}).filter(([, v]) => v !== undefined);
  return entries.map(([k, v]) => {
    if (k === 'license_flags') return sql`${sql.ref(k)} = ${(v as string[]).map((f) => storableText(f))}::text[]`;
    if (k === 'policy_decision') return sql`${sql.ref(k)} = ${storableJson(v)}::jsonb`;
    return sql`${sql.ref(k)} = ${typeof v === 'string' ? storableText(v) : v}`;
  });
}

/** `INSERT INTO security_scans … SELECT … <from>`: the scan row, only if `from` yields the fenced row. */
function scanInsert(scan: NewSecurityScan, from: RawBuilder<unknown>) {
  const r = scanRow(scan);
  return sql`INSERT INTO security_scans (package_id, scanners, critical, high, medium, low, info, findings, malware, score, duration_ms)
    SELECT ${r.package_id}::bigint, ${r.scanners}::jsonb, ${r.critical}::int, ${r.high}::int, ${r.medium}::int, ${r.low}::int,
      ${r.info}::int, ${r.findings}::jsonb, ${r.malware}::boolean, ${r.score}::int, ${r.duration_ms}::int ${from}`;
}

interface FencedTarget {
  packageId: number;
  workerId: string;
  /** The work status the caller believes the package is in. */
  work: string;
}

/**
 * Completes a stage: fenced on `locked_by = workerId` and the expected work status, the package moves
 * to `to` (passing through `via`, each recorded as an event), its lease is dropped, attempts reset and
 * `patch` applied. When `to` is a checkpoint a wake-up is sent, unless `notify` is false (the caller will
 * claim the next stage itself: a NOTIFY takes a database-wide lock at commit, which serialises busy
 * workers). Returns false, and writes nothing, when the lease was lost.
 *
 * One statement (atomic on its own): this runs once per stage of every package, and as an explicit
 * transaction it cost five round trips (BEGIN, UPDATE, INSERT, NOTIFY, COMMIT).
 */
export async function completeStage(
  db: Executor,
  opts: FencedTarget & {
    to: string;
    via?: string[];
    patch?: StagePatch;
    reason?: string | null;
    details?: unknown;
    notify?: boolean;
    /** A security scan to record with the transition (the scan stage's report), fenced like it. */
    scan?: NewSecurityScan;
    /** The earliest next claim (default now): a cooldown sends the package back to its checkpoint until then. */
    runAt?: Date;
  },
): Promise<boolean> {
  const sets = patchAssignments(opts.patch);
  const hops = [opts.work, ...(opts.via ?? []), opts.to];
  const details = storableJson(opts.details);
  const last = hops.length - 2;
  const events = sql.join(
    hops.slice(1).map((to, i) => {
      const reason = i === last ? storableText(opts.reason) : null;
      return sql`(${i}::int, ${hops[i]!}::text, ${to}::text, ${reason}::text, ${i === last ? details : null}::jsonb)`;
    }),
  );
  const notify = CHECKPOINTS.includes(opts.to as Status) && opts.notify !== false;
  const res = await sql<{ done: number }>`
    WITH done AS (
      UPDATE package_status
      SET status = ${opts.to}, locked_by = NULL, locked_until = NULL, stage_started_at = NULL,
          attempts = 0, run_at = ${opts.runAt ? sql`${opts.runAt}::timestamptz` : sql`now()`}, last_error = NULL,
          updated_at = now()
          ${sets.length ? sql`, ${sql.join(sets)}` : sql``}
      WHERE package_id = ${opts.packageId} AND locked_by = ${opts.workerId} AND status = ${opts.work}
      RETURNING package_id
    ), ev AS (
      INSERT INTO package_events (package_id, from_status, to_status, actor, actor_kind, reason, details)
      SELECT d.package_id, h.from_status, h.to_status, ${opts.workerId}, 'worker', h.reason, h.details
      FROM done d CROSS JOIN (VALUES ${events}) AS h(ord, from_status, to_status, reason, details)
      ORDER BY h.ord
    ), wake AS (
      SELECT pg_notify(${WAKE_CHANNEL}, '') FROM done WHERE ${notify}
    )${opts.scan ? sql`, scan AS (${scanInsert(opts.scan, sql`FROM done`)})` : sql``}
    SELECT (SELECT count(*) FROM done)::int AS done, (SELECT count(*) FROM wake)::int AS woken
  `.execute(db);
  return (res.rows[0]?.done ?? 0) > 0;
}

/**
 * Rejects a package the worker holds (fenced). `kind` is policy (licence, malware, hostile archive)
 * or error (permanent failures such as a missing version or an integrity mismatch).
 */
export async function rejectHeldPackage(
  db: DB,
  opts: FencedTarget & {
    kind: Exclude<RejectionKind, 'approver'>;
    reason: string;
    patch?: StagePatch;
    details?: unknown;
    /** A security scan to record with the rejection, in its transaction. */
    scan?: NewSecurityScan;
  },
): Promise<boolean> {
  const checkpoint = stageForWork(opts.work)?.checkpoint ?? null;
  const reason = storableText(opts.reason);
  return db.transaction().execute(async (trx) => {
    const sets = patchAssignments(opts.patch);
    const res = await sql<{ attempts: number }>`
      UPDATE package_status
      SET status = ${Status.Rejected}, locked_by = NULL, locked_until = NULL, stage_started_at = NULL,
          rejection_kind = ${opts.kind}, rejection_reason = ${reason}, rejected_from = ${checkpoint},
          rejected_at = now(), last_error = ${opts.kind === 'error' ? reason : null}, updated_at = now()
          ${sets.length ? sql`, ${sql.join(sets)}` : sql``}
      WHERE package_id = ${opts.packageId} AND locked_by = ${opts.workerId} AND status = ${opts.work}
      RETURNING attempts
    `.execute(trx);
    const row = res.rows[0];
    if (!row) return false;
    await trx
      .insertInto('package_events')
      .values({
        package_id: opts.packageId,
        from_status: opts.work,
        to_status: Status.Rejected,
        actor: opts.workerId,
        actor_kind: 'worker',
        reason: `${opts.kind}: ${reason}`,
        attempt: row.attempts,
        details: storableJson(opts.details),
      })
      .execute();
    if (opts.scan) await trx.insertInto('security_scans').values(scanRow(opts.scan)).execute();
    return true;
  });
}

/**
 * Records a transient failure of a held package: back to its checkpoint with `run_at` pushed out
 * exponentially (base × 2^(attempts-1), capped at one hour), or Rejected with kind `error` once
 * `maxAttempts` is reached. Fenced; returns what happened, or 'lost' when the lease was gone.
 */
export async function failTransient(
  db: DB,
  opts: FencedTarget & { error: string; maxAttempts: number; backoffBaseMs: number },
): Promise<'retry' | 'rejected' | 'lost'> {
  const stage = stageForWork(opts.work);
  if (!stage) throw new Error(`not a work status: ${opts.work}`);
  const error = storableText(opts.error);
  return db.transaction().execute(async (trx) => {
    const res = await sql<{ status: string; attempts: number; run_at: Date }>`
      UPDATE package_status
      SET status = CASE WHEN attempts >= ${opts.maxAttempts} THEN ${Status.Rejected} ELSE ${stage.checkpoint} END,
          rejection_kind = CASE WHEN attempts >= ${opts.maxAttempts} THEN 'error' ELSE NULL END,
          rejection_reason = CASE WHEN attempts >= ${opts.maxAttempts}
            THEN 'gave up after ' || attempts || ' attempts: ' || ${error} ELSE NULL END,
          rejected_from = CASE WHEN attempts >= ${opts.maxAttempts} THEN ${stage.checkpoint} ELSE NULL END,
          rejected_at = CASE WHEN attempts >= ${opts.maxAttempts} THEN now() ELSE NULL END,
          run_at = now() + make_interval(secs => least(3600, ${opts.backoffBaseMs / 1000}::float8 * power(2, greatest(attempts, 1) - 1))),
          locked_by = NULL, locked_until = NULL, stage_started_at = NULL,
          last_error = ${error}, updated_at = now()
      WHERE package_id = ${opts.packageId} AND locked_by = ${opts.workerId} AND status = ${opts.work}
      RETURNING status, attempts, run_at
    `.execute(trx);
    const row = res.rows[0];
    if (!row) return 'lost';
    const rejected = row.status === Status.Rejected;
    await trx
      .insertInto('package_events')
      .values({
        package_id: opts.packageId,
        from_status: opts.work,
        to_status: row.status,
        actor: opts.workerId,
        actor_kind: 'worker',
        reason: rejected ? `error: gave up after ${row.attempts} attempts: ${error}` : `retry: ${error}`,
        attempt: row.attempts,
        details: JSON.stringify({ runAt: row.run_at }),
      })
      .execute();
    return rejected ? 'rejected' : 'retry';
  });
}

/**
 * Returns packages held by `workerId` to their checkpoint (all of them, or those in `packageIds`),
 * optionally without charging the attempt (graceful shutdown). Returns the ids released.
 */
export async function releaseToCheckpoint(
  db: DB,
  opts: { workerId: string; packageIds?: number[]; chargeAttempt: boolean; reason: string },
): Promise<number[]> {
  return db.transaction().execute(async (trx) => {
    const res = await sql<{ package_id: number; status: string; from_status: string; attempts: number }>`
      WITH held AS (
        SELECT package_id, status AS from_status FROM package_status
        WHERE locked_by = ${opts.workerId} AND status IN (${workList})
          ${opts.packageIds ? sql`AND package_id = ANY(${opts.packageIds}::bigint[])` : sql``}
        FOR UPDATE
      )
      UPDATE package_status ps
      SET status = ${caseCheckpointFromWork}, locked_by = NULL, locked_until = NULL, stage_started_at = NULL,
          attempts = CASE WHEN ${opts.chargeAttempt} THEN ps.attempts ELSE greatest(ps.attempts - 1, 0) END,
          run_at = now(), updated_at = now()
      FROM held h WHERE ps.package_id = h.package_id
      RETURNING ps.package_id, ps.status, h.from_status, ps.attempts
    `.execute(trx);
    if (res.rows.length === 0) return [];
    await trx
      .insertInto('package_events')
      .values(
        res.rows.map((r) => ({
          package_id: r.package_id,
          from_status: r.from_status,
          to_status: r.status,
          actor: opts.workerId,
          actor_kind: 'worker' as const,
          reason: opts.reason,
          attempt: r.attempts,
        })),
      )
      .execute();
    await notifyRunnable(trx);
    return res.rows.map((r) => r.package_id);
  });
}

export interface ResetResult {
  packageId: number;
  from: string;
  to: string;
  why: 'lease_expired' | 'stuck';
}

/**
 * The stuck sweep. A work status whose lease expired (its worker died) or whose stage started more than
 * `stuckTimeoutMinutes` ago (a hung worker) goes back to its checkpoint, or to Rejected (kind error)
 * when it has used up `maxAttempts`. Every reset is counted and recorded in package_events.
 */
export async function resetStuckPackages(
  db: DB,
  opts: { stuckTimeoutMinutes: number; maxAttempts: number; actor?: string },
): Promise<ResetResult[]> {
  const actor = opts.actor ?? 'stuck-sweep';
  return db.transaction().execute(async (trx) => {
    const res = await sql<{
      package_id: number;
      status: string;
      from_status: string;
      why: ResetResult['why'];
      attempts: number;
    }>`
      WITH stuck AS (
        SELECT package_id, status AS from_status,
               CASE WHEN locked_until < now() THEN 'lease_expired' ELSE 'stuck' END AS why
        FROM package_status
        WHERE status IN (${workList})
          AND (locked_until < now() OR stage_started_at < now() - make_interval(mins => ${opts.stuckTimeoutMinutes}))
        FOR UPDATE SKIP LOCKED
      )
      UPDATE package_status ps
      SET status = CASE WHEN ps.attempts >= ${opts.maxAttempts} THEN ${Status.Rejected} ELSE ${caseCheckpointFromWork} END,
          rejection_kind = CASE WHEN ps.attempts >= ${opts.maxAttempts} THEN 'error' ELSE ps.rejection_kind END,
          rejection_reason = CASE WHEN ps.attempts >= ${opts.maxAttempts}
            THEN 'gave up after ' || ps.attempts || ' attempts: the worker died or hung during ' || s.from_status
            ELSE ps.rejection_reason END,
          rejected_from = CASE WHEN ps.attempts >= ${opts.maxAttempts} THEN ${caseCheckpointFromWork} ELSE ps.rejected_from END,
          rejected_at = CASE WHEN ps.attempts >= ${opts.maxAttempts} THEN now() ELSE ps.rejected_at END,
          last_error = CASE WHEN s.why = 'lease_expired' THEN 'lease expired during ' || s.from_status
                            ELSE 'stuck in ' || s.from_status || ' for over ' || ${opts.stuckTimeoutMinutes} || ' minutes' END,
          locked_by = NULL, locked_until = NULL, stage_started_at = NULL,
          stuck_resets = ps.stuck_resets + 1, run_at = now(), updated_at = now()
      FROM stuck s WHERE ps.package_id = s.package_id
      RETURNING ps.package_id, ps.status, s.from_status, s.why, ps.attempts
    `.execute(trx);
    if (res.rows.length === 0) return [];
    await trx
      .insertInto('package_events')
      .values(
        res.rows.map((r) => ({
          package_id: r.package_id,
          from_status: r.from_status,
          to_status: r.status,
          actor,
          actor_kind: 'system' as const,
          reason:
            r.why === 'lease_expired'
              ? 'lease expired (worker died)'
              : `stuck for over ${opts.stuckTimeoutMinutes} minutes`,
          attempt: r.attempts,
        })),
      )
      .execute();
    await notifyRunnable(trx);
    return res.rows.map((r) => ({ packageId: r.package_id, from: r.from_status, to: r.status, why: r.why }));
  });
}

/**
 * Manual retry: Rejected packages of kind `error` (and `policy` when `includePolicy`) go back to the
 * checkpoint they were rejected from, attempts reset. Human rejections are never undone here.
 * Optionally limited to one request's packages. Returns the ids re-queued.
 */
export async function retryRejected(
  db: DB,
  opts: { requestId?: number; includePolicy?: boolean; actor: string; actorKind?: 'user' | 'system' },
): Promise<number[]> {
  const kinds = opts.includePolicy ? ['error', 'policy'] : ['error'];
  return db.transaction().execute(async (trx) => {
    const res = await sql<{ package_id: number; status: string }>`
      UPDATE package_status ps
      SET status = coalesce(ps.rejected_from, ${Status.Requested}), attempts = 0, run_at = now(),
          rejection_kind = NULL, rejection_reason = NULL, rejected_from = NULL, rejected_at = NULL,
          retries = ps.retries + 1, updated_at = now()
      WHERE ps.status = ${Status.Rejected} AND ps.rejection_kind = ANY(${kinds}::text[])
        ${opts.requestId !== undefined ? sql`AND ps.package_id IN (SELECT package_id FROM request_packages WHERE request_id = ${opts.requestId})` : sql``}
      RETURNING ps.package_id, ps.status
    `.execute(trx);
    if (res.rows.length === 0) return [];
    await trx
      .insertInto('package_events')
      .values(
        res.rows.map((r) => ({
          package_id: r.package_id,
          from_status: Status.Rejected,
          to_status: r.status,
          actor: opts.actor,
          actor_kind: opts.actorKind ?? 'user',
          reason: 'manual retry',
        })),
      )
      .execute();
    await notifyRunnable(trx);
    return res.rows.map((r) => r.package_id);
  });
}
