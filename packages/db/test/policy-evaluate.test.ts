import { describe, expect, it } from 'vitest';
import {
  APPROVE_ALL_POLICY,
  DEFAULT_POLICY,
  evaluatePolicy,
  exceptionCovers,
  globMatches,
  policyProblems,
  signalKindOf,
  type PolicyConditions,
  type PolicyDocument,
  type PolicyFinding,
  type PolicyInput,
  type PolicyWaiver,
} from '../src/policy/index.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

function input(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    name: 'left-pad',
    version: '1.3.0',
    licenseTier: 'allowed',
    licenseExpression: 'MIT',
    findings: [],
    previousApproved: null,
    publishedAt: hoursAgo(24 * 30),
    deprecated: false,
    dev: false,
    optional: false,
    waivers: [],
    cooldownRelease: null,
    ...over,
  };
}

const vuln = (id: string, severity: PolicyFinding['severity'], cvss?: number): PolicyFinding => ({
  id,
  source: 'osv',
  severity,
  ...(cvss !== undefined ? { cvss } : {}),
});
const signal = (id: string, evidence?: string): PolicyFinding => ({
  id,
  source: 'signal',
  severity: 'medium',
  ...(evidence ? { evidence } : {}),
});
const INSTALL = signal('install-script', '"postinstall": "node setup.js"');

/** A policy whose only rule is `when` with `action`, defaulting to approve, no cooldown. */
function one(
  when: PolicyConditions,
  action: 'hold' | 'reject' | 'warn' | 'approve' = 'hold',
): { version: number; document: PolicyDocument } {
  return {
    version: 7,
    document: {
      rules: [{ id: 'r', action, when }],
      default_action: action === 'approve' ? 'hold' : 'approve',
      cooldown: { minimum_age_hours: 0, exceptions: [] },
    },
  };
}

/** True when the single rule of `one(when)` matches the input. */
function matches(when: PolicyConditions, over: Partial<PolicyInput> = {}): boolean {
  return evaluatePolicy(one(when), input(over), NOW).rule !== null;
}

describe('conditions', () => {
  it('licence tier matches the listed tiers, and an unlisted licence as unknown', () => {
    expect(matches({ license_tier: ['avoid'] }, { licenseTier: 'avoid' })).toBe(true);
    expect(matches({ license_tier: ['avoid'] }, { licenseTier: 'allowed' })).toBe(false);
    expect(matches({ license_tier: ['unknown'] }, { licenseTier: null })).toBe(true);
  });

  it('highest vulnerability severity at least the threshold, ignoring signals and malware', () => {
    expect(
      matches({ severity_at_least: 'high' }, { findings: [vuln('GHSA-1', 'medium'), vuln('GHSA-2', 'high')] }),
    ).toBe(true);
    expect(matches({ severity_at_least: 'high' }, { findings: [vuln('GHSA-1', 'medium')] })).toBe(false);
    expect(
      matches({ severity_at_least: 'high' }, { findings: [{ ...signal('install-code-shell'), severity: 'critical' }] }),
    ).toBe(false);
    expect(matches({ severity_at_least: 'low' }, { findings: [] })).toBe(false);
  });

  it('CVSS at least the threshold; a vulnerability without a score never matches', () => {
    expect(matches({ cvss_at_least: 9 }, { findings: [vuln('GHSA-1', 'critical', 9.8)] })).toBe(true);
    expect(matches({ cvss_at_least: 9 }, { findings: [vuln('GHSA-1', 'high', 7.5)] })).toBe(false);
    expect(matches({ cvss_at_least: 1 }, { findings: [vuln('GHSA-1', 'critical')] })).toBe(false);
  });

  it.each([
    ['install_script', 'install-script'],
    ['install_network_shell', 'install-code-network'],
    ['install_network_shell', 'install-script-download-exec'],
    ['native_binary', 'native-binary'],
    ['obfuscation', 'obfuscated-code'],
    ['obfuscation', 'high-entropy-string'],
    ['manifest_mismatch', 'manifest-mismatch'],
    ['manifest_mismatch', 'licence-mismatch'],
    ['remote_dependency', 'git-dependency'],
    ['archive_anomaly', 'archive-links'],
    ['behaviour', 'download-exec'],
    ['behaviour', 'install-script-injection'],
    ['other', 'registry-metadata-unavailable'],
    ['behaviour', 'a-rule-added-later'],
  ] as const)('signal kind %s matches a %s finding and no other kind', (kind, id) => {
    expect(signalKindOf(id)).toBe(kind);
    expect(matches({ signals: [kind] }, { findings: [signal(id)] })).toBe(true);
    const other = kind === 'native_binary' ? 'obfuscation' : 'native_binary';
    expect(matches({ signals: [other] }, { findings: [signal(id)] })).toBe(false);
  });

  it('signal severity at least the threshold counts signals only, never vulnerabilities', () => {
    const exfil: PolicyFinding = { ...signal('secret-exfiltration'), severity: 'critical' };
    expect(matches({ signal_severity_at_least: 'high' }, { findings: [exfil] })).toBe(true);
    expect(matches({ signal_severity_at_least: 'high' }, { findings: [signal('hardcoded-ip')] })).toBe(false);
    expect(matches({ signal_severity_at_least: 'high' }, { findings: [vuln('GHSA-1', 'critical')] })).toBe(false);
  });

  it('a new signal is one the previous approved version did not have; with none approved, every signal is new', () => {
    const when: PolicyConditions = { new_signals: ['install_script'] };
    expect(
      matches(when, { findings: [INSTALL], previousApproved: { version: '1.2.0', signalIds: ['install-script'] } }),
    ).toBe(false);
    expect(
      matches(when, { findings: [INSTALL], previousApproved: { version: '1.2.0', signalIds: ['native-binary'] } }),
    ).toBe(true);
    expect(matches(when, { findings: [INSTALL], previousApproved: null })).toBe(true);
    expect(matches(when, { findings: [], previousApproved: null })).toBe(false);
  });

  it('malware true and false', () => {
    const mal: PolicyFinding = { id: 'MAL-2026-1', source: 'osv', severity: 'critical', malware: true };
    expect(matches({ malware: true }, { findings: [mal] })).toBe(true);
    expect(matches({ malware: true }, { findings: [vuln('GHSA-1', 'critical')] })).toBe(false);
    expect(matches({ malware: false }, { findings: [mal] })).toBe(false);
  });

  it('package age from the publication time; an unknown time counts as young', () => {
    expect(matches({ younger_than_hours: 48 }, { publishedAt: hoursAgo(47) })).toBe(true);
    expect(matches({ younger_than_hours: 48 }, { publishedAt: hoursAgo(49) })).toBe(false);
    expect(matches({ younger_than_hours: 48 }, { publishedAt: null })).toBe(true);
  });

  it('deprecated', () => {
    expect(matches({ deprecated: true }, { deprecated: true })).toBe(true);
    expect(matches({ deprecated: true }, { deprecated: false })).toBe(false);
    expect(matches({ deprecated: false }, { deprecated: null })).toBe(true);
  });

  it('name, scope and glob', () => {
    expect(matches({ names: ['left-pad'] }, {})).toBe(true);
    expect(matches({ names: ['@acme/*'] }, { name: '@acme/widgets' })).toBe(true);
    expect(matches({ names: ['@acme/*'] }, { name: '@acme-evil/widgets' })).toBe(false);
    expect(matches({ names: ['left-*'] }, {})).toBe(true);
    expect(matches({ names: ['left'] }, {})).toBe(false);
    expect(globMatches('a.b', 'axb')).toBe(false);
  });

  it('version range', () => {
    expect(matches({ versions: '^1.0.0' }, {})).toBe(true);
    expect(matches({ versions: '>=2' }, {})).toBe(false);
  });

  it('dev and optional use in the requests', () => {
    expect(matches({ dev: true }, { dev: true })).toBe(true);
    expect(matches({ dev: true }, { dev: false })).toBe(false);
    expect(matches({ optional: true }, { optional: true })).toBe(true);
    expect(matches({ optional: false }, { optional: true })).toBe(false);
  });

  it('finding ids match an id or an alias, case-insensitively', () => {
    const f = { ...vuln('GHSA-xxxx-yyyy-zzzz', 'low'), aliases: ['CVE-2026-1'] };
    expect(matches({ finding_ids: ['cve-2026-1'] }, { findings: [f] })).toBe(true);
    expect(matches({ finding_ids: ['install-script'] }, { findings: [INSTALL] })).toBe(true);
    expect(matches({ finding_ids: ['CVE-2026-2'] }, { findings: [f] })).toBe(false);
  });

  it('conditions of one rule all have to hold; `unless` excludes', () => {
    expect(matches({ names: ['left-pad'], dev: true }, { dev: false })).toBe(false);
    const p = one({ signals: ['install_script'] });
    p.document.rules[0]!.unless = { names: ['@acme/*'] };
    expect(evaluatePolicy(p, input({ findings: [INSTALL] }), NOW).outcome).toBe('hold');
    expect(evaluatePolicy(p, input({ name: '@acme/x', findings: [INSTALL] }), NOW).outcome).toBe('approve');
  });

  it('a rule with no conditions matches every package', () => {
    expect(matches({}, {})).toBe(true);
  });
});

describe('actions and their order', () => {
  it.each(['approve', 'warn', 'hold', 'reject'] as const)('%s, naming the rule and the version', (action) => {
    const d = evaluatePolicy(one({ names: ['left-pad'] }, action), input(), NOW);
    expect(d).toMatchObject({ outcome: action, policyVersion: 7, rule: { id: 'r', index: 1 } });
    expect(d.reason).toBe(`${action} rule 1 (r): name matches left-pad`);
  });

  it('reject beats hold beats warn beats approve; the first rule of the winning action decides', () => {
    const doc: PolicyDocument = {
      rules: [
        { id: 'a', action: 'approve', when: {} },
        { id: 'w', action: 'warn', when: {} },
        { id: 'h1', action: 'hold', when: { signals: ['install_script'] } },
        { id: 'h2', action: 'hold', when: {} },
        { id: 'x', action: 'reject', when: { names: ['evil-*'] } },
      ],
      default_action: 'approve',
      cooldown: { minimum_age_hours: 0, exceptions: [] },
    };
    const p = { version: 1, document: doc };
    expect(evaluatePolicy(p, input({ name: 'evil-pkg' }), NOW)).toMatchObject({
      outcome: 'reject',
      rule: { id: 'x', index: 5 },
    });
    const held = evaluatePolicy(p, input({ findings: [INSTALL] }), NOW);
    expect(held).toMatchObject({ outcome: 'hold', rule: { id: 'h1', index: 3 } });
    expect(held.reason).toBe('hold rule 3 (h1): install script install-script: "postinstall": "node setup.js"');
    expect(held.matched.map((m) => m.ruleId)).toEqual(['a', 'w', 'h1', 'h2']);
    doc.rules.splice(2, 2);
    expect(evaluatePolicy(p, input(), NOW)).toMatchObject({ outcome: 'warn', rule: { id: 'w' } });
    doc.rules.splice(1, 1);
    expect(evaluatePolicy(p, input(), NOW)).toMatchObject({ outcome: 'approve', rule: { id: 'a' } });
  });

  it('no rule matching: the default action, said so', () => {
    const d = evaluatePolicy(one({ names: ['nothing'] }, 'reject'), input(), NOW);
    expect(d).toMatchObject({ outcome: 'approve', rule: null });
    expect(d.reason).toMatch(/no rule matched/);
  });

  it('a package without a scan is held, unless a rule rejects it', () => {
    expect(evaluatePolicy({ version: 1, document: APPROVE_ALL_POLICY }, input({ findings: null }), NOW).outcome).toBe(
      'hold',
    );
  });
});

describe('cooldown', () => {
  const policy = (exceptions: string[] = []) => ({
    version: 2,
    document: { ...APPROVE_ALL_POLICY, cooldown: { minimum_age_hours: 72, exceptions } },
  });

  it('a version younger than the minimum age waits until it comes of age', () => {
    const d = evaluatePolicy(policy(), input({ publishedAt: hoursAgo(10) }), NOW);
    expect(d.outcome).toBe('wait');
    expect(d.until).toBe(new Date(NOW.getTime() + 62 * 3_600_000).toISOString());
    expect(d.reason).toMatch(/^cooldown until \S+Z: published 10 h ago, under the minimum age of 72 h$/);
    expect(evaluatePolicy(policy(), input({ publishedAt: hoursAgo(72) }), NOW).outcome).toBe('approve');
  });

  it('exceptions by scope glob and by exact version, not by another version', () => {
    expect(evaluatePolicy(policy(['@acme/*']), input({ name: '@acme/a', publishedAt: hoursAgo(1) }), NOW).outcome).toBe(
      'approve',
    );
    expect(evaluatePolicy(policy(['left-pad@1.3.0']), input({ publishedAt: hoursAgo(1) }), NOW).outcome).toBe(
      'approve',
    );
    expect(evaluatePolicy(policy(['left-pad@1.3.1']), input({ publishedAt: hoursAgo(1) }), NOW).outcome).toBe('wait');
    expect(exceptionCovers('@acme/a@1.0.0', '@acme/a', '1.0.0')).toBe(true);
  });

  it('an approver release ends the wait; a reject still wins over the wait', () => {
    expect(
      evaluatePolicy(
        policy(),
        input({ publishedAt: hoursAgo(1), cooldownRelease: { by: 'ann', reason: 'hotfix' } }),
        NOW,
      ).outcome,
    ).toBe('approve');
    const mal: PolicyFinding = { id: 'MAL-1', source: 'osv', severity: 'critical', malware: true };
    expect(evaluatePolicy(policy(), input({ publishedAt: hoursAgo(1), findings: [mal] }), NOW).outcome).toBe('reject');
  });

  it('without a publication time the version is held, not approved', () => {
    const d = evaluatePolicy(policy(), input({ publishedAt: null }), NOW);
    expect(d.outcome).toBe('hold');
    expect(d.reason).toMatch(/no publication time/);
  });
});

describe('waivers', () => {
  const waiver = (over: Partial<PolicyWaiver>): PolicyWaiver => ({
    id: 1,
    packageName: 'left-pad',
    versionRange: '^1.0.0',
    kind: 'advisory',
    subject: 'GHSA-1',
    reason: 'not reachable from our code',
    owner: 'ann',
    expiresAt: new Date(NOW.getTime() + 3_600_000),
    ...over,
  });
  const policy = { version: 3, document: DEFAULT_POLICY };

  it('an advisory waiver removes that vulnerability (by id or alias) and is shown', () => {
    const findings = [{ ...vuln('GHSA-1', 'critical'), aliases: ['CVE-9'] }];
    expect(evaluatePolicy(policy, input({ findings }), NOW).outcome).toBe('hold');
    const d = evaluatePolicy(policy, input({ findings, waivers: [waiver({})] }), NOW);
    expect(d.outcome).toBe('approve');
    expect(d.waived).toEqual([
      expect.objectContaining({ id: 1, subject: 'GHSA-1', owner: 'ann', reason: 'not reachable from our code' }),
    ]);
    expect(evaluatePolicy(policy, input({ findings, waivers: [waiver({ subject: 'cve-9' })] }), NOW).outcome).toBe(
      'approve',
    );
  });

  it('a signal waiver by finding id or kind; a licence waiver by expression', () => {
    expect(
      evaluatePolicy(
        policy,
        input({ findings: [INSTALL], waivers: [waiver({ kind: 'signal', subject: 'install-script' })] }),
        NOW,
      ).outcome,
    ).toBe('approve');
    expect(
      evaluatePolicy(
        policy,
        input({ findings: [INSTALL], waivers: [waiver({ kind: 'signal', subject: 'install_script' })] }),
        NOW,
      ).outcome,
    ).toBe('approve');
    const gpl = { licenseTier: 'avoid', licenseExpression: 'GPL-3.0-only' };
    expect(evaluatePolicy(policy, input(gpl), NOW).outcome).toBe('hold');
    expect(
      evaluatePolicy(policy, input({ ...gpl, waivers: [waiver({ kind: 'license', subject: 'gpl-3.0-only' })] }), NOW)
        .outcome,
    ).toBe('approve');
  });

  it('applies only to its name and version range', () => {
    const findings = [vuln('GHSA-1', 'high')];
    expect(
      evaluatePolicy(policy, input({ findings, waivers: [waiver({ versionRange: '^2.0.0' })] }), NOW).outcome,
    ).toBe('hold');
    expect(
      evaluatePolicy(policy, input({ findings, waivers: [waiver({ packageName: 'right-pad' })] }), NOW).outcome,
    ).toBe('hold');
  });

  it('stops applying when it expires: the same package is held again, and the reason says the waiver expired', () => {
    const findings = [vuln('GHSA-1', 'high')];
    const w = waiver({ expiresAt: new Date(NOW.getTime() + 1000) });
    expect(evaluatePolicy(policy, input({ findings, waivers: [w] }), NOW).outcome).toBe('approve');
    const later = new Date(NOW.getTime() + 1000);
    const d = evaluatePolicy(policy, input({ findings, waivers: [w] }), later);
    expect(d.outcome).toBe('hold');
    expect(d.expiredWaivers).toHaveLength(1);
    expect(d.reason).toMatch(/waiver #1 on GHSA-1 expired/);
  });

  it('never waives malware', () => {
    const mal: PolicyFinding = { id: 'MAL-1', source: 'osv', severity: 'critical', malware: true };
    expect(
      evaluatePolicy(policy, input({ findings: [mal], waivers: [waiver({ subject: 'MAL-1' })] }), NOW).outcome,
    ).toBe('reject');
  });
});

describe('the default policy', () => {
  const p = { version: 1, document: DEFAULT_POLICY };
  it('approves an old, clean, allowed package and holds or waits for the rest', () => {
    expect(evaluatePolicy(p, input(), NOW)).toMatchObject({ outcome: 'approve', rule: { id: 'allowed-licence' } });
    expect(evaluatePolicy(p, input({ publishedAt: hoursAgo(5) }), NOW).outcome).toBe('wait');
    expect(evaluatePolicy(p, input({ findings: [INSTALL] }), NOW)).toMatchObject({
      outcome: 'hold',
      rule: { id: 'install-time-code', index: 3 },
    });
    expect(evaluatePolicy(p, input({ findings: [vuln('GHSA-1', 'medium')] }), NOW).outcome).toBe('approve');
    expect(evaluatePolicy(p, input({ findings: [vuln('GHSA-1', 'high')] }), NOW).outcome).toBe('hold');
    expect(evaluatePolicy(p, input({ deprecated: true }), NOW).outcome).toBe('hold');
    expect(evaluatePolicy(p, input({ licenseTier: null }), NOW).outcome).toBe('hold');
    const dropper: PolicyFinding = { ...signal('download-exec'), severity: 'critical' };
    expect(evaluatePolicy(p, input({ findings: [dropper] }), NOW)).toMatchObject({
      outcome: 'hold',
      rule: { id: 'suspicious-behaviour', index: 4 },
    });
  });
  it('is itself valid', () => {
    expect(policyProblems(DEFAULT_POLICY)).toEqual([]);
    expect(policyProblems(APPROVE_ALL_POLICY)).toEqual([]);
  });
});

describe('policyProblems', () => {
  it('finds duplicate ids, bad ranges, globs and exceptions, empty lists', () => {
    const doc: PolicyDocument = {
      rules: [
        { id: 'a', action: 'hold', when: { versions: 'not a range' } },
        { id: 'a', action: 'hold', when: { names: ['bad name!'], signals: [] } },
        { id: 'Bad Id', action: 'hold', when: {} },
      ],
      default_action: 'hold',
      cooldown: { minimum_age_hours: 1, exceptions: ['lodash@latest'] },
    };
    const problems = policyProblems(doc);
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(/rules\[1\]\.id: "a" is used by an earlier rule/);
  });
});
