import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import {
  APPROVE_ALL_POLICY,
  DEFAULT_POLICY,
  Status,
  createPolicyVersion,
  createUser,
  createWaiver,
  currentPolicy,
  enqueueLockfile,
  getPolicyVersion,
  insertSecurityScan,
  listPolicyVersions,
  listWaivers,
  policyGeneration,
  policyInputs,
  revokeWaiver,
  type LockfilePackage,
} from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';

let t: TestDatabase;
let adminId: number;

beforeAll(async () => {
  t = await createTestDatabase();
  adminId = (await createUser(t.db, { username: 'root', password: 'correct horse battery', role: 'admin' })).id;
});
afterAll(async () => {
  await t?.destroy();
});
beforeEach(async () => {
  await sql`TRUNCATE requests, packages, package_events, policy_versions, policy_changes, waivers, audit_log RESTART IDENTITY CASCADE`.execute(
    t.db,
  );
});

const pkg = (name: string, version: string, over: Partial<LockfilePackage> = {}): LockfilePackage => ({
  name,
  version,
  integrity: null,
  resolved: null,
  license: 'MIT',
  dev: false,
  optional: false,
  ...over,
});

async function enqueue(packages: LockfilePackage[]) {
  await enqueueLockfile(t.db, {
    applicationName: 'app',
    applicationVersion: '1.0.0',
    requestorId: null,
    actor: 'tester',
    lockfile: {},
    lockfileVersion: 3,
    packages,
  });
}

async function idOf(name: string, version: string): Promise<number> {
  const r = await t.db
    .selectFrom('packages')
    .select('id')
    .where('name', '=', name)
    .where('version', '=', version)
    .executeTakeFirstOrThrow();
  return r.id;
}

async function scan(packageId: number, findings: unknown[]) {
  await insertSecurityScan(t.db, {
    packageId,
    scanners: [],
    counts: { critical: 0, high: 0, medium: 0, low: 0, info: 0 },
    findings,
    malware: false,
    score: 100,
    durationMs: 1,
  });
}

describe('policy versions', () => {
  it('starts from the default policy as version 1, written once however many ask at once', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => currentPolicy(t.db)));
    expect(new Set(all.map((p) => p.version))).toEqual(new Set([1]));
    expect(all[0]!.document).toEqual(DEFAULT_POLICY);
    expect(await policyGeneration(t.db)).toBe(1);
  });

  it('every change is a new version without gaps, even when written concurrently; old versions stay readable', async () => {
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        createPolicyVersion(t.db, {
          document: APPROVE_ALL_POLICY,
          comment: `change ${i}`,
          userId: adminId,
          username: 'root',
        }),
      ),
    );
    const { total, versions } = await listPolicyVersions(t.db, { limit: 100, offset: 0 });
    expect(total).toBe(6);
    expect(versions.map((v) => v.version)).toEqual([6, 5, 4, 3, 2, 1]);
    expect((await getPolicyVersion(t.db, 1))!.document).toEqual(DEFAULT_POLICY);
    expect((await currentPolicy(t.db)).version).toBe(6);
    const audit = await t.db
      .selectFrom('audit_log')
      .select(['action', 'target_id'])
      .where('action', '=', 'policy.version.create')
      .execute();
    expect(audit).toHaveLength(5);
    expect(await policyGeneration(t.db)).toBe(6);
  });
});

describe('waivers', () => {
  it('grants and revokes, each a counted, audited change', async () => {
    await currentPolicy(t.db);
    const w = await createWaiver(t.db, {
      packageName: 'left-pad',
      versionRange: '^1',
      kind: 'advisory',
      subject: 'GHSA-1',
      reason: 'not reachable',
      owner: 'ann',
      expiresAt: new Date(Date.now() + 86_400_000),
      userId: adminId,
      username: 'root',
    });
    expect(await policyGeneration(t.db)).toBe(2);
    expect((await listWaivers(t.db, { active: true, limit: 10, offset: 0 })).total).toBe(1);
    const revoked = await revokeWaiver(t.db, { id: w.id, userId: adminId, username: 'root', reason: 'fixed upstream' });
    expect(revoked!.revokedAt).toBeInstanceOf(Date);
    expect(await policyGeneration(t.db)).toBe(3);
    expect((await listWaivers(t.db, { active: true, limit: 10, offset: 0 })).total).toBe(0);
    expect(await revokeWaiver(t.db, { id: 999, userId: adminId, username: 'root', reason: 'x' })).toBeNull();
    const actions = (await t.db.selectFrom('audit_log').select('action').orderBy('id').execute()).map((r) => r.action);
    expect(actions).toEqual(['policy.waiver.create', 'policy.waiver.revoke']);
  });
});

describe('policyInputs', () => {
  it('gathers licence, findings, registry facts, dev-only use, the previous approved version and waivers', async () => {
    await enqueue([
      pkg('a', '1.0.0'),
      pkg('a', '1.5.0'),
      pkg('a', '2.0.0', { dev: true }),
      pkg('a', '3.0.0'),
      pkg('b', '1.0.0', { optional: true }),
    ]);
    const [a1, a15, a2, a3, b] = await Promise.all([
      idOf('a', '1.0.0'),
      idOf('a', '1.5.0'),
      idOf('a', '2.0.0'),
      idOf('a', '3.0.0'),
      idOf('b', '1.0.0'),
    ]);
    // 1.0.0 and 3.0.0 approved (3.0.0 is newer than 2.0.0, so not its predecessor); 1.5.0 only pending.
    await t.db
      .updateTable('package_status')
      .set({ status: Status.Published })
      .where('package_id', 'in', [a1, a3])
      .execute();
    await t.db
      .updateTable('package_status')
      .set({ status: Status.PendingApproval })
      .where('package_id', '=', a15)
      .execute();
    await scan(a1, [{ id: 'native-binary', source: 'signal', severity: 'medium' }]);
    await scan(a2, [
      { id: 'bogus' },
      'nonsense',
      { id: 'GHSA-9', source: 'osv', severity: 'high', aliases: ['CVE-1'], cvss: 7.5 },
    ]);
    await scan(a2, [
      { id: 'install-script', source: 'signal', severity: 'medium', evidence: '"postinstall": "x"' },
      { id: 'GHSA-9', source: 'osv', severity: 'weird', aliases: ['CVE-1'], cvss: 7.5 },
    ]);
    await t.db
      .updateTable('package_status')
      .set({
        license_tier: 'allowed',
        license_expression: 'MIT',
        registry_published_at: new Date('2026-01-01T00:00:00Z'),
        registry_deprecated: true,
      })
      .where('package_id', '=', a2)
      .execute();
    await createWaiver(t.db, {
      packageName: 'A',
      versionRange: '*',
      kind: 'signal',
      subject: 'install-script',
      reason: 'r',
      owner: 'o',
      expiresAt: new Date(Date.now() + 1000),
      userId: adminId,
      username: 'root',
    });

    const inputs = await policyInputs(t.db, [a2, b]);
    expect(inputs.get(a2)).toEqual({
      name: 'a',
      version: '2.0.0',
      licenseTier: 'allowed',
      licenseExpression: 'MIT',
      findings: [
        { id: 'install-script', source: 'signal', severity: 'medium', evidence: '"postinstall": "x"' },
        { id: 'GHSA-9', source: 'osv', severity: 'medium', aliases: ['CVE-1'], cvss: 7.5 },
      ],
      previousApproved: { version: '1.0.0', signalIds: ['native-binary'] },
      publishedAt: new Date('2026-01-01T00:00:00Z'),
      deprecated: true,
      dev: true,
      optional: false,
      waivers: [expect.objectContaining({ packageName: 'A', kind: 'signal', subject: 'install-script' })],
      cooldownRelease: null,
    });
    expect(inputs.get(b)).toMatchObject({
      findings: null,
      previousApproved: null,
      dev: false,
      optional: true,
      waivers: [],
    });
  });
});
