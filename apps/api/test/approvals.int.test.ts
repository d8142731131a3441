import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAKE_CHANNEL } from '@spm/db';
import { appCalls, bearer, generatedLockfile, setStatus, setupApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());
const { upload, packageIdsOf } = appCalls(() => t);

describe('approvals and the package report', () => {
  let requestId: number;
  let ids: number[];
  beforeAll(async () => {
    requestId = (await upload(t.tokens.user, generatedLockfile(6, 'appr'))).json().request_id;
    ids = await packageIdsOf(requestId);
    await setStatus(t.db, ids, 'Pending Approval', {
      license_expression: 'MIT',
      license_tier: 'always_allowed',
      license_score: 100,
    });
    await t.db
      .insertInto('security_scans')
      .values({
        package_id: ids[0]!,
        scanners: JSON.stringify([{ name: 'builtin', version: '1' }]),
        critical: 1,
        high: 0,
        medium: 1,
        low: 0,
        info: 0,
        findings: JSON.stringify([
          { id: 'F-low', severity: 'medium', title: 'm' },
          { id: 'F-crit', severity: 'critical', title: 'c' },
        ]),
        malware: false,
        score: 40,
        duration_ms: 5,
      })
      .execute();
  });

  it('lists pending packages with licence verdict, scan summary and the most severe findings first', async () => {
    const r = await t.app.inject({
      method: 'GET',
      url: '/api/approvals/pending?page_size=500',
      headers: bearer(t.tokens.approver),
    });
    expect(r.statusCode).toBe(200);
    const p = r.json().packages.find((x: { package_id: number }) => x.package_id === ids[0]);
    expect(p).toMatchObject({
      license_tier: 'always_allowed',
      request_ids: [requestId],
      requested_by: ['test-user'],
      scan: { vulnerabilities: { critical: 1, medium: 1 }, findings_count: 2, score: 40 },
    });
    expect(p.scan.top_findings.map((f: { id: string }) => f.id)).toEqual(['F-crit', 'F-low']);
    expect(r.json().total).toBeGreaterThanOrEqual(6);
  });

  it('approves one package: Approved, an event, an audit entry and a wake-up for publishing', async () => {
    // A dedicated connection from the test database's pool, released (not reused while listening) at the end.
    const client = await t.tdb.pool.connect();
    try {
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
      const woke = new Promise((resolve) => client.on('notification', resolve));
      const r = await t.app.inject({
        method: 'POST',
        url: `/api/approvals/${ids[0]}/approve`,
        headers: bearer(t.tokens.approver),
        payload: { reason: 'reviewed findings' },
      });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({ package_id: ids[0], outcome: 'approved', status: 'Approved' });
      await woke;
    } finally {
      await client.query(`UNLISTEN ${WAKE_CHANNEL}`);
      client.release();
    }
    const ev = await t.db
      .selectFrom('package_events')
      .selectAll()
      .where('package_id', '=', ids[0]!)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(ev).toMatchObject({
      from_status: 'Pending Approval',
      to_status: 'Approved',
      actor: 'test-approver',
      reason: 'reviewed findings',
    });
    const audit = await t.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'package.approve')
      .where('target_id', '=', String(ids[0]))
      .executeTakeFirstOrThrow();
    expect(audit.actor_id).toBe(t.users.approver.id);
  });

  it('approves without a body using a default reason', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[1]}/approve`,
      headers: bearer(t.tokens.admin),
    });
    expect(r.statusCode, r.body).toBe(200);
  });

  it('needs a reason to reject, and records it', async () => {
    const none = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[2]}/reject`,
      headers: bearer(t.tokens.approver),
      payload: {},
    });
    expect(none.statusCode).toBe(400);
    const empty = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[2]}/reject`,
      headers: bearer(t.tokens.approver),
      payload: { reason: '' },
    });
    expect(empty.statusCode).toBe(400);
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[2]}/reject`,
      headers: bearer(t.tokens.approver),
      payload: { reason: 'typosquat' },
    });
    expect(r.json()).toEqual({ package_id: ids[2], outcome: 'rejected', status: 'Rejected' });
    const st = await t.db
      .selectFrom('package_status')
      .selectAll()
      .where('package_id', '=', ids[2]!)
      .executeTakeFirstOrThrow();
    expect(st).toMatchObject({
      rejection_kind: 'approver',
      rejection_reason: 'typosquat',
      rejected_by: t.users.approver.id,
    });
  });

  it('answers 409 for a package not pending and 404 for an unknown one', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: `/api/approvals/${ids[0]}/approve`,
      headers: bearer(t.tokens.approver),
      payload: {},
    });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatchObject({ code: 'ERR_NOT_PENDING', details: { status: 'Approved' } });
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/api/approvals/77777777/reject',
          headers: bearer(t.tokens.approver),
          payload: { reason: 'x' },
        })
      ).statusCode,
    ).toBe(404);
  });

  it('decides a batch, reporting packages that were not pending as skipped', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/batch',
      headers: bearer(t.tokens.approver),
      payload: { package_ids: [ids[3], ids[4], ids[0]], decision: 'approve', reason: 'batch ok' },
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ approved: 2, rejected: 0, skipped: 1 });
    expect(r.json().results).toContainEqual({ package_id: ids[0], outcome: 'skipped', status: 'Approved' });
    const noReason = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/batch',
      headers: bearer(t.tokens.approver),
      payload: { package_ids: [ids[5]], decision: 'reject' },
    });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().error.code).toBe('ERR_REASON_REQUIRED');
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/approvals/batch',
      headers: bearer(t.tokens.approver),
      payload: { package_ids: [], decision: 'approve' },
    });
    expect(bad.json().error.code).toBe('ERR_VALIDATION');
  });

  it('shows the package report to its requester and approvers, with scan findings and history', async () => {
    const r = await t.app.inject({
      method: 'GET',
      url: `/api/packages/${ids[0]}/report`,
      headers: bearer(t.tokens.user),
    });
    expect(r.statusCode).toBe(200);
    const rep = r.json();
    expect(rep.package).toMatchObject({ id: ids[0], name: expect.any(String) });
    expect(rep.status).toMatchObject({ status: 'Approved', approved_by: 'test-approver' });
    expect(rep.license).toMatchObject({ license_expression: 'MIT', declared_license: 'MIT' });
    expect(rep.security.scan.findings).toHaveLength(2);
    expect(rep.security.scan.vulnerabilities.critical).toBe(1);
    expect(rep.request_ids).toEqual([requestId]);
    expect(rep.events.map((e: { to: string }) => e.to)).toEqual(['Requested', 'Approved']);
    const other = (await upload(t.tokens.approver, generatedLockfile(1, 'report-other'))).json().request_id;
    const [otherId] = await packageIdsOf(other);
    const hidden = await t.app.inject({
      method: 'GET',
      url: `/api/packages/${otherId}/report`,
      headers: bearer(t.tokens.user),
    });
    expect(hidden.statusCode).toBe(404);
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: `/api/packages/${otherId}/report`,
          headers: bearer(t.tokens.approver),
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/packages/88888888/report', headers: bearer(t.tokens.admin) }))
        .statusCode,
    ).toBe(404);
  });
});
