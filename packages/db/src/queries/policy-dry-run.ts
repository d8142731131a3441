import { sql } from 'kysely';
import type { DB } from '../db.js';
import { Status } from '../status.js';
import { evaluatePolicy } from '../policy/evaluate.js';
import type { PolicyDocument, PolicyOutcome } from '../policy/types.js';
import { policyInputs, statusForOutcome } from './policy.js';

/** Statuses the decide stage acts on: a new policy version decides these again. */
const UNDECIDED: readonly string[] = [Status.SecurityScanned, Status.ApplyingPolicy, Status.PendingApproval];
/** Statuses already let through: never changed by a policy edit, only reported when it would now reject them. */
const LET_THROUGH: readonly string[] = [Status.Approved, Status.Publishing, Status.Published];

export interface DryRunItem {
  packageId: number;
  name: string;
  version: string;
  status: string;
  current: { version: number | null; outcome: string | null; rule: string | null };
  draft: { outcome: PolicyOutcome; rule: string | null; reason: string; until: string | null };
  /** The status enforcement would give it (for a package already let through: its status, unchanged). */
  wouldBe: string;
}

export interface DryRunResult {
  /** Packages evaluated (those waiting for a decision and those already let through). */
  evaluated: number;
  /** Outcomes the draft gives the packages waiting for a decision. */
  outcomes: Record<PolicyOutcome, number>;
  /** Packages waiting for a decision whose status the draft would change. */
  changed: number;
  /** Approved or Published packages the draft would reject: reported, never changed silently. */
  wouldRejectLetThrough: number;
  /** The changes and the would-be rejections, up to `limit`, in package id order. */
  items: DryRunItem[];
  truncated: boolean;
}

/**
 * Evaluates a draft policy against the packages in the database at `now`, writing nothing. Packages
 * waiting for a decision (Security Scanned, Applying Policy, Pending Approval) get the status the
 * decide stage would give them: the same inputs (`policyInputs`) and the same pure `evaluatePolicy`
 * as enforcement, so what the dry-run says is what the worker then does. Approved, Publishing and
 * Published packages are evaluated too and reported when the draft would reject them. Work is done in
 * batches of `batch` packages (keyset over ids); the list is capped at `limit`.
 */
export async function dryRunPolicy(
  db: DB,
  opts: { document: PolicyDocument; version: number; now: Date; limit: number; batch?: number },
): Promise<DryRunResult> {
  const batch = opts.batch ?? 500;
  const policy = { version: opts.version, document: opts.document };
  const out: DryRunResult = {
    evaluated: 0,
    outcomes: { approve: 0, warn: 0, hold: 0, reject: 0, wait: 0 },
    changed: 0,
    wouldRejectLetThrough: 0,
    items: [],
    truncated: false,
  };
  const statuses = [...UNDECIDED, ...LET_THROUGH];
  for (let after = 0; ;) {
    const rows = await sql<{
      package_id: number;
      name: string;
      version: string;
      status: string;
      policy_version: number | null;
      policy_outcome: string | null;
      policy_rule: string | null;
    }>`
      SELECT ps.package_id, p.name, p.version, ps.status, ps.policy_version, ps.policy_outcome, ps.policy_rule
      FROM package_status ps JOIN packages p ON p.id = ps.package_id
      WHERE ps.status = ANY(${statuses}::text[]) AND ps.package_id > ${after}
      ORDER BY ps.package_id
      LIMIT ${batch}
    `.execute(db);
    if (rows.rows.length === 0) break;
    after = Number(rows.rows[rows.rows.length - 1]!.package_id);
    const inputs = await policyInputs(
      db,
      rows.rows.map((r) => Number(r.package_id)),
    );
    for (const r of rows.rows) {
      const id = Number(r.package_id);
      const input = inputs.get(id);
      if (!input) continue;
      out.evaluated++;
      const d = evaluatePolicy(policy, input, opts.now);
      const waiting = UNDECIDED.includes(r.status);
      const wouldBe = waiting ? statusForOutcome(d.outcome) : r.status;
      let listed = false;
      if (waiting) {
        out.outcomes[d.outcome]++;
        // Applying Policy is being decided right now; its status after the decision is what counts.
        const now = r.status === Status.ApplyingPolicy ? null : r.status;
        if (wouldBe !== now) {
          out.changed++;
          listed = true;
        }
      } else if (d.outcome === 'reject') {
        out.wouldRejectLetThrough++;
        listed = true;
      }
      if (!listed) continue;
      if (out.items.length >= opts.limit) {
        out.truncated = true;
        continue;
      }
      out.items.push({
        packageId: id,
        name: r.name,
        version: r.version,
        status: r.status,
        current: { version: r.policy_version, outcome: r.policy_outcome, rule: r.policy_rule },
        draft: { outcome: d.outcome, rule: d.rule?.id ?? null, reason: d.reason, until: d.until },
        wouldBe,
      });
    }
  }
  return out;
}
