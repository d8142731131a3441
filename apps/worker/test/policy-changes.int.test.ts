import pino from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  claimPackages,
  createPolicyVersion,
  createUser,
  createWaiver,
  currentPolicy,
  DEFAULT_POLICY,
  dryRunPolicy,
  getPackageReport,
  releaseCooldown,
  requeueForPolicyChange,
  revokeWaiver,
  Status,
  type PolicyDocument,
} from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { loadConfig, type WorkerConfig } from '../src/config.js';
import { recordOutcome } from '../src/outcome.js';
import { createDecideStage } from '../src/stages/decide.js';
import { atScanned, hoursBefore, type StoredFinding } from './support/policy.js';
import { statusOf } from './support/worker.js';

let t: TestDatabase;
let config: WorkerConfig;
let adminId: number;
let approverId: number;
const log = pino({ level: 'silent' });

beforeAll(async () => {
  t = await createTestDatabase();
  config = loadConfig(
    {
      DATABASE_URL: t.url,
      SOURCE_REGISTRY_URL: 'http://registry.example.test/',
      LOG_LEVEL: 'silent',
      LOG_FORMAT: 'json',
    },
    { npmRegistry: () => null },
  );
  adminId = (await createUser(t.db, { username: 'root', password: 'correct horse battery', role: 'admin' })).id;
  approverId = (await createUser(t.db, { username: 'ann', password: 'correct horse battery', role: 'approver' })).id;
});

afterAll(async () => {
  await t?.destroy();
});

beforeEach(async () => {
  await sql`TRUNCATE requests, packages, package_events, policy_versions, policy_changes, waivers, audit_log RESTART IDENTITY CASCADE`.execute(
    t.db,
  );
  await currentPolicy(t.db);
});

/**
 * One round of what the workers do: send stale pending packages back (bounded batches, until none is
 * left), then claim every package due at Security Scanned and decide it at `at`. Returns how many.
 */
async function enforce(at: Date): Promise<number> {
  while ((await requeueForPolicyChange(t.db, { limit: 2, actor: 'test-worker' })).length > 0);
  const claimed = await claimPackages(t.db, {
    workerId: 'w1',
    limit: 1000,
    leaseSeconds: 60,
    checkpoints: [Status.SecurityScanned],
  });
  const stage = createDecideStage({ now: () => at });
  for (const pkg of claimed) {
    const o = await stage({ pkg, signal: new AbortController().signal, log, db: t.db, config, workerId: 'w1' });
    expect(await recordOutcome(t.db, pkg, 'w1', o)).toBe(true);
  }
  return claimed.length;
}

const vuln = (id: string, severity: StoredFinding['severity']): StoredFinding => ({ id, source: 'osv', severity });
const NOW = new Date();
const OLD = hoursBefore(NOW, 24 * 30);

describe('dry-run', () => {
  it('predicts exactly what enforcement then does with the same packages, and writes nothing', async () => {
    const mk = (name: string, over: Parameters<typeof atScanned>[1] = { name }) =>
      atScanned(t.db, { publishedAt: OLD, ...over, name });
    await mk('clean');
    await mk('vulnerable', { name: 'vulnerable', findings: [vuln('GHSA-h', 'high')] });
    await mk('critical', { name: 'critical', findings: [vuln('GHSA-c', 'critical')] });
    await mk('scripted', {
      name: 'scripted',
      findings: [{ id: 'install-script', source: 'signal', severity: 'medium' }],
    });
    await mk('devtool', { name: 'devtool', dev: true, findings: [vuln('GHSA-d', 'high')] });
    await mk('copyleft', { name: 'copyleft', tier: 'avoid', license: 'GPL-3.0-only' });
    await mk('young', { name: 'young', publishedAt: hoursBefore(NOW, 5) });
    await enforce(NOW);
    // An approved package the draft would reject: reported, never changed.
    await mk('shipped', { name: 'shipped', status: Status.Published, findings: [vuln('GHSA-s', 'critical')] });

    const draft: PolicyDocument = {
      ...DEFAULT_POLICY,
      rules: [
        { id: 'criticals', action: 'reject', when: { severity_at_least: 'critical' } },
        { id: 'dev-tools', action: 'warn', when: { dev: true } },
        ...DEFAULT_POLICY.rules.filter((r) => r.id !== 'serious-vulnerability' && r.id !== 'install-time-code'),
        { id: 'high-vulns', action: 'hold', when: { severity_at_least: 'high' }, unless: { dev: true } },
      ],
      cooldown: { minimum_age_hours: 2, exceptions: [] },
    };
    const counted = async () =>
      (
        await sql<{ n: string }>`SELECT (SELECT count(*) FROM package_events) + (SELECT count(*) FROM policy_versions)
          + (SELECT count(*) FROM policy_changes) AS n`.execute(t.db)
      ).rows[0]!.n;
    const before = await counted();
    const dry = await dryRunPolicy(t.db, { document: draft, version: 2, now: NOW, limit: 100 });
    expect(await counted()).toBe(before);
    expect(dry).toMatchObject({ evaluated: 8, changed: 4, wouldRejectLetThrough: 1 });
    expect(dry.outcomes).toEqual({ approve: 2, warn: 1, hold: 2, reject: 1, wait: 0 });
    const predicted = new Map(dry.items.map((i) => [i.name, i.wouldBe]));
    expect(Object.fromEntries(predicted)).toEqual({
      critical: Status.Rejected,
      scripted: Status.Approved,
      devtool: Status.Approved,
      young: Status.Approved,
      shipped: Status.Published,
    });

    await createPolicyVersion(t.db, { document: draft, comment: 'as dry-run', userId: adminId, username: 'root' });
    await enforce(NOW);
    const rows = await t.db
      .selectFrom('package_status as ps')
      .innerJoin('packages as p', 'p.id', 'ps.package_id')
      .select(['p.name', 'ps.status', 'ps.policy_version'])
      .execute();
    for (const r of rows) {
      const expected = predicted.get(r.name);
      if (expected) expect({ name: r.name, status: r.status }).toEqual({ name: r.name, status: expected });
    }
    // Everything the dry-run did not list kept its status; everything waiting was decided by version 2.
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(byName.clean).toMatchObject({ status: Status.Approved, policy_version: 1 });
    expect(byName.vulnerable).toMatchObject({ status: Status.PendingApproval, policy_version: 2 });
    expect(byName.copyleft).toMatchObject({ status: Status.PendingApproval, policy_version: 2 });
    expect(byName.shipped).toMatchObject({ status: Status.Published, policy_version: null });
  });
});

describe('re-evaluation', () => {
  it('sends pending packages back in bounded batches, once per change, and never touches what was let through', async () => {
    for (let i = 0; i < 5; i++) await atScanned(t.db, { name: `held-${i}`, publishedAt: OLD, tier: 'avoid' });
    await atScanned(t.db, { name: 'approved', publishedAt: OLD, status: Status.Approved });
    await enforce(NOW);
    expect(await requeueForPolicyChange(t.db, { limit: 10, actor: 't' })).toEqual([]);
    await createPolicyVersion(t.db, {
      document: DEFAULT_POLICY,
      comment: 'same again',
      userId: adminId,
      username: 'root',
    });
    const batches = [];
    for (;;) {
      const moved = await requeueForPolicyChange(t.db, { limit: 2, actor: 't' });
      batches.push(moved.length);
      if (moved.length === 0) break;
    }
    expect(batches).toEqual([2, 2, 1, 0]);
    expect((await statusOf(t.db, 'approved')).status).toBe(Status.Approved);
    expect(await enforce(NOW)).toBe(5);
    expect(await requeueForPolicyChange(t.db, { limit: 10, actor: 't' })).toEqual([]);
    expect((await statusOf(t.db, 'held-0')).policy_version).toBe(2);
  });
});

describe('waivers', () => {
  it('a waiver lets a held package through at its next evaluation, and the report shows it', async () => {
    const id = await atScanned(t.db, {
      name: 'lodash-ish',
      version: '4.17.20',
      publishedAt: OLD,
      findings: [vuln('GHSA-w1', 'high')],
    });
    await enforce(NOW);
    expect((await statusOf(t.db, 'lodash-ish', '4.17.20')).status).toBe(Status.PendingApproval);
    const w = await createWaiver(t.db, {
      packageName: 'lodash-ish',
      versionRange: '^4.17.0',
      kind: 'advisory',
      subject: 'GHSA-w1',
      reason: 'the vulnerable function is never called',
      owner: 'team-web',
      expiresAt: new Date(NOW.getTime() + 30 * 86_400_000),
      userId: approverId,
      username: 'ann',
    });
    await enforce(NOW);
    const s = await statusOf(t.db, 'lodash-ish', '4.17.20');
    expect(s).toMatchObject({ status: Status.Approved, policy_rule: 'allowed-licence', policy_version: 1 });
    const report = await getPackageReport(t.db, id);
    expect(report!.policy!.decision).toMatchObject({
      waived: [{ id: w.id, subject: 'GHSA-w1', owner: 'team-web', reason: 'the vulnerable function is never called' }],
    });
  });

  it('stops applying when it expires: the next evaluation holds the package again (controllable clock)', async () => {
    // Published 80 h before the real now; the worker's clock starts 1 h after publication.
    const published = hoursBefore(new Date(), 80);
    const ofAge = new Date(published.getTime() + 72 * 3_600_000);
    await atScanned(t.db, { name: 'waived', publishedAt: published, findings: [vuln('GHSA-x', 'critical')] });
    const w = await createWaiver(t.db, {
      packageName: 'waived',
      versionRange: '*',
      kind: 'advisory',
      subject: 'GHSA-x',
      reason: 'patched in our fork',
      owner: 'sec',
      expiresAt: new Date(published.getTime() + 24 * 3_600_000),
      userId: approverId,
      username: 'ann',
    });
    await enforce(new Date(published.getTime() + 3_600_000));
    let s = await statusOf(t.db, 'waived');
    expect(s).toMatchObject({ status: Status.SecurityScanned, policy_outcome: 'wait' });
    expect(s.policy_decision).toMatchObject({ waived: [{ id: w.id }] });

    // Of age, but the waiver ran out a day after publication.
    await enforce(new Date(ofAge.getTime() + 60_000));
    s = await statusOf(t.db, 'waived');
    expect(s).toMatchObject({ status: Status.PendingApproval, policy_rule: 'serious-vulnerability' });
    expect(s.policy_reason).toMatch(new RegExp(`waiver #${w.id} on GHSA-x expired`));
    expect(s.policy_decision).toMatchObject({ waived: [], expiredWaivers: [{ id: w.id }] });
  });

  it('revoking a waiver re-evaluates the packages still waiting without it', async () => {
    const published = hoursBefore(new Date(), 10);
    await atScanned(t.db, { name: 'revoked', publishedAt: published, findings: [vuln('GHSA-r', 'high')] });
    const w = await createWaiver(t.db, {
      packageName: 'revoked',
      versionRange: '*',
      kind: 'advisory',
      subject: 'GHSA-r',
      reason: 'x',
      owner: 'sec',
      expiresAt: new Date(Date.now() + 86_400_000),
      userId: approverId,
      username: 'ann',
    });
    await enforce(new Date());
    expect((await statusOf(t.db, 'revoked')).policy_decision).toMatchObject({ waived: [{ id: w.id }] });
    await revokeWaiver(t.db, { id: w.id, userId: approverId, username: 'ann', reason: 'fixed upstream' });
    await enforce(new Date());
    const s = await statusOf(t.db, 'revoked');
    expect(s).toMatchObject({ status: Status.SecurityScanned, policy_outcome: 'wait' });
    expect(s.policy_decision).toMatchObject({ waived: [] });
  });
});

describe('early cooldown release', () => {
  it('an approver releases a young version with a reason; the rules then decide it at once', async () => {
    const young = await atScanned(t.db, { name: 'hotfix', publishedAt: hoursBefore(NOW, 2) });
    const youngVuln = await atScanned(t.db, {
      name: 'hotfix-vuln',
      publishedAt: hoursBefore(NOW, 2),
      findings: [vuln('GHSA-v', 'high')],
    });
    const done = await atScanned(t.db, { name: 'settled', publishedAt: OLD });
    await enforce(NOW);
    const r = await releaseCooldown(t.db, {
      packageIds: [young, youngVuln, done, 999_999],
      userId: approverId,
      username: 'ann',
      reason: 'security hotfix we need today',
    });
    expect(r.released.sort()).toEqual([young, youngVuln].sort());
    expect(r.skipped).toEqual([
      { packageId: done, status: Status.Approved },
      { packageId: 999_999, status: null },
    ]);
    await enforce(NOW);
    expect(await statusOf(t.db, 'hotfix')).toMatchObject({
      status: Status.Approved,
      policy_rule: 'allowed-licence',
      cooldown_released_by: 'ann',
      cooldown_release_reason: 'security hotfix we need today',
    });
    expect((await statusOf(t.db, 'hotfix-vuln')).status).toBe(Status.PendingApproval);
    const audit = await t.db.selectFrom('audit_log').select(['action', 'actor_username']).execute();
    expect(audit).toContainEqual({ action: 'policy.cooldown.release', actor_username: 'ann' });
  });
});
