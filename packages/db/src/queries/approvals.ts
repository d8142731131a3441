import { sql } from 'kysely';
import type { DB } from '../db.js';
import { Status } from '../status.js';
import { soleRequestedBy } from './four-eyes.js';
import { notifyRunnable } from './queue.js';

export interface Decision {
  packageId: number;
  outcome: 'approved' | 'rejected' | 'skipped';
  status: string;
  /** Why a pending package was skipped: the four-eyes rule (only this person requested it). */
  rule?: 'ERR_FOUR_EYES';
}

/**
 * How an approval treats packages the approver alone requested: `enforce` skips them (four eyes), `override`
 * approves them and marks the audit entry (an admin's decision, with a reason), `off` ignores the rule
 * (APPROVAL_FOUR_EYES=false). Rejections are never held back.
 */
export type FourEyes = 'enforce' | 'override' | 'off';

/**
 * Approves or rejects packages waiting in Pending Approval, as one person, with a reason, in one
 * transaction: the status change, an event per package and one audit entry per package. Packages not
 * pending are reported as skipped with their current status. Approved packages become runnable for
 * publishing (NOTIFY). With `fourEyes: 'enforce'`, packages only this person requested are skipped with
 * `rule: 'ERR_FOUR_EYES'`, decided in the same transaction as the update.
 */
export async function decidePackages(
  db: DB,
  opts: {
    packageIds: number[];
    decision: 'approve' | 'reject';
    userId: number;
    username: string;
    reason: string;
    ip?: string | null;
    /** Default `off`: callers that act for a person (the API) pass the configured rule. */
    fourEyes?: FourEyes;
  },
): Promise<Decision[]> {
  const ids = [...new Set(opts.packageIds)];
  return db.transaction().execute(async (trx) => {
    const approve = opts.decision === 'approve';
    const fourEyes = approve ? (opts.fourEyes ?? 'off') : 'off';
    const own = fourEyes === 'off' ? new Set<number>() : await soleRequestedBy(trx, ids, opts.userId);
    const held = fourEyes === 'enforce' ? own : new Set<number>();
    const eligible = ids.filter((id) => !held.has(id));
    const res = await sql<{ package_id: number; status: string }>`
      UPDATE package_status
      SET status = ${approve ? Status.Approved : Status.Rejected},
          approved_by = ${approve ? opts.userId : null}, approved_at = ${approve ? sql`now()` : null},
          rejected_by = ${approve ? null : opts.userId}, rejected_at = ${approve ? null : sql`now()`},
          rejection_kind = ${approve ? null : 'approver'}, rejection_reason = ${approve ? null : opts.reason},
          rejected_from = NULL, attempts = 0, run_at = now(), updated_at = now()
      WHERE package_id = ANY(${eligible}::bigint[]) AND status = ${Status.PendingApproval}
      RETURNING package_id, status
    `.execute(trx);
    const done = new Set(res.rows.map((r) => r.package_id));
    if (done.size > 0) {
      await trx
        .insertInto('package_events')
        .values(
          res.rows.map((r) => ({
            package_id: r.package_id,
            from_status: Status.PendingApproval,
            to_status: r.status,
            actor: opts.username,
            actor_kind: 'user' as const,
            reason: opts.reason,
          })),
        )
        .execute();
      await trx
        .insertInto('audit_log')
        .values(
          res.rows.map((r) => ({
            actor_id: opts.userId,
            actor_username: opts.username,
            action: approve ? 'package.approve' : 'package.reject',
            target_type: 'package',
            target_id: String(r.package_id),
            details: JSON.stringify({
              reason: opts.reason,
              ...(fourEyes === 'override' && own.has(Number(r.package_id)) ? { four_eyes_override: true } : {}),
            }),
            ip: opts.ip ?? null,
          })),
        )
        .execute();
      if (approve) await notifyRunnable(trx);
    }
    const skipped = ids.filter((id) => !done.has(id));
    const current = skipped.length
      ? await trx
          .selectFrom('package_status')
          .select(['package_id', 'status'])
          .where('package_id', 'in', skipped)
          .execute()
      : [];
    const currentMap = new Map(current.map((r) => [r.package_id, r.status]));
    return ids.map((id) =>
      done.has(id)
        ? {
            packageId: id,
            outcome: approve ? ('approved' as const) : ('rejected' as const),
            status: approve ? Status.Approved : Status.Rejected,
          }
        : {
            packageId: id,
            outcome: 'skipped' as const,
            status: currentMap.get(id) ?? 'unknown',
            ...(held.has(id) && currentMap.get(id) === Status.PendingApproval
              ? { rule: 'ERR_FOUR_EYES' as const }
              : {}),
          },
    );
  });
}
