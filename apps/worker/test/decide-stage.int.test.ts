import pino from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BEHAVIOUR_SIGNAL_IDS,
  claimPackages,
  createPolicyVersion,
  createUser,
  currentPolicy,
  signalKindOf,
  Status,
  type PolicyDocument,
} from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type TestRegistry } from '@spm/testkit';
import { loadConfig, type WorkerConfig } from '../src/config.js';
import { recordOutcome } from '../src/outcome.js';
import { SourceRegistry } from '../src/registry/source.js';
import { RULES } from '../src/scan/behaviour/rules.js';
import { createDecideStage } from '../src/stages/decide.js';
import { atScanned, hoursBefore, type StoredFinding } from './support/policy.js';
import { eventsOf, statusOf } from './support/worker.js';

let t: TestDatabase;
let registry: TestRegistry;
let source: SourceRegistry;
let config: WorkerConfig;
let adminId: number;
const log = pino({ level: 'silent' });

beforeAll(async () => {
  t = await createTestDatabase();
  registry = await startTestRegistry();
  source = new SourceRegistry({ url: registry.url, token: null, timeoutMs: 10_000 });
  config = loadConfig(
    { DATABASE_URL: t.url, SOURCE_REGISTRY_URL: registry.url, LOG_LEVEL: 'silent', LOG_FORMAT: 'json' },
    { npmRegistry: () => null },
  );
  adminId = (await createUser(t.db, { username: 'root', password: 'correct horse battery', role: 'admin' })).id;
});

afterAll(async () => {
  await registry?.close();
  await t?.destroy();
});

beforeEach(async () => {
  await sql`TRUNCATE requests, packages, package_events, policy_versions, policy_changes, waivers RESTART IDENTITY CASCADE`.execute(
    t.db,
  );
});

/**
 * What a worker does with every package at Security Scanned that is due: claims it (the real claim),
 * runs the real decide stage at `at`, and records the outcome through the fenced completion. Returns
 * the ids decided.
 */
async function decideDue(at: Date): Promise<number[]> {
  const stage = createDecideStage({ registry: source, now: () => at });
  const claimed = await claimPackages(t.db, {
    workerId: 'w1',
    limit: 100,
    leaseSeconds: 60,
    checkpoints: [Status.SecurityScanned],
  });
  for (const pkg of claimed) {
    const outcome = await stage({ pkg, signal: new AbortController().signal, log, db: t.db, config, workerId: 'w1' });
    expect(await recordOutcome(t.db, pkg, 'w1', outcome)).toBe(true);
  }
  return claimed.map((c) => c.packageId);
}

async function decision(name: string, version = '1.0.0') {
  const s = await statusOf(t.db, name, version);
  const evs = await eventsOf(t.db, s.package_id);
  const last = evs.filter((e) => e.from_status === Status.ApplyingPolicy).pop();
  return {
    status: s.status,
    rule: s.policy_rule,
    version: s.policy_version,
    outcome: s.policy_outcome,
    reason: s.policy_reason,
    rejection: s.rejection_kind,
    // A rejection's event reason starts with its kind ("policy: …").
    event: last?.reason?.replace(/^policy: /, '') ?? null,
    row: s,
  };
}

const vuln = (id: string, severity: StoredFinding['severity'], cvss?: number): StoredFinding => ({
  id,
  source: 'osv',
  severity,
  title: `advisory ${id}`,
  ...(cvss !== undefined ? { cvss } : {}),
});
const signal = (id: string, severity: StoredFinding['severity'] = 'medium', evidence?: string): StoredFinding => ({
  id,
  source: 'signal',
  severity,
  ...(evidence ? { evidence } : {}),
});

const NOW = new Date();
const OLD = hoursBefore(NOW, 24 * 30);

describe('the decide stage under the default policy (version 1)', () => {
  it('approves the clean majority and holds, rejects or cools down the rest, naming the rule that decided', async () => {
    const cases: Array<[Parameters<typeof atScanned>[1], string, string | null, RegExp]> = [
      [
        { name: 'clean', publishedAt: OLD },
        Status.Approved,
        'allowed-licence',
        /approve rule 9 \(allowed-licence\): licence MIT is always_allowed/,
      ],
      [
        { name: 'vulnerable', publishedAt: OLD, findings: [vuln('GHSA-aaaa', 'high', 7.5)] },
        Status.PendingApproval,
        'serious-vulnerability',
        /high vulnerability GHSA-aaaa/,
      ],
      [
        { name: 'medium-only', publishedAt: OLD, findings: [vuln('GHSA-bbbb', 'medium')] },
        Status.Approved,
        'allowed-licence',
        /allowed-licence/,
      ],
      [
        {
          name: 'scripted',
          publishedAt: OLD,
          findings: [signal('install-script', 'medium', '"postinstall": "node setup.js"')],
        },
        Status.PendingApproval,
        'install-time-code',
        /hold rule 3 \(install-time-code\): install script install-script: "postinstall": "node setup\.js"/,
      ],
      [
        { name: 'dropper', publishedAt: OLD, findings: [signal('download-exec', 'critical', 'curl x | sh')] },
        Status.PendingApproval,
        'suspicious-behaviour',
        /critical signal download-exec/,
      ],
      [
        { name: 'natively', publishedAt: OLD, findings: [signal('native-binary')] },
        Status.PendingApproval,
        'opaque-code',
        /native binary/,
      ],
      [
        { name: 'packed', publishedAt: OLD, findings: [signal('obfuscated-code')] },
        Status.PendingApproval,
        'opaque-code',
        /obfuscation/,
      ],
      [
        { name: 'liar', publishedAt: OLD, findings: [signal('manifest-mismatch')] },
        Status.PendingApproval,
        'not-what-it-claims',
        /manifest mismatch/,
      ],
      [{ name: 'old-news', publishedAt: OLD, deprecated: true }, Status.PendingApproval, 'deprecated', /deprecated/],
      [
        { name: 'copyleft', publishedAt: OLD, tier: 'avoid', license: 'GPL-3.0-only' },
        Status.PendingApproval,
        'licence-needs-review',
        /licence GPL-3\.0-only is avoid/,
      ],
      [
        { name: 'evil', publishedAt: OLD, findings: [{ ...vuln('MAL-2099-1', 'critical'), malware: true }] },
        Status.Rejected,
        'malware',
        /reject rule 1 \(malware\): malware MAL-2099-1/,
      ],
      [{ name: 'unscanned', publishedAt: OLD, findings: null }, Status.PendingApproval, null, /no security scan/],
      [{ name: 'undated', publishedAt: null }, Status.PendingApproval, null, /no publication time/],
    ];
    for (const [p] of cases) await atScanned(t.db, p);
    expect(await decideDue(NOW)).toHaveLength(cases.length);
    for (const [p, status, rule, reason] of cases) {
      const d = await decision(p.name);
      expect({ name: p.name, status: d.status, rule: d.rule, version: d.version }).toEqual({
        name: p.name,
        status,
        rule,
        version: 1,
      });
      expect(d.reason).toMatch(reason);
      expect(d.event).toBe(`policy v1: ${d.reason}`);
      expect(d.row.policy_decision).toMatchObject({ policyVersion: 1, reason: d.reason });
      expect(d.row.locked_by).toBeNull();
    }
    expect((await decision('evil')).rejection).toBe('policy');
    expect((await decision('clean')).outcome).toBe('approve');
    expect((await decision('vulnerable')).outcome).toBe('hold');
  });

  it('reads publication time and deprecation from the registry when the download stage did not record them', async () => {
    const pkg = buildPackage({ name: 'unrecorded', version: '2.0.0' });
    registry.add(pkg, { publishedAt: OLD, versionDoc: { deprecated: 'use recorded instead' } });
    await atScanned(t.db, { name: 'unrecorded', version: '2.0.0', publishedAt: null, deprecated: null });
    await decideDue(NOW);
    const d = await decision('unrecorded', '2.0.0');
    expect(d).toMatchObject({ status: Status.PendingApproval, rule: 'deprecated' });
    expect(d.row.registry_published_at).toEqual(OLD);
    expect(d.row.registry_deprecated).toBe(true);
  });

  it('writes nothing when the lease was lost while deciding', async () => {
    const id = await atScanned(t.db, { name: 'taken', publishedAt: OLD });
    const [pkg] = await claimPackages(t.db, { workerId: 'w1', limit: 1, leaseSeconds: 60 });
    const outcome = await createDecideStage({ now: () => NOW })({
      pkg: pkg!,
      signal: new AbortController().signal,
      log,
      db: t.db,
      config,
      workerId: 'w1',
    });
    await t.db.updateTable('package_status').set({ locked_by: 'w2' }).where('package_id', '=', id).execute();
    expect(await recordOutcome(t.db, pkg!, 'w1', outcome)).toBe(false);
    const s = await statusOf(t.db, 'taken');
    expect({ status: s.status, version: s.policy_version }).toEqual({ status: Status.ApplyingPolicy, version: null });
  });
});

describe('every condition and action through the stage', () => {
  const policy: PolicyDocument = {
    rules: [
      { id: 'critical-cvss', action: 'reject', when: { cvss_at_least: 9 } },
      { id: 'bad-advisory', action: 'reject', when: { finding_ids: ['GHSA-bad0'] } },
      { id: 'new-install-code', action: 'hold', when: { new_signals: ['install_script'] } },
      { id: 'fresh', action: 'hold', when: { younger_than_hours: 200 }, unless: { names: ['@trusted/*'] } },
      { id: 'dev-tools', action: 'warn', when: { dev: true } },
      { id: 'optional-natives', action: 'warn', when: { optional: true, signals: ['native_binary'] } },
      { id: 'trusted-scope', action: 'approve', when: { names: ['@trusted/*'], versions: '>=1.0.0' } },
      { id: 'deprecated', action: 'reject', when: { deprecated: true } },
      { id: 'blocked-licence', action: 'reject', when: { license_tier: ['blocked'] } },
      { id: 'vulnerable', action: 'hold', when: { severity_at_least: 'medium' } },
      { id: 'loud-signals', action: 'hold', when: { signal_severity_at_least: 'high' } },
      { id: 'benign', action: 'approve', when: { malware: false } },
    ],
    default_action: 'hold',
    cooldown: { minimum_age_hours: 0, exceptions: [] },
  };
  const aged = hoursBefore(NOW, 300);

  it('decides each package by the winning action (reject > hold > warn > approve) of version 2', async () => {
    await currentPolicy(t.db);
    await createPolicyVersion(t.db, { document: policy, comment: 'all conditions', userId: adminId, username: 'root' });
    // The previous approved version of "growing" had no install script; that of "stable" had the same one.
    await atScanned(t.db, { name: 'growing', version: '1.0.0', publishedAt: aged, status: Status.Approved });
    await atScanned(t.db, {
      name: 'stable',
      version: '1.0.0',
      publishedAt: aged,
      status: Status.Approved,
      findings: [signal('install-script')],
    });
    const cases: Array<[Parameters<typeof atScanned>[1], string, string, string]> = [
      [{ name: 'cvss', findings: [vuln('GHSA-cvss', 'critical', 9.8)] }, Status.Rejected, 'critical-cvss', 'reject'],
      [
        { name: 'dev-but-critical', dev: true, findings: [vuln('GHSA-c2', 'critical', 9.1)] },
        Status.Rejected,
        'critical-cvss',
        'reject',
      ],
      [{ name: 'named-advisory', findings: [vuln('GHSA-bad0', 'low')] }, Status.Rejected, 'bad-advisory', 'reject'],
      [
        { name: 'growing', version: '1.1.0', findings: [signal('install-script')] },
        Status.PendingApproval,
        'new-install-code',
        'hold',
      ],
      [
        { name: 'stable', version: '1.1.0', findings: [signal('install-script')] },
        Status.Approved,
        'benign',
        'approve',
      ],
      [{ name: 'newborn', publishedAt: hoursBefore(NOW, 10) }, Status.PendingApproval, 'fresh', 'hold'],
      [
        { name: '@trusted/newborn', version: '1.2.0', publishedAt: hoursBefore(NOW, 10) },
        Status.Approved,
        'trusted-scope',
        'approve',
      ],
      [{ name: 'devtool', dev: true }, Status.Approved, 'dev-tools', 'warn'],
      [
        { name: 'opt-native', optional: true, findings: [signal('native-binary')] },
        Status.Approved,
        'optional-natives',
        'warn',
      ],
      [{ name: 'sunset', deprecated: true }, Status.Rejected, 'deprecated', 'reject'],
      [{ name: 'proprietary', tier: 'blocked', license: 'SSPL-1.0' }, Status.Rejected, 'blocked-licence', 'reject'],
      [{ name: 'medium-vuln', findings: [vuln('GHSA-m', 'medium')] }, Status.PendingApproval, 'vulnerable', 'hold'],
      [{ name: 'beacon', findings: [signal('host-beacon', 'high')] }, Status.PendingApproval, 'loud-signals', 'hold'],
      [
        { name: 'malware-not-benign', findings: [{ ...vuln('MAL-1', 'critical'), malware: true }] },
        Status.PendingApproval,
        '',
        'hold',
      ],
    ];
    for (const [p] of cases) await atScanned(t.db, { publishedAt: aged, ...p });
    await decideDue(NOW);
    for (const [p, status, rule, outcome] of cases) {
      const d = await decision(p.name, p.version ?? '1.0.0');
      expect({ name: p.name, status: d.status, rule: d.rule ?? '', outcome: d.outcome, version: d.version }).toEqual({
        name: p.name,
        status,
        rule,
        outcome,
        version: 2,
      });
      if (d.rule) expect(d.event).toMatch(new RegExp(`^policy v2: ${outcome} rule \\d+ \\(${d.rule}\\)`));
    }
    // No rule matched malware here (the policy has no malware rule): the default action, said so.
    expect((await decision('malware-not-benign')).reason).toMatch(/no rule matched \(the policy's default action\)/);
  });
});

describe('cooldown', () => {
  it('a young version waits visibly, is not claimed before it comes of age, and is decided then with no person', async () => {
    // Published 80 hours before the real now: the stage's clock starts one hour after publication.
    const published = hoursBefore(new Date(), 80);
    const ofAge = new Date(published.getTime() + 72 * 3_600_000);
    await atScanned(t.db, { name: 'fresh', publishedAt: published });
    let clock = new Date(published.getTime() + 3_600_000);

    await decideDue(clock);
    let d = await decision('fresh');
    expect(d).toMatchObject({ status: Status.SecurityScanned, outcome: 'wait', rule: null, version: 1 });
    expect(d.reason).toBe(`cooldown until ${ofAge.toISOString()}: published 1 h ago, under the minimum age of 72 h`);
    expect(d.event).toBe(`policy v1: ${d.reason}`);
    expect(d.row.cooldown_until).toEqual(ofAge);
    expect(d.row.run_at).toEqual(ofAge);

    // Due again at run_at (in the database's past here): evaluated again, still young by the stage's clock.
    clock = new Date(ofAge.getTime() - 60_000);
    await decideDue(clock);
    expect((await decision('fresh')).status).toBe(Status.SecurityScanned);

    clock = new Date(ofAge.getTime() + 60_000);
    await decideDue(clock);
    d = await decision('fresh');
    expect(d).toMatchObject({ status: Status.Approved, rule: 'allowed-licence', outcome: 'approve' });
    expect(d.row.cooldown_until).toBeNull();
    expect(d.row.approved_by).toBeNull();
    const evs = await eventsOf(t.db, d.row.package_id);
    expect(evs.filter((e) => e.actor_kind !== 'worker' && e.to_status !== Status.Requested)).toEqual([]);
    expect(evs.filter((e) => e.from_status === Status.ApplyingPolicy).map((e) => e.to_status)).toEqual([
      Status.SecurityScanned,
      Status.SecurityScanned,
      Status.Approved,
    ]);
  });

  it('a version that comes of age in the future is not claimed before then', async () => {
    const now = new Date();
    await atScanned(t.db, { name: 'tomorrow', publishedAt: hoursBefore(now, 1) });
    expect(await decideDue(now)).toHaveLength(1);
    const d = await decision('tomorrow');
    expect(d.status).toBe(Status.SecurityScanned);
    expect(d.row.run_at.getTime()).toBe(now.getTime() + 71 * 3_600_000);
    expect(await decideDue(now)).toEqual([]);
  });
});

it('counts every behaviour rule of the scanner as a behaviour signal, and lists each one', () => {
  for (const id of Object.keys(RULES)) expect({ id, kind: signalKindOf(id) }).toEqual({ id, kind: 'behaviour' });
  expect(Object.keys(RULES).filter((id) => !BEHAVIOUR_SIGNAL_IDS.has(id))).toEqual([]);
});
