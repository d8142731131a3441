import { Status } from '../status.js';

/** The policy columns of package_status that say who decided and why. */
export interface PolicyColumns {
  status: string;
  policy_version: number | null;
  policy_rule: string | null;
  policy_outcome: string | null;
  policy_reason: string | null;
  cooldown_until: Date | null;
}

/** The latest policy decision about a package, as the report and the processing status show it. */
export interface PolicySummary {
  version: number;
  /** The deciding rule's id; null when the default action, the cooldown or missing facts decided. */
  rule: string | null;
  outcome: string;
  reason: string;
  /** For a version in cooldown: when it is evaluated again, by itself. */
  cooldownUntil: Date | null;
  /** One sentence for a person: which rule of which version decided, or what the package waits for. */
  explanation: string;
}

/**
 * The decision in words: `policy v3: approve rule 9 (allowed-licence): …`; for a package the policy
 * held, `waits for a person: policy v3: hold rule 3 (install-time-code): …`; for a version in
 * cooldown, `waits until … (cooldown): policy v3: …`. Null when no policy has decided yet.
 */
export function policySummary(c: PolicyColumns): PolicySummary | null {
  if (c.policy_version === null || c.policy_outcome === null) return null;
  const reason = c.policy_reason ?? '';
  const decided = `policy v${c.policy_version}: ${reason}`;
  let explanation = decided;
  if (c.policy_outcome === 'hold' && c.status === Status.PendingApproval)
    explanation = `waits for a person: ${decided}`;
  else if (c.policy_outcome === 'wait' && c.status === Status.SecurityScanned && c.cooldown_until)
    explanation = `waits until ${c.cooldown_until.toISOString()} (cooldown): ${decided}`;
  return {
    version: c.policy_version,
    rule: c.policy_rule,
    outcome: c.policy_outcome,
    reason,
    cooldownUntil: c.cooldown_until,
    explanation,
  };
}
