import semver from 'semver';
import { SEVERITIES, type Severity } from '../vocabulary.js';
import {
  ACTION_PRECEDENCE,
  type AppliedWaiver,
  type PolicyAction,
  type PolicyConditions,
  type PolicyDecision,
  type PolicyDocument,
  type PolicyFinding,
  type PolicyInput,
  type PolicyWaiver,
  type RuleMatch,
  type SignalKind,
} from './types.js';

/**
 * The finding ids of the worker's behaviour rules (apps/worker/src/scan/behaviour/rules.ts). A signal id
 * that no group claims also counts as behaviour (a rule added later is held like its siblings, not
 * silently `other`); a worker test checks that every rule maps to `behaviour`.
 */
export const BEHAVIOUR_SIGNAL_IDS: ReadonlySet<string> = new Set([
  'secret-exfiltration',
  'secret-network',
  'env-exfiltration',
  'env-serialised',
  'host-beacon',
  'dns-exfiltration',
  'hidden-destination',
  'exfiltration-channel',
  'decode-exec',
  'download-exec',
  'loads-code',
  'shell-download',
  'hidden-command',
  'silent-spawn',
  'detached-process',
  'reverse-shell',
  'hidden-require',
  'dynamic-code',
  'obfuscated',
  'invisible-characters',
  'bidi-control',
  'whitespace-hidden-code',
  'binary-hijack',
  'persistence',
  'self-propagation',
  'install-script-injection',
  'publish',
  'modifies-other-package',
  'writes-node-modules',
  'network-hook',
  'wallet-drainer',
  'cloud-metadata',
  'hardcoded-ip',
  'dependency-confusion',
  'very-high-version',
]);

/** Signal ids that are facts about the scan rather than about the code: kind `other`. */
const OTHER_SIGNAL_IDS: ReadonlySet<string> = new Set([
  'unusual-size',
  'registry-metadata-unavailable',
  'behaviour-not-analysed',
]);

/** The signal kind of a scanner finding id (the one mapping from finding ids to the kinds rules name). */
export function signalKindOf(findingId: string): SignalKind {
  if (BEHAVIOUR_SIGNAL_IDS.has(findingId)) return 'behaviour';
  if (OTHER_SIGNAL_IDS.has(findingId)) return 'other';
  if (findingId === 'install-script') return 'install_script';
  if (findingId.startsWith('install-script-') || findingId.startsWith('install-code-')) return 'install_network_shell';
  if (findingId === 'native-binary') return 'native_binary';
  if (findingId === 'obfuscated-code' || findingId === 'high-entropy-string') return 'obfuscation';
  if (findingId === 'manifest-mismatch' || findingId === 'licence-mismatch' || findingId === 'manifest-missing')
    return 'manifest_mismatch';
  if (findingId.endsWith('-dependency')) return 'remote_dependency';
  if (findingId.startsWith('archive-') || findingId === 'hostile-archive') return 'archive_anomaly';
  return 'behaviour';
}

const rank = (s: Severity) => SEVERITIES.length - 1 - SEVERITIES.indexOf(s);

function isVulnerability(f: PolicyFinding): boolean {
  return f.source !== 'signal' && !f.malware;
}

/** `*` matches any run of characters; everything else is literal. Case-insensitive (npm names are lower case). */
export function globMatches(glob: string, name: string): boolean {
  const re = new RegExp(`^${glob.split('*').map(escapeRe).join('.*')}$`, 'i');
  return re.test(name);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True when `entry` (a name, a glob, or `name@version`) covers name@version. */
export function exceptionCovers(entry: string, name: string, version: string): boolean {
  const at = entry.lastIndexOf('@');
  if (at > 0) return entry.slice(0, at).toLowerCase() === name.toLowerCase() && entry.slice(at + 1) === version;
  return globMatches(entry, name);
}

function waiverApplies(w: PolicyWaiver, input: PolicyInput): boolean {
  if (w.packageName.toLowerCase() !== input.name.toLowerCase()) return false;
  return semver.valid(input.version) !== null
    ? semver.satisfies(input.version, w.versionRange, { includePrerelease: true })
    : w.versionRange === '*';
}

function waiverCoversFinding(w: PolicyWaiver, f: PolicyFinding): boolean {
  if (f.malware) return false; // malware is never waived
  const subject = w.subject.toLowerCase();
  if (w.kind === 'advisory')
    return isVulnerability(f) && [f.id, ...(f.aliases ?? [])].some((id) => id.toLowerCase() === subject);
  if (w.kind === 'signal')
    return f.source === 'signal' && (f.id.toLowerCase() === subject || signalKindOf(f.id) === subject);
  return false;
}

function appliedJson(w: PolicyWaiver): AppliedWaiver {
  return {
    id: w.id,
    kind: w.kind,
    subject: w.subject,
    reason: w.reason,
    owner: w.owner,
    expiresAt: w.expiresAt.toISOString(),
  };
}

interface Facts {
  input: PolicyInput;
  findings: PolicyFinding[];
  licenseTier: string;
  ageHours: number | null;
  previousSignalIds: Set<string> | null;
}

function describe(f: PolicyFinding): string {
  const what = f.evidence ?? f.title ?? '';
  return what ? `${f.id}: ${what}` : f.id;
}

/**
 * Whether every given condition holds for the facts. Returns the reasons (one per condition) when it
 * does, null when any condition fails.
 */
function conditionsHold(c: PolicyConditions, facts: Facts): string[] | null {
  const because: string[] = [];
  const { input, findings } = facts;
  const vulns = findings.filter(isVulnerability);
  const signals = findings.filter((f) => f.source === 'signal' && !f.malware);

  if (c.license_tier) {
    if (!c.license_tier.includes(facts.licenseTier as never)) return null;
    because.push(`licence ${input.licenseExpression ?? '(none)'} is ${facts.licenseTier}`);
  }
  if (c.severity_at_least !== undefined) {
    const min = rank(c.severity_at_least);
    const hit = vulns.filter((f) => rank(f.severity) >= min);
    if (hit.length === 0) return null;
    hit.sort((a, b) => rank(b.severity) - rank(a.severity));
    because.push(
      `${hit[0]!.severity} vulnerability ${hit[0]!.id}${hit.length > 1 ? ` (and ${hit.length - 1} more)` : ''}`,
    );
  }
  if (c.cvss_at_least !== undefined) {
    const hit = vulns.filter((f) => typeof f.cvss === 'number' && f.cvss >= c.cvss_at_least!);
    if (hit.length === 0) return null;
    hit.sort((a, b) => b.cvss! - a.cvss!);
    because.push(`CVSS ${hit[0]!.cvss} (${hit[0]!.id})`);
  }
  if (c.signals) {
    const hit = signals.filter((f) => c.signals!.includes(signalKindOf(f.id)));
    if (hit.length === 0) return null;
    because.push(...hit.slice(0, 3).map((f) => `${signalKindOf(f.id).replace(/_/g, ' ')} ${describe(f)}`));
  }
  if (c.signal_severity_at_least !== undefined) {
    const min = rank(c.signal_severity_at_least);
    const hit = signals.filter((f) => rank(f.severity) >= min);
    if (hit.length === 0) return null;
    hit.sort((a, b) => rank(b.severity) - rank(a.severity));
    because.push(
      `${hit[0]!.severity} signal ${describe(hit[0]!)}${hit.length > 1 ? ` (and ${hit.length - 1} more)` : ''}`,
    );
  }
  if (c.new_signals) {
    const prev = facts.previousSignalIds;
    const hit = signals.filter((f) => c.new_signals!.includes(signalKindOf(f.id)) && !prev?.has(f.id));
    if (hit.length === 0) return null;
    const than = input.previousApproved ? `than ${input.previousApproved.version}` : 'no earlier version approved';
    because.push(
      ...hit.slice(0, 3).map((f) => `new ${signalKindOf(f.id).replace(/_/g, ' ')} (${than}) ${describe(f)}`),
    );
  }
  if (c.malware !== undefined) {
    const mal = findings.filter((f) => f.malware);
    if (c.malware !== mal.length > 0) return null;
    because.push(c.malware ? `malware ${mal.map((f) => f.id).join(', ')}` : 'not malware');
  }
  if (c.younger_than_hours !== undefined) {
    if (facts.ageHours !== null && facts.ageHours >= c.younger_than_hours) return null;
    because.push(
      facts.ageHours === null
        ? 'publication time unknown'
        : `published ${formatHours(facts.ageHours)} ago (under ${c.younger_than_hours} h)`,
    );
  }
  if (c.deprecated !== undefined) {
    if ((input.deprecated ?? false) !== c.deprecated) return null;
    because.push(c.deprecated ? 'deprecated' : 'not deprecated');
  }
  if (c.names) {
    const g = c.names.find((n) => globMatches(n, input.name));
    if (!g) return null;
    because.push(`name matches ${g}`);
  }
  if (c.versions !== undefined) {
    if (!semver.valid(input.version) || !semver.satisfies(input.version, c.versions, { includePrerelease: true }))
      return null;
    because.push(`version in ${c.versions}`);
  }
  if (c.dev !== undefined) {
    if (input.dev !== c.dev) return null;
    because.push(c.dev ? 'dev dependency only' : 'not only a dev dependency');
  }
  if (c.optional !== undefined) {
    if (input.optional !== c.optional) return null;
    because.push(c.optional ? 'optional dependency only' : 'not only an optional dependency');
  }
  if (c.finding_ids) {
    const ids = new Set(c.finding_ids.map((s) => s.toLowerCase()));
    const hit = findings.filter((f) => [f.id, ...(f.aliases ?? [])].some((id) => ids.has(id.toLowerCase())));
    if (hit.length === 0) return null;
    because.push(...hit.slice(0, 3).map(describe));
  }
  return because;
}

function formatHours(h: number): string {
  return h < 48 ? `${Math.floor(h)} h` : `${Math.floor(h / 24)} days`;
}

function line(action: string, m: { index: number; ruleId: string }, because: string[]): string {
  const why = because.length ? `: ${because.join('; ')}` : '';
  return `${action} rule ${m.index} (${m.ruleId})${why}`;
}

/**
 * Evaluates one package against one policy version at `now`. Pure: the same input, policy and time
 * always give the same decision (dry-run and enforcement both call this).
 *
 * Order: waivers are applied to the facts first (unexpired ones only; malware is never waived). Every
 * rule is tested; among those that match, the action that wins is the first of reject, hold, warn,
 * approve, and the first matching rule with that action (in policy order) is the deciding rule. A
 * reject wins over the cooldown; otherwise a version younger than the cooldown's minimum age (and not
 * excepted or released by an approver) waits until it comes of age. No matching rule: the default
 * action. A package without a scan is held.
 */
export function evaluatePolicy(
  policy: { version: number; document: PolicyDocument },
  input: PolicyInput,
  now: Date,
): PolicyDecision {
  const doc = policy.document;
  const live = input.waivers.filter((w) => waiverApplies(w, input) && w.expiresAt.getTime() > now.getTime());
  const expired = input.waivers.filter((w) => waiverApplies(w, input) && w.expiresAt.getTime() <= now.getTime());
  const used = new Set<number>();
  const findings = (input.findings ?? []).filter((f) => {
    const w = live.find((x) => waiverCoversFinding(x, f));
    if (w) used.add(w.id);
    return !w;
  });
  let licenseTier = input.licenseTier ?? 'unknown';
  const licenceWaiver = live.find(
    (w) =>
      w.kind === 'license' &&
      input.licenseExpression !== null &&
      w.subject.toLowerCase() === input.licenseExpression.toLowerCase(),
  );
  if (licenceWaiver && licenseTier !== 'always_allowed' && licenseTier !== 'allowed') {
    licenseTier = 'allowed';
    used.add(licenceWaiver.id);
  }
  const ageHours = input.publishedAt ? (now.getTime() - input.publishedAt.getTime()) / 3_600_000 : null;
  const facts: Facts = {
    input,
    findings,
    licenseTier,
    ageHours,
    previousSignalIds: input.previousApproved ? new Set(input.previousApproved.signalIds) : null,
  };

  const matched: RuleMatch[] = [];
  doc.rules.forEach((rule, i) => {
    const because = conditionsHold(rule.when, facts);
    if (!because) return;
    if (rule.unless && conditionsHold(rule.unless, facts)) return;
    matched.push({ ruleId: rule.id, index: i + 1, action: rule.action, because });
  });
  const base = {
    policyVersion: policy.version,
    matched,
    waived: live.filter((w) => used.has(w.id)).map(appliedJson),
    expiredWaivers: expired.map(appliedJson),
  };
  const expiredNote = base.expiredWaivers.length
    ? ` (waiver ${base.expiredWaivers.map((w) => `#${w.id} on ${w.subject}`).join(', ')} expired)`
    : '';
  const decide = (action: PolicyAction): PolicyDecision | null => {
    const m = matched.find((x) => x.action === action);
    if (!m) return null;
    return {
      ...base,
      outcome: action,
      rule: { id: m.ruleId, index: m.index },
      until: null,
      reason: line(action, m, m.because) + expiredNote,
    };
  };

  const rejected = decide('reject');
  if (rejected) return rejected;
  if (input.findings === null) {
    return {
      ...base,
      outcome: 'hold',
      rule: null,
      until: null,
      reason: 'hold: the package has no security scan to evaluate',
    };
  }

  const cd = doc.cooldown;
  if (cd.minimum_age_hours > 0 && !input.cooldownRelease) {
    const excepted = cd.exceptions.find((e) => exceptionCovers(e, input.name, input.version));
    if (!excepted) {
      if (!input.publishedAt) {
        return {
          ...base,
          outcome: 'hold',
          rule: null,
          until: null,
          reason: `hold (cooldown ${cd.minimum_age_hours} h): the registry gives no publication time for this version`,
        };
      }
      const until = new Date(input.publishedAt.getTime() + cd.minimum_age_hours * 3_600_000);
      if (until.getTime() > now.getTime()) {
        return {
          ...base,
          outcome: 'wait',
          rule: null,
          until: until.toISOString(),
          reason: `cooldown until ${until.toISOString()}: published ${formatHours(ageHours!)} ago, under the minimum age of ${cd.minimum_age_hours} h`,
        };
      }
    }
  }

  for (const action of ACTION_PRECEDENCE) {
    const d = decide(action);
    if (d) return d;
  }
  return {
    ...base,
    outcome: doc.default_action,
    rule: null,
    until: null,
    reason: `${doc.default_action}: no rule matched (the policy's default action)${expiredNote}`,
  };
}
