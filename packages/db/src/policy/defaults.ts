import semver from 'semver';
import type { PolicyConditions, PolicyDocument } from './types.js';

/**
 * The policy a new installation starts with (version 1), for a cautious team: known malware is
 * rejected; a person looks at anything with a high or critical vulnerability, code that runs at
 * install time (scripts, and network, shell or eval in what they run), code whose behaviour is rated
 * high or critical (exfiltration, droppers, hidden commands), native binaries, obfuscated
 * code, a package.json that disagrees with the registry, dependencies fetched from outside the
 * registry, an archive that breaks the rules, a deprecated version, or a licence that is not
 * allowed; everything else is approved once it is 72 hours old (versions younger than that wait,
 * which is when most hijacked releases are found and pulled).
 */
export const DEFAULT_POLICY: PolicyDocument = {
  rules: [
    { id: 'malware', action: 'reject', description: 'Known malicious packages never pass.', when: { malware: true } },
    {
      id: 'serious-vulnerability',
      action: 'hold',
      description: 'A high or critical vulnerability needs a person (or a waiver).',
      when: { severity_at_least: 'high' },
    },
    {
      id: 'install-time-code',
      action: 'hold',
      description: 'Code that runs when the package is installed.',
      when: { signals: ['install_script', 'install_network_shell'] },
    },
    {
      id: 'suspicious-behaviour',
      action: 'hold',
      description: 'Code that behaves like malware (behaviour detection rates it high or critical).',
      when: { signal_severity_at_least: 'high' },
    },
    {
      id: 'opaque-code',
      action: 'hold',
      description: 'Native binaries and obfuscated code cannot be read like source.',
      when: { signals: ['native_binary', 'obfuscation'] },
    },
    {
      id: 'not-what-it-claims',
      action: 'hold',
      description:
        'The tarball disagrees with the registry, pulls dependencies from elsewhere, or breaks the archive rules.',
      when: { signals: ['manifest_mismatch', 'remote_dependency', 'archive_anomaly'] },
    },
    {
      id: 'deprecated',
      action: 'hold',
      description: 'The author deprecated this version.',
      when: { deprecated: true },
    },
    {
      id: 'licence-needs-review',
      action: 'hold',
      description: 'Licences to avoid, or that the licence policy does not know.',
      when: { license_tier: ['avoid', 'unknown'] },
    },
    {
      id: 'allowed-licence',
      action: 'approve',
      description: 'Everything else with an allowed licence.',
      when: { license_tier: ['always_allowed', 'allowed'] },
    },
  ],
  default_action: 'hold',
  cooldown: { minimum_age_hours: 72, exceptions: [] },
};

/** Approves every package that is not malware, at once: for benchmarks and development, never a team's choice. */
export const APPROVE_ALL_POLICY: PolicyDocument = {
  rules: [
    { id: 'malware', action: 'reject', when: { malware: true } },
    { id: 'everything', action: 'approve', when: {} },
  ],
  default_action: 'approve',
  cooldown: { minimum_age_hours: 0, exceptions: [] },
};

const RULE_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const NAME_GLOB = /^[a-z0-9@*~._\-/]{1,214}$/i;

function conditionProblems(c: PolicyConditions, where: string): string[] {
  const out: string[] = [];
  if (c.versions !== undefined && semver.validRange(c.versions) === null)
    out.push(`${where}.versions: "${c.versions}" is not a semver range`);
  for (const n of c.names ?? [])
    if (!NAME_GLOB.test(n)) out.push(`${where}.names: "${n}" is not a package name or glob`);
  for (const k of ['license_tier', 'signals', 'new_signals', 'names', 'finding_ids'] as const) {
    if (c[k] && c[k].length === 0) out.push(`${where}.${k}: an empty list never matches; leave the condition out`);
  }
  return out;
}

/**
 * What is wrong with a policy document whose shape already passed the API schema: duplicate rule ids,
 * semver ranges and name globs that cannot match, empty lists. An empty array means it is valid.
 */
export function policyProblems(doc: PolicyDocument): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  doc.rules.forEach((r, i) => {
    const where = `rules[${i}]`;
    if (!RULE_ID.test(r.id)) out.push(`${where}.id: "${r.id}" must be lower case letters, digits, ".", "_" or "-"`);
    if (seen.has(r.id)) out.push(`${where}.id: "${r.id}" is used by an earlier rule`);
    seen.add(r.id);
    out.push(...conditionProblems(r.when, `${where}.when`));
    if (r.unless) out.push(...conditionProblems(r.unless, `${where}.unless`));
  });
  for (const e of doc.cooldown.exceptions) {
    const at = e.lastIndexOf('@');
    const name = at > 0 ? e.slice(0, at) : e;
    if (!NAME_GLOB.test(name) || (at > 0 && semver.valid(e.slice(at + 1)) === null))
      out.push(`cooldown.exceptions: "${e}" is not a name, a glob or name@exact-version`);
  }
  return out;
}
