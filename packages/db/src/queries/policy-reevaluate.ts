import { sql } from 'kysely';
import type { DB } from '../db.js';
import { recordAudit } from './audit.js';
import { storableText } from '../outside-text.js';
import { Status, WAKE_CHANNEL } from '../status.js';

/**
 * After the policy or a waiver changed: packages still waiting that were decided under an older change
 * generation go back to the decide stage, at most `limit` per call (bounded work; the worker calls it
 * again until it returns 0). A package the policy held (Pending Approval, or still undecided from before
 * the policy existed) returns to Security Scanned; a version in cooldown keeps its status and is due at
 * once. One statement: SKIP LOCKED, so several workers share the work and a package an approver is
 * deciding right now is skipped. Returns the ids sent back.
 *
 * Nothing a person or the policy already let through (Approved, Publishing, Published) is touched.
 */
export async function requeueForPolicyChange(db: DB, opts: { limit: number; actor: string }): Promise<number[]> {
  if (opts.limit <= 0) return [];
  const reason = 'the policy or a waiver changed: evaluated again';
  const res = await sql<{ package_id: number }>`
    WITH g AS (SELECT coalesce(max(generation), 0) AS g FROM policy_changes),
    stale AS (
      SELECT ps.package_id, ps.status AS from_status FROM package_status ps, g
      WHERE coalesce(ps.policy_generation, 0) < g.g
        AND (ps.status = ${Status.PendingApproval}
             OR (ps.status = ${Status.SecurityScanned} AND ps.policy_outcome = 'wait' AND ps.run_at > now()))
      ORDER BY ps.priority, ps.package_id
      LIMIT ${opts.limit}
      FOR UPDATE SKIP LOCKED
    ), moved AS (
      UPDATE package_status ps
      SET status = ${Status.SecurityScanned}, run_at = now(), attempts = 0, updated_at = now()
      FROM stale s WHERE ps.package_id = s.package_id
      RETURNING ps.package_id, s.from_status
    ), ev AS (
      INSERT INTO package_events (package_id, from_status, to_status, actor, actor_kind, reason)
      SELECT package_id, from_status, ${Status.SecurityScanned}, ${storableText(opts.actor)}, 'system', ${reason}
      FROM moved
    ), wake AS (
      SELECT pg_notify(${WAKE_CHANNEL}, '') FROM (SELECT 1 FROM moved LIMIT 1) x
    )
    SELECT package_id FROM moved
  `.execute(db);
  return res.rows.map((r) => Number(r.package_id));
}

export interface CooldownRelease {
  released: number[];
  /** Packages that were not waiting in a cooldown, with their status. */
  skipped: Array<{ packageId: number; status: string | null }>;
}

/**
 * An approver releases versions from their cooldown early, with a reason: each package waiting in a
 * cooldown (Security Scanned, policy outcome `wait`) records who released it and why, becomes due at
 * once, and the policy decides it without the cooldown. One transaction with the audit entry and the
 * events; workers are woken. Packages not in a cooldown are skipped, never changed.
 */
export async function releaseCooldown(
  db: DB,
  opts: { packageIds: number[]; userId: number; username: string; reason: string; ip?: string | null },
): Promise<CooldownRelease> {
  const reason = storableText(opts.reason) ?? '';
  return db.transaction().execute(async (trx) => {
    const res = await sql<{ package_id: number }>`
      UPDATE package_status
      SET cooldown_released_by = ${opts.username}, cooldown_release_reason = ${reason},
          cooldown_released_at = now(), run_at = now(), updated_at = now()
      WHERE package_id = ANY(${opts.packageIds}::bigint[])
        AND status = ${Status.SecurityScanned} AND policy_outcome = 'wait'
      RETURNING package_id
    `.execute(trx);
    const released = res.rows.map((r) => Number(r.package_id));
    const skippedIds = opts.packageIds.filter((id) => !released.includes(id));
    const statuses = skippedIds.length
      ? await trx
          .selectFrom('package_status')
          .select(['package_id', 'status'])
          .where('package_id', 'in', skippedIds)
          .execute()
      : [];
    if (released.length) {
      await trx
        .insertInto('package_events')
        .values(
          released.map((id) => ({
            package_id: id,
            from_status: Status.SecurityScanned,
            to_status: Status.SecurityScanned,
            actor: opts.username,
            actor_kind: 'user' as const,
            reason: `cooldown released early: ${reason}`,
          })),
        )
        .execute();
      await recordAudit(trx, {
        actorId: opts.userId,
        actorUsername: opts.username,
        action: 'policy.cooldown.release',
        targetType: 'package',
        targetId: released.join(',').slice(0, 500),
        details: { packageIds: released, reason },
        ip: opts.ip ?? null,
      });
      await sql`SELECT pg_notify(${WAKE_CHANNEL}, '')`.execute(trx);
    }
    return {
      released,
      skipped: skippedIds.map((id) => ({
        packageId: id,
        status: statuses.find((s) => Number(s.package_id) === id)?.status ?? null,
      })),
    };
  });
}
