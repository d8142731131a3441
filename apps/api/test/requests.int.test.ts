import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appCalls, bearer, generatedLockfile, setStatus, setupApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());
const { upload, packageIdsOf } = appCalls(() => t);

describe('requests', () => {
  let mine: number;
  let theirs: number;
  beforeAll(async () => {
    mine = (await upload(t.tokens.user, generatedLockfile(6, 'req-mine'))).json().request_id;
    theirs = (await upload(t.tokens.approver, generatedLockfile(3, 'req-theirs'))).json().request_id;
  });

  it("lists a user's own requests only, and all of them for approvers and admins", async () => {
    const own = (
      await t.app.inject({ method: 'GET', url: '/api/packages/requests?page_size=500', headers: bearer(t.tokens.user) })
    ).json();
    expect(own.requests.every((r: { requestor: string }) => r.requestor === 'test-user')).toBe(true);
    expect(own.requests.map((r: { id: number }) => r.id)).toContain(mine);
    expect(own.requests.map((r: { id: number }) => r.id)).not.toContain(theirs);
    const all = (
      await t.app.inject({
        method: 'GET',
        url: '/api/packages/requests?page_size=500',
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(all.requests.map((r: { id: number }) => r.id)).toEqual(expect.arrayContaining([mine, theirs]));
    expect(all.total).toBeGreaterThan(own.total);
  });

  it('paginates with page/page_size and with limit/offset, newest first', async () => {
    const all = (
      await t.app.inject({ method: 'GET', url: '/api/packages/requests?limit=500', headers: bearer(t.tokens.admin) })
    ).json();
    const ids = all.requests.map((r: { id: number }) => r.id);
    expect([...ids].sort((a: number, b: number) => b - a)).toEqual(ids);
    const p2 = (
      await t.app.inject({
        method: 'GET',
        url: '/api/packages/requests?page=2&page_size=2',
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(p2).toMatchObject({ page: 2, page_size: 2, limit: 2, offset: 2, total: all.total });
    expect(p2.requests.map((r: { id: number }) => r.id)).toEqual(ids.slice(2, 4));
    const lo = (
      await t.app.inject({
        method: 'GET',
        url: '/api/packages/requests?limit=3&offset=1',
        headers: bearer(t.tokens.admin),
      })
    ).json();
    expect(lo.requests.map((r: { id: number }) => r.id)).toEqual(ids.slice(1, 4));
    const bad = await t.app.inject({
      method: 'GET',
      url: '/api/packages/requests?page=0',
      headers: bearer(t.tokens.admin),
    });
    expect(bad.json().error.code).toBe('ERR_VALIDATION');
  });

  it('shows a request with every package, its licence verdict, scan summary and rejection', async () => {
    const ids = await packageIdsOf(mine);
    await setStatus(t.db, [ids[0]!], 'Pending Approval', {
      license_expression: 'MIT',
      license_tier: 'always_allowed',
      license_score: 100,
      security_score: 70,
    });
    await t.db
      .insertInto('security_scans')
      .values({
        package_id: ids[0]!,
        scanners: JSON.stringify([{ name: 'builtin' }]),
        critical: 0,
        high: 1,
        medium: 2,
        low: 0,
        info: 3,
        findings: JSON.stringify([{ severity: 'high' }, { severity: 'low' }]),
        malware: false,
        score: 70,
        duration_ms: 12,
      })
      .execute();
    await setStatus(t.db, [ids[1]!], 'Rejected', {
      rejection_kind: 'error',
      rejection_reason: 'gave up',
      last_error: 'registry 503',
    });
    const r = await t.app.inject({
      method: 'GET',
      url: `/api/packages/requests/${mine}`,
      headers: bearer(t.tokens.user),
    });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.request).toMatchObject({ id: mine, package_count: 6, requestor: 'test-user' });
    expect(body.request.status_counts).toMatchObject({ 'Pending Approval': 1, Rejected: 1, Requested: 4 });
    expect(body.packages).toHaveLength(6);
    const p0 = body.packages.find((p: { package_id: number }) => p.package_id === ids[0]);
    expect(p0).toMatchObject({
      status: 'Pending Approval',
      link: 'new',
      license_expression: 'MIT',
      license_tier: 'always_allowed',
      license_score: 100,
      security_score: 70,
      scan: {
        vulnerabilities: { critical: 0, high: 1, medium: 2, low: 0, info: 3 },
        findings_count: 2,
        malware: false,
        score: 70,
      },
      rejection: null,
    });
    const p1 = body.packages.find((p: { package_id: number }) => p.package_id === ids[1]);
    expect(p1).toMatchObject({
      status: 'Rejected',
      last_error: 'registry 503',
      rejection: { kind: 'error', reason: 'gave up' },
      progress_percent: 100,
    });
  });

  it("hides other people's requests from plain users (404) but not from approvers", async () => {
    const r = await t.app.inject({
      method: 'GET',
      url: `/api/packages/requests/${theirs}`,
      headers: bearer(t.tokens.user),
    });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('ERR_REQUEST_NOT_FOUND');
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/packages/requests/${mine}`, headers: bearer(t.tokens.approver) }))
        .statusCode,
    ).toBe(200);
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: `/api/packages/requests/${theirs}/processing-status`,
          headers: bearer(t.tokens.user),
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/packages/requests/99999999', headers: bearer(t.tokens.admin) }))
        .statusCode,
    ).toBe(404);
  });

  it('reports per-package processing with time per stage, and done once every package is settled', async () => {
    const id = (await upload(t.tokens.user, generatedLockfile(3, 'timing'))).json().request_id;
    const ids = await packageIdsOf(id);
    const first = (
      await t.app.inject({
        method: 'GET',
        url: `/api/packages/requests/${id}/processing-status`,
        headers: bearer(t.tokens.user),
      })
    ).json();
    expect(first).toMatchObject({
      request_id: id,
      done: false,
      progress_percent: 0,
      summary: { total: 3, settled: 0, in_progress: 3 },
    });

    // A package that went through licence and download: 10 s checking the licence, 30 s downloading.
    const t0 = new Date(Date.now() - 120_000);
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    await t.db.deleteFrom('package_events').where('package_id', '=', ids[0]!).execute();
    await t.db
      .insertInto('package_events')
      .values([
        {
          package_id: ids[0]!,
          from_status: null,
          to_status: 'Requested',
          actor: 'u',
          actor_kind: 'user',
          created_at: at(0),
        },
        {
          package_id: ids[0]!,
          from_status: 'Requested',
          to_status: 'Checking Licence',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(5),
        },
        {
          package_id: ids[0]!,
          from_status: 'Checking Licence',
          to_status: 'Licence Checked',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(15),
        },
        {
          package_id: ids[0]!,
          from_status: 'Licence Checked',
          to_status: 'Downloading',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(16),
        },
        {
          package_id: ids[0]!,
          from_status: 'Downloading',
          to_status: 'Downloaded',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(46),
        },
        {
          package_id: ids[0]!,
          from_status: 'Downloaded',
          to_status: 'Rejected',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(50),
        },
      ])
      .execute();
    await setStatus(t.db, [ids[0]!], 'Rejected', {
      rejection_kind: 'policy',
      rejection_reason: 'malware',
      last_error: null,
    });
    await setStatus(t.db, [ids[1]!], 'Published');
    await setStatus(t.db, [ids[2]!], 'Downloading', {
      locked_by: 'w1',
      locked_until: new Date(Date.now() + 60_000),
      last_error: 'retry: timeout',
    });
    const mid = (
      await t.app.inject({
        method: 'GET',
        url: `/api/packages/requests/${id}/processing-status`,
        headers: bearer(t.tokens.user),
      })
    ).json();
    expect(mid.done).toBe(false);
    expect(mid.summary).toMatchObject({ settled: 2, in_progress: 1, published: 1, rejected: 1, with_errors: 1 });
    const p0 = mid.packages.find((p: { package_id: number }) => p.package_id === ids[0]);
    expect(p0.stage_seconds).toEqual({ licence: 10, download: 30 });
    expect(p0.status_seconds).toMatchObject({ Requested: 5, 'Licence Checked': 1, Downloaded: 4 });
    expect(p0.elapsed_seconds).toBe(50);
    expect(p0.rejection).toEqual({ kind: 'policy', reason: 'malware' });
    const p2 = mid.packages.find((p: { package_id: number }) => p.package_id === ids[2]);
    expect(p2).toMatchObject({ status: 'Downloading', progress_percent: 27, last_error: 'retry: timeout' });

    await setStatus(t.db, [ids[2]!], 'Pending Approval');
    const end = (
      await t.app.inject({
        method: 'GET',
        url: `/api/packages/requests/${id}/processing-status`,
        headers: bearer(t.tokens.user),
      })
    ).json();
    expect(end).toMatchObject({ done: true, summary: { settled: 3, in_progress: 0, pending_approval: 1 } });
  });
});
