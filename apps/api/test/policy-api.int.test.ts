import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE_ALL_POLICY, DEFAULT_POLICY, insertSecurityScan } from '@spm/db';
import { bearer, generatedLockfile, setStatus, setupApp, type TestApp } from './helpers.js';

/** The approval policy over HTTP: versions, dry-run, waivers and early cooldown release. */

let t: TestApp;

beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());

const admin = () => bearer(t.tokens.admin);
const approver = () => bearer(t.tokens.approver);
const auditActions = async () =>
  (await t.db.selectFrom('audit_log').select('action').orderBy('id').execute()).map((r) => r.action);

describe('GET/PUT /api/admin/policy', () => {
  it('starts at the default policy; each change is a new, audited version and the old ones stay readable', async () => {
    const first = await t.app.inject({ method: 'GET', url: '/api/admin/policy', headers: admin() });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ version: 1, document: DEFAULT_POLICY, created_by: null });

    const put = await t.app.inject({
      method: 'PUT',
      url: '/api/admin/policy',
      headers: admin(),
      payload: { document: APPROVE_ALL_POLICY, comment: 'trust everything for the demo' },
    });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({
      version: 2,
      document: APPROVE_ALL_POLICY,
      comment: 'trust everything for the demo',
      created_by: 'test-admin',
      would_reject_let_through: 0,
    });
    expect((await t.app.inject({ method: 'GET', url: '/api/admin/policy', headers: admin() })).json().version).toBe(2);
    const versions = (
      await t.app.inject({ method: 'GET', url: '/api/admin/policy/versions', headers: admin() })
    ).json();
    expect(versions).toMatchObject({ total: 2 });
    expect(versions.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const old = await t.app.inject({ method: 'GET', url: '/api/admin/policy/versions/1', headers: admin() });
    expect(old.json().document).toEqual(DEFAULT_POLICY);
    const none = await t.app.inject({ method: 'GET', url: '/api/admin/policy/versions/99', headers: admin() });
    expect(none.statusCode).toBe(404);
    expect(none.json().error.code).toBe('ERR_POLICY_VERSION_NOT_FOUND');
    expect(await auditActions()).toContain('policy.version.create');
  });

  it('refuses a policy that cannot work with 400 and every problem named, writing nothing', async () => {
    const before = (await t.app.inject({ method: 'GET', url: '/api/admin/policy', headers: admin() })).json().version;
    const bad = await t.app.inject({
      method: 'PUT',
      url: '/api/admin/policy',
      headers: admin(),
      payload: {
        document: {
          rules: [
            { id: 'a', action: 'hold', when: { versions: 'not a range' } },
            { id: 'a', action: 'hold', when: {} },
          ],
          default_action: 'hold',
          cooldown: { minimum_age_hours: 0, exceptions: [] },
        },
      },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('ERR_POLICY_INVALID');
    expect(bad.json().error.details.problems).toHaveLength(2);
    for (const document of [
      { ...DEFAULT_POLICY, rules: [{ id: 'x', action: 'hold', when: { colour: 'red' } }] },
      { ...DEFAULT_POLICY, default_action: 'maybe' },
      { ...DEFAULT_POLICY, cooldown: { minimum_age_hours: -1, exceptions: [] } },
      { rules: [] },
    ]) {
      const r = await t.app.inject({
        method: 'PUT',
        url: '/api/admin/policy',
        headers: admin(),
        payload: { document },
      });
      expect(r.statusCode, JSON.stringify(document)).toBe(400);
      expect(r.json().error.code).toBe('ERR_VALIDATION');
    }
    expect((await t.app.inject({ method: 'GET', url: '/api/admin/policy', headers: admin() })).json().version).toBe(
      before,
    );
  });
});

describe('POST /api/admin/policy/dry-run', () => {
  it('counts and lists what a draft would change, and writes nothing', async () => {
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: bearer(t.tokens.user),
      payload: generatedLockfile(3, 'dry'),
    });
    const ids = (
      await t.db
        .selectFrom('request_packages')
        .select('package_id')
        .where('request_id', '=', up.json().request_id)
        .orderBy('package_id')
        .execute()
    ).map((r) => Number(r.package_id));
    await setStatus(t.db, ids, 'Pending Approval', {
      license_tier: 'always_allowed',
      license_expression: 'MIT',
      registry_published_at: new Date(Date.now() - 30 * 86_400_000),
      registry_deprecated: false,
    });
    for (const id of ids)
      await insertSecurityScan(t.db, {
        packageId: id,
        scanners: [],
        counts: { critical: 0, high: 0, medium: 0, low: 0, info: 0 },
        findings: [],
        malware: false,
        score: 100,
        durationMs: 1,
      });
    const versions = async () => (await t.db.selectFrom('policy_versions').select('version').execute()).length;
    const before = await versions();
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/admin/policy/dry-run',
      headers: admin(),
      payload: { document: DEFAULT_POLICY },
    });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ evaluated: 3, changed: 3, outcomes: { approve: 3 }, truncated: false });
    expect(r.json().items[0]).toMatchObject({
      status: 'Pending Approval',
      would_be: 'Approved',
      draft: { outcome: 'approve', rule: 'allowed-licence' },
    });
    expect(await versions()).toBe(before);
    const statuses = await t.db.selectFrom('package_status').select('status').where('package_id', 'in', ids).execute();
    expect(statuses.every((s) => s.status === 'Pending Approval')).toBe(true);
  });
});

describe('waivers', () => {
  const waiver = (over: Record<string, unknown> = {}) => ({
    package_name: 'left-pad',
    version_range: '^1.0.0',
    kind: 'advisory',
    subject: 'GHSA-aaaa-bbbb-cccc',
    reason: 'not reachable from our code',
    owner: 'team-web',
    expires_at: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    ...over,
  });

  it('an approver grants, lists and revokes a waiver, each audited', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/waivers',
      headers: approver(),
      payload: waiver(),
    });
    expect(created.statusCode, created.body).toBe(201);
    const w = created.json();
    expect(w).toMatchObject({
      package_name: 'left-pad',
      owner: 'team-web',
      expired: false,
      created_by: 'test-approver',
    });
    const list = await t.app.inject({ method: 'GET', url: '/api/approvals/waivers?active=true', headers: approver() });
    expect(list.json().waivers.map((x: { id: number }) => x.id)).toContain(w.id);
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/api/approvals/waivers/${w.id}`,
      headers: approver(),
      payload: { reason: 'fixed upstream' },
    });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ id: w.id, revoked_by: 'test-approver' });
    const active = await t.app.inject({
      method: 'GET',
      url: '/api/approvals/waivers?active=true',
      headers: approver(),
    });
    expect(active.json().waivers.map((x: { id: number }) => x.id)).not.toContain(w.id);
    const missing = await t.app.inject({ method: 'DELETE', url: '/api/approvals/waivers/999999', headers: approver() });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('ERR_WAIVER_NOT_FOUND');
    expect(await auditActions()).toEqual(expect.arrayContaining(['policy.waiver.create', 'policy.waiver.revoke']));
  });

  it('refuses a bad range, an expiry in the past or too far away, and a bad kind, with a code', async () => {
    for (const [over, code] of [
      [{ version_range: 'one point oh' }, 'ERR_INVALID_RANGE'],
      [{ expires_at: new Date(Date.now() - 1000).toISOString() }, 'ERR_INVALID_EXPIRY'],
      [{ expires_at: new Date(Date.now() + 400 * 86_400_000).toISOString() }, 'ERR_INVALID_EXPIRY'],
      [{ kind: 'vibes' }, 'ERR_VALIDATION'],
      [{ package_name: 'Not A Name' }, 'ERR_VALIDATION'],
      [{ owner: '' }, 'ERR_VALIDATION'],
    ] as const) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/approvals/waivers',
        headers: approver(),
        payload: waiver(over),
      });
      expect(r.statusCode, JSON.stringify(over)).toBe(400);
      expect(r.json().error.code).toBe(code);
    }
  });
});

describe('early cooldown release', () => {
  it('releases packages waiting in a cooldown and skips the others, naming their status', async () => {
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: bearer(t.tokens.user),
      payload: generatedLockfile(2, 'cool'),
    });
    const [a, b] = (
      await t.db
        .selectFrom('request_packages')
        .select('package_id')
        .where('request_id', '=', up.json().request_id)
        .orderBy('package_id')
        .execute()
    ).map((r) => Number(r.package_id));
    await setStatus(t.db, [a!], 'Security Scanned', {
      policy_version: 1,
      policy_outcome: 'wait',
      cooldown_until: new Date(Date.now() + 3_600_000),
      run_at: new Date(Date.now() + 3_600_000),
    });
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/cooldown-release',
      headers: approver(),
      payload: { package_ids: [a, b], reason: 'hotfix needed today' },
    });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({ released: [a], skipped: [{ package_id: b, status: 'Requested' }] });
    const row = await t.db
      .selectFrom('package_status')
      .select(['cooldown_released_by', 'cooldown_release_reason', 'run_at'])
      .where('package_id', '=', a!)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      cooldown_released_by: 'test-approver',
      cooldown_release_reason: 'hotfix needed today',
    });
    expect(row.run_at.getTime()).toBeLessThanOrEqual(Date.now());
    expect(await auditActions()).toContain('policy.cooldown.release');
  });
});
