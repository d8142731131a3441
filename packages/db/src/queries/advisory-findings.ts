import { sql } from 'kysely';
import type { DB } from '../db.js';
import { Status } from '../status.js';

/**
 * Versions an advisory that arrives later is matched against: everything past the scan that is not
 * rejected. Approved and published versions are the point (they are installable or about to be);
 * versions still waiting for a person are included too, so the finding is there when the approver
 * looks, and a quarantine already applies on the day the version is published.
 */
export const PROTECTED_STATUSES: readonly string[] = [
  Status.PendingApproval,
  Status.Approved,
  Status.Publishing,
  Status.Published,
];

/** The event a matched advisory raises for webhooks (written in the same transaction as the finding). */
export const NEWLY_AFFECTED_EVENT = 'package.newly_affected';

/** Severities at or above `threshold`, in the advisories table's spelling; `none`: no severity quarantines. */
export function severitiesFrom(threshold: 'critical' | 'high' | 'medium' | 'low' | 'none'): string[] {
  const order = ['critical', 'high', 'medium', 'low'];
  return threshold === 'none' ? [] : order.slice(0, order.indexOf(threshold) + 1);
}

export interface ReevaluationResult {
  /** Findings open after the run for the advisories looked at (new and already known). */
  matched: number;
  /** Versions newly affected: a new finding, or one that had been resolved and matches again. */
  newlyAffected: number;
  /** Of those (and of findings raised from flag), how many quarantine their version. */
  quarantined: number;
  /** Findings closed: the advisory was withdrawn or no longer covers the version. */
  resolved: number;
  /** The packages of the newly affected findings. */
  packageIds: number[];
}

/**
 * Matches the advisories `advisoryIds` (those an import wrote) against every version in
 * PROTECTED_STATUSES, set-based: one INSERT … SELECT joins the advisories' key intervals with the
 * packages' `version_key` by name (migration 0021 explains the keys), upserting one finding per
 * version and advisory. Each finding quarantines when the advisory is malware or its severity is in
 * `quarantineSeverities`, and only flags otherwise. Findings of these advisories that no longer match
 * (withdrawn, narrowed ranges) are resolved. For every newly affected version a
 * `package.newly_affected` webhook event is written for the endpoints that asked for it, in the same
 * transaction. Safe to run again: a run over unchanged data changes nothing but `matched_at`.
 */
export async function reevaluateAdvisories(
  db: DB,
  advisoryIds: readonly string[],
  opts: { quarantineSeverities: readonly string[] },
): Promise<ReevaluationResult> {
  if (advisoryIds.length === 0) return { matched: 0, newlyAffected: 0, quarantined: 0, resolved: 0, packageIds: [] };
  const ids = [...new Set(advisoryIds)];
  const statuses = [...PROTECTED_STATUSES];
  return db.transaction().execute(async (trx) => {
    const upserted = await sql<{
      id: number;
      package_id: number;
      action: string;
      newly: boolean;
      raised: boolean;
    }>`
      WITH changed AS (SELECT unnest(${ids}::text[]) AS id),
      m AS (
        SELECT DISTINCT p.id AS package_id, a.id AS advisory_id,
               CASE WHEN a.malware OR a.severity = ANY (${[...opts.quarantineSeverities]}::text[])
                    THEN 'quarantine' ELSE 'flag' END AS action
          FROM advisory_intervals ai
          JOIN advisories a ON a.id = ai.advisory_id AND a.withdrawn IS NULL
          JOIN packages p ON p.name = ai.package_name
               AND p.version_key >= ai.lo_key
               AND (ai.hi_key IS NULL OR p.version_key < ai.hi_key OR (ai.hi_inclusive AND p.version_key = ai.hi_key))
          JOIN package_status ps ON ps.package_id = p.id AND ps.status = ANY (${statuses}::text[])
         WHERE ai.advisory_id IN (SELECT id FROM changed)
      ),
      prev AS (
        SELECT f.package_id, f.advisory_id, f.action, f.resolved_at
          FROM advisory_findings f WHERE f.advisory_id IN (SELECT id FROM changed)
      ),
      up AS (
        INSERT INTO advisory_findings (package_id, advisory_id, action)
        SELECT package_id, advisory_id, action FROM m
        ON CONFLICT (package_id, advisory_id) DO UPDATE
          SET action = EXCLUDED.action, matched_at = now(), resolved_at = NULL, resolved_reason = NULL
        RETURNING id, package_id, advisory_id, action
      )
      SELECT up.id, up.package_id, up.action,
             (prev.package_id IS NULL OR prev.resolved_at IS NOT NULL) AS newly,
             (prev.action = 'flag' AND up.action = 'quarantine' AND prev.resolved_at IS NULL) AS raised
        FROM up LEFT JOIN prev ON prev.package_id = up.package_id AND prev.advisory_id = up.advisory_id
    `.execute(trx);

    const resolved = await sql<{ id: number }>`
      UPDATE advisory_findings f
         SET resolved_at = now(),
             resolved_reason = CASE WHEN a.withdrawn IS NOT NULL THEN 'the advisory was withdrawn'
                                    ELSE 'the advisory no longer covers this version' END
        FROM advisories a, package_status ps
       WHERE a.id = f.advisory_id AND ps.package_id = f.package_id
         AND f.advisory_id = ANY (${ids}::text[]) AND f.resolved_at IS NULL AND f.matched_at < now()
         AND ps.status = ANY (${statuses}::text[])
      RETURNING f.id
    `.execute(trx);

    const news = upserted.rows.filter((r) => r.newly || r.raised);
    if (news.length > 0)
      await writeNewlyAffectedEvents(
        trx,
        news.map((r) => r.id),
      );
    return {
      matched: upserted.rows.length,
      newlyAffected: upserted.rows.filter((r) => r.newly).length,
      quarantined: news.filter((r) => r.action === 'quarantine').length,
      resolved: resolved.rows.length,
      packageIds: [...new Set(news.map((r) => r.package_id))],
    };
  });
}

/** One `package.newly_affected` event per finding, and a delivery per endpoint that asked for it (none: nothing). */
async function writeNewlyAffectedEvents(trx: DB, findingIds: number[]): Promise<void> {
  await sql`
    WITH ev AS (
      INSERT INTO webhook_events (type, ordering_key, package_id, payload)
      SELECT ${NEWLY_AFFECTED_EVENT}, 'package:' || f.package_id, f.package_id,
             jsonb_build_object(
               'package', jsonb_build_object('id', p.id, 'name', p.name, 'version', p.version, 'status', ps.status),
               'advisory', jsonb_build_object('id', a.id, 'aliases', to_jsonb(a.aliases), 'summary', a.summary,
                                              'severity', a.severity, 'malware', a.malware),
               'action', f.action,
               'quarantined', f.action = 'quarantine' AND f.release_waiver_id IS NULL)
        FROM advisory_findings f
        JOIN packages p ON p.id = f.package_id
        JOIN package_status ps ON ps.package_id = f.package_id
        JOIN advisories a ON a.id = f.advisory_id
       WHERE f.id = ANY (${findingIds}::bigint[])
         AND EXISTS (SELECT 1 FROM webhooks w WHERE w.enabled AND ${NEWLY_AFFECTED_EVENT} = ANY (w.events))
       ORDER BY f.id
      RETURNING id, ordering_key
    )
    INSERT INTO webhook_deliveries (webhook_id, event_id, ordering_key)
    SELECT w.id, ev.id, ev.ordering_key
      FROM ev CROSS JOIN webhooks w
     WHERE w.enabled AND ${NEWLY_AFFECTED_EVENT} = ANY (w.events)
  `.execute(trx);
}

/** An advisory holding a version in quarantine. */
export interface QuarantiningAdvisory {
  id: string;
  summary: string | null;
}

/**
 * SQL for the advisories that hold package `p.id` in quarantine right now: open quarantine findings
 * without a live release waiver (not revoked, not expired). A jsonb array, or null when none.
 */
export const quarantineSubquery = sql<QuarantiningAdvisory[] | null>`(
  SELECT jsonb_agg(jsonb_build_object('id', a.id, 'summary', a.summary) ORDER BY a.id)
    FROM advisory_findings f
    JOIN advisories a ON a.id = f.advisory_id
    LEFT JOIN waivers w ON w.id = f.release_waiver_id AND w.revoked_at IS NULL AND w.expires_at > now()
   WHERE f.package_id = p.id AND f.action = 'quarantine' AND f.resolved_at IS NULL AND w.id IS NULL)`;

/** Who to ask when the setting names nobody. */
export const DEFAULT_QUARANTINE_CONTACT = 'an approver of your Secure Package Manager';

/**
 * What npm prints for a quarantined version (the built-in registry's 451, the target registry's
 * deprecation): the version, the advisories, and whom to ask.
 */
export function quarantineMessage(
  spec: string,
  advisories: readonly QuarantiningAdvisory[],
  contact: string | null = null,
): string {
  const named = advisories
    .slice(0, 3)
    .map((a) => (a.summary ? `${a.id} (${a.summary.slice(0, 120)})` : a.id))
    .join('; ');
  const more = advisories.length > 3 ? ` and ${advisories.length - 3} more` : '';
  return (
    `${spec} is quarantined: advisory ${named}${more} was published after it was approved. ` +
    `Use another version, or ask ${contact || DEFAULT_QUARANTINE_CONTACT} to release it (a waiver) or reject it.`
  );
}
