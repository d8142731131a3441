import type { LicenseTier, Severity } from '../vocabulary.js';

/** What a rule does when it matches. `warn` approves and marks the package; `hold` sends it to a person. */
export const POLICY_ACTIONS = ['approve', 'warn', 'hold', 'reject'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/**
 * How an evaluation can end: a rule's action, or `wait` (cooldown: the version is younger than the
 * policy's minimum age and is evaluated again, by itself, when it comes of age).
 */
export type PolicyOutcome = PolicyAction | 'wait';

/** Which action wins when several rules match: the first in this list (reject beats hold beats warn beats approve). */
export const ACTION_PRECEDENCE: readonly PolicyAction[] = ['reject', 'hold', 'warn', 'approve'];

/**
 * Supply-chain signal kinds a rule can name. Each groups the scanner's finding ids (see
 * signalKindOf); `behaviour` is what the behaviour detection found code doing (BEHAVIOUR_SIGNAL_IDS);
 * a signal finding whose id is in no group is of kind `other`.
 */
export const SIGNAL_KINDS = [
  'install_script',
  'install_network_shell',
  'native_binary',
  'obfuscation',
  'manifest_mismatch',
  'remote_dependency',
  'archive_anomaly',
  'behaviour',
  'other',
] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/** Licence tiers a condition can name: the policy's tiers, and `unknown` for a licence the policy does not list. */
export type PolicyLicenseTier = LicenseTier | 'unknown';

/**
 * A rule's conditions. Every condition given must hold (AND); a rule with no conditions matches every
 * package. Lists inside one condition are alternatives (OR).
 */
export interface PolicyConditions {
  /** The package's licence tier is one of these (after licence waivers). */
  license_tier?: PolicyLicenseTier[];
  /** The highest severity among its vulnerabilities (not waived) is at least this. */
  severity_at_least?: Severity;
  /** The highest CVSS base score among its vulnerabilities (not waived) is at least this (0–10). */
  cvss_at_least?: number;
  /** It shows at least one supply-chain signal of these kinds (not waived). */
  signals?: SignalKind[];
  /** Its most severe supply-chain signal (not waived) is at least this (behaviour detection rates what code does). */
  signal_severity_at_least?: Severity;
  /** It shows a signal of these kinds that the previous approved version of the same package did not. */
  new_signals?: SignalKind[];
  /** It is (true) or is not (false) known malware. */
  malware?: boolean;
  /** It was published less than this many hours ago (an unknown publication time counts as young). */
  younger_than_hours?: number;
  /** The registry marks this version deprecated (true) or not (false). */
  deprecated?: boolean;
  /** Its name matches one of these: exact names, or globs where `*` is any run of characters (`@acme/*`). */
  names?: string[];
  /** Its version satisfies this semver range. */
  versions?: string;
  /** It is used only as a dev dependency (true) in every request that includes it, or not (false). */
  dev?: boolean;
  /** It is used only as an optional dependency (true) in every request that includes it, or not (false). */
  optional?: boolean;
  /** It has a finding (not waived) with one of these ids or aliases (advisory ids, signal ids). */
  finding_ids?: string[];
}

export interface PolicyRule {
  /** A short stable name, unique in the policy (`install-scripts`); shown in every decision. */
  id: string;
  action: PolicyAction;
  description?: string;
  when: PolicyConditions;
  /** The rule does not match when these conditions all hold. */
  unless?: PolicyConditions;
}

export interface CooldownSettings {
  /** A version published less than this many hours ago waits. 0 turns the cooldown off. */
  minimum_age_hours: number;
  /** Not held back: exact names, globs (`@acme/*`), or exact versions (`name@1.2.3`). */
  exceptions: string[];
}

/** A policy as stored (one per version) and as an admin writes it. */
export interface PolicyDocument {
  rules: PolicyRule[];
  /** What happens to a package no rule matches. */
  default_action: PolicyAction;
  cooldown: CooldownSettings;
}

export const WAIVER_KINDS = ['advisory', 'signal', 'license'] as const;
export type WaiverKind = (typeof WAIVER_KINDS)[number];

/** An approver's exception to one finding, signal kind or licence, for a name and version range, until it expires. */
export interface PolicyWaiver {
  id: number;
  packageName: string;
  /** A semver range (`*` for every version). */
  versionRange: string;
  kind: WaiverKind;
  /** Advisory id or alias; signal finding id or signal kind; licence expression. */
  subject: string;
  reason: string;
  owner: string;
  expiresAt: Date;
}

/** One finding as the policy sees it (a subset of the scanner's Finding). */
export interface PolicyFinding {
  id: string;
  source: string;
  severity: Severity;
  title?: string;
  evidence?: string;
  aliases?: string[];
  malware?: boolean;
  /** CVSS base score, when the scanner knew it. */
  cvss?: number;
}

/** Everything the policy looks at for one package. Built from the database by `policyInputs`. */
export interface PolicyInput {
  name: string;
  version: string;
  licenseTier: string | null;
  licenseExpression: string | null;
  /** The latest scan's findings; null when the package has no scan (it is then held). */
  findings: PolicyFinding[] | null;
  /** The signal finding ids of the highest approved version below this one, or null when there is none. */
  previousApproved: { version: string; signalIds: string[] } | null;
  publishedAt: Date | null;
  deprecated: boolean | null;
  dev: boolean;
  optional: boolean;
  /** Waivers recorded for this package name (expired ones included: the evaluation says they expired). */
  waivers: PolicyWaiver[];
  /** An approver released this version from its cooldown. */
  cooldownRelease: { by: string; reason: string } | null;
}

export interface RuleMatch {
  ruleId: string;
  /** 1-based position in the policy. */
  index: number;
  action: PolicyAction;
  /** Why it matched, one phrase per condition (`install script: "postinstall": "node x.js"`). */
  because: string[];
}

export interface AppliedWaiver {
  id: number;
  kind: WaiverKind;
  subject: string;
  reason: string;
  owner: string;
  expiresAt: string;
}

/** The result of evaluating one package: what happens, which rule of which version decided, and why. */
export interface PolicyDecision {
  outcome: PolicyOutcome;
  policyVersion: number;
  /** The deciding rule; null when the default action, the cooldown or missing facts decided. */
  rule: { id: string; index: number } | null;
  /** One line for a person: `hold rule 3 (install-scripts): install script: "postinstall": …`. */
  reason: string;
  /** For `wait`: when the version comes of age and is evaluated again. */
  until: string | null;
  matched: RuleMatch[];
  waived: AppliedWaiver[];
  /** Waivers for this package that no longer apply because they expired. */
  expiredWaivers: AppliedWaiver[];
}
