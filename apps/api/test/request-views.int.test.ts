import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertSecurityScan, upsertAdvisories } from '@spm/db';
import { bearer, generatedLockfile, setStatus, setupApp, type TestApp } from './helpers.js';

/**
 * What the web app reads: pages, filters and sorts of a request's packages, a summary to poll (with
 * ETag/304), the request list's filters, the approvals queue by risk, and the package report's requests
 * and advisories.
 */

let t: TestApp;
let mine: number; // the user's request: 30 packages
let theirs: number; // the approver's request: 4 packages, one shared with mine
let ids: Record<string, number>;

const finding = (id: string, source: string, severity: string, extra: object = {}) => ({
  id,
  source,
  severity,
  title: id,
  explanation: 'why',
  ...extra,
});

async function scan(packageId: number, counts: Partial<Record<string, number>>, findings: object[], malware = false) {
  const c = { critical: 0, high: 0, medium: 0, low: 0, info: 0, ...counts };
  const score = malware ? 0 : Math.max(0, 100 - 40 * c.critical - 20 * c.high - 8 * c.medium - 3 * c.low);
  await insertSecurityScan(t.db, {
    packageId,
    scanners: [{ name: 'builtin', version: '1', durationMs: 5, findings: findings.length }],
    counts: c,
    findings,
    malware,
    score,
    durationMs: 5,
  });
  await t.db
    .updateTable('package_status')
    .set({ security_score: score, scan_state: 'done' })
    .where('package_id', '=', packageId)
    .execute();
}

const get = (url: string, token = t.tokens.user, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'GET', url, headers: { ...bearer(token), ...headers } });

beforeAll(async () => {
  t = await setupApp();
  const a = await t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: bearer(t.tokens.user),
    payload: generatedLockfile(30, 'view'),
  });
  mine = a.json().request_id;
  const lock = generatedLockfile(3, 'other') as { packages: Record<string, unknown> };
  // One package of the user's request is in the approver's request too.
  lock.packages['node_modules/view-1'] = (generatedLockfile(30, 'view') as typeof lock).packages['node_modules/view-1'];
  const b = await t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: bearer(t.tokens.approver),
    payload: lock,
  });
  theirs = b.json().request_id;
  const rows = await t.db.selectFrom('packages').select(['id', 'name']).execute();
  ids = Object.fromEntries(rows.map((r) => [r.name, r.id]));

  await setStatus(t.db, [ids['view-1']!, ids['view-2']!, ids['view-4']!, ids['view-5']!], 'Pending Approval', {
    license_tier: 'always_allowed',
  });
  await setStatus(t.db, [ids['view-2']!], 'Pending Approval', { license_tier: 'avoid' });
  await setStatus(t.db, [ids['view-6']!], 'Rejected', { rejection_kind: 'policy', rejection_reason: 'blocked' });
  await setStatus(t.db, [ids['view-7']!, ids['view-8']!], 'Published', { license_tier: 'allowed' });
  await scan(ids['view-1']!, { high: 1 }, [finding('GHSA-aaaa-bbbb-cccc', 'osv', 'high', { url: 'x' })]);
  await scan(ids['view-2']!, { low: 1 }, [finding('install-script', 'signal', 'low', { file: 'package.json' })]);
  await scan(ids['view-4']!, { critical: 1 }, [finding('MAL-2024-1', 'osv', 'critical', { malware: true })], true);
  await scan(ids['view-5']!, {}, []);
  await upsertAdvisories(t.db, [
    {
      id: 'GHSA-aaaa-bbbb-cccc',
      modified: new Date('2024-01-01T00:00:00Z'),
      published: new Date('2023-12-01T00:00:00Z'),
      withdrawn: null,
      aliases: ['CVE-2024-0001'],
      summary: 'Prototype pollution',
      severity: 'high',
      cvssVector: null,
      malware: false,
      raw: {
        references: [
          { type: 'WEB', url: 'https://example.test/w' },
          { type: 'ADVISORY', url: 'https://example.test/a' },
        ],
      },
      affected: [
        {
          packageName: 'view-1',
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.1.2' }] }],
          versions: [],
          fixedVersions: ['1.1.2'],
        },
      ],
    },
  ]);
});
afterAll(async () => t?.close());

describe('GET /api/packages/requests/:id', () => {
  it('without page parameters returns every package, by name, as before', async () => {
    const body = (await get(`/api/packages/requests/${mine}`)).json();
    expect(body.packages).toHaveLength(30);
    expect(body.total).toBeUndefined();
    const names = body.packages.map((p: { name: string }) => p.name);
    expect(names).toEqual([...names].sort());
  });

  it('pages, with the total that matches', async () => {
    const p1 = (await get(`/api/packages/requests/${mine}?page=1&page_size=12`)).json();
    const p3 = (await get(`/api/packages/requests/${mine}?page=3&page_size=12`)).json();
    const p4 = (await get(`/api/packages/requests/${mine}?page=4&page_size=12`)).json();
    expect([p1.packages.length, p3.packages.length, p4.packages.length]).toEqual([12, 6, 0]);
    expect(p1).toMatchObject({ total: 30, page: 1, page_size: 12 });
    const all = (await get(`/api/packages/requests/${mine}`)).json().packages.map((p: { name: string }) => p.name);
    expect(p3.packages.map((p: { name: string }) => p.name)).toEqual(all.slice(24));
  });

  it('filters by status, name, licence tier, severity and link', async () => {
    const q = async (query: string) => {
      const body = (await get(`/api/packages/requests/${mine}?page_size=100&${query}`)).json();
      return { total: body.total as number, names: body.packages.map((p: { name: string }) => p.name).sort() };
    };
    expect(await q('status=Pending%20Approval')).toEqual({
      total: 4,
      names: ['view-1', 'view-2', 'view-4', 'view-5'],
    });
    expect((await q('status=Published&status=Rejected')).names).toEqual(['view-6', 'view-7', 'view-8']);
    expect((await q('q=SCOPED-2')).names).toEqual(['@view/scoped-20']);
    expect((await q('license_tier=avoid&license_tier=allowed')).names).toEqual(['view-2', 'view-7', 'view-8']);
    expect((await q('license_tier=unknown')).total).toBe(30 - 6);
    expect((await q('severity=high')).names).toEqual(['view-1', 'view-4']);
    expect((await q('severity=low')).names).toEqual(['view-1', 'view-2', 'view-4']);
    expect((await q('link=existing')).total).toBe(0);
  });

  it('sorts by severity, security score, and status, either way', async () => {
    const names = async (query: string) =>
      (await get(`/api/packages/requests/${mine}?page_size=4&${query}`))
        .json()
        .packages.map((p: { name: string; highest_severity: string | null }) => `${p.name}:${p.highest_severity}`);
    expect(await names('sort=severity&order=desc')).toEqual([
      'view-4:malware',
      'view-1:high',
      'view-2:low',
      'view-5:none',
    ]);
    expect((await names('sort=security_score&order=asc')).slice(0, 3)).toEqual([
      'view-4:malware',
      'view-1:high',
      'view-2:low',
    ]);
    const byStatus = (await get(`/api/packages/requests/${mine}?page_size=50&sort=status&order=desc`)).json();
    expect(byStatus.packages[0].status).toBe('Rejected');
    expect(byStatus.packages[1].status).toBe('Published');
    expect(byStatus.packages.at(-1).status).toBe('Requested');
  });

  it('names the signals of the latest scan', async () => {
    const body = (await get(`/api/packages/requests/${mine}?q=view-2&page_size=5`)).json();
    const p = body.packages.find((x: { name: string }) => x.name === 'view-2');
    expect(p).toMatchObject({ signals: ['install-script'], highest_severity: 'low', license_tier: 'avoid' });
  });

  it('answers summary=true with the request and its counts only', async () => {
    const body = (await get(`/api/packages/requests/${mine}?summary=true`)).json();
    expect(body.packages).toBeUndefined();
    expect(body.request.status_counts).toMatchObject({ 'Pending Approval': 4, Published: 2, Rejected: 1 });
    expect(body.request.progress_percent).toBeGreaterThan(0);
  });

  it('refuses bad filters with 400', async () => {
    for (const query of ['status=Bogus', 'sort=size', 'order=up', 'q=a%00b', 'severity=info', 'license_tier=gpl']) {
      const res = await get(`/api/packages/requests/${mine}?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code).toBe(query.includes('%00') ? 'ERR_CONTROL_CHARACTER' : 'ERR_VALIDATION');
    }
  });
});

describe('GET /api/packages/requests/:id/processing-status', () => {
  it('summary=true is a small answer with the counts and no packages', async () => {
    const res = await get(`/api/packages/requests/${mine}/processing-status?summary=true`);
    expect(res.body.length).toBeLessThan(2048);
    const body = res.json();
    expect(body.packages).toBeUndefined();
    expect(body).toMatchObject({ request_id: mine, done: false });
    expect(body.summary).toMatchObject({ total: 30, pending_approval: 4, published: 2, rejected: 1, settled: 7 });
  });

  it('counts a package in its release cooldown as settled (it waits for time, not for the machine)', async () => {
    const url = `/api/packages/requests/${mine}/processing-status?summary=true`;
    const before = (await get(url)).json().summary;
    const id = ids['view-9']!;
    await setStatus(t.db, [id], 'Security Scanned', {
      cooldown_until: new Date(Date.now() + 3600_000),
      run_at: new Date(Date.now() + 3600_000),
    });
    const during = (await get(url)).json().summary;
    expect(during).toMatchObject({ in_cooldown: 1, settled: before.settled + 1 });
    // A cooldown that has passed is the worker's to decide again: in progress.
    await setStatus(t.db, [id], 'Security Scanned', { cooldown_until: new Date(Date.now() - 1000) });
    expect((await get(url)).json().summary).toMatchObject({ in_cooldown: 0, settled: before.settled });
    await setStatus(t.db, [id], 'Requested', { cooldown_until: null, run_at: new Date() });
  });

  it('pages the packages by name', async () => {
    const body = (await get(`/api/packages/requests/${mine}/processing-status?page=2&page_size=5`)).json();
    expect(body.packages).toHaveLength(5);
    expect(body).toMatchObject({ total: 30, page: 2 });
    expect(body.summary.total).toBe(30);
  });

  it('answers 304 to If-None-Match until something changes', async () => {
    const url = `/api/packages/requests/${mine}/processing-status?summary=true`;
    const first = await get(url);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"/);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    const again = await get(url, t.tokens.user, { 'if-none-match': etag });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    await setStatus(t.db, [ids['view-9']!], 'Licence Checked');
    const changed = await get(url, t.tokens.user, { 'if-none-match': etag });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    await setStatus(t.db, [ids['view-9']!], 'Requested');
  });
});

describe('GET /api/packages/requests', () => {
  it('filters by application name and state', async () => {
    const list = async (query: string, token = t.tokens.admin) =>
      (await get(`/api/packages/requests?${query}`, token)).json().requests.map((r: { id: number }) => r.id);
    expect(await list('q=VIEW')).toEqual([mine]);
    // view-1 waits for approval and is in both requests.
    expect(await list('state=pending_approval')).toEqual([theirs, mine]);
    expect(await list('state=rejected')).toEqual([mine]);
    expect(await list('state=processing')).toEqual([theirs, mine]);
    expect(await list('state=done')).toEqual([]);
    expect(await list('requestor=TEST-APPROVER')).toEqual([theirs]);
    // A plain user always sees only their own, whatever they ask for.
    expect(await list('requestor=test-approver', t.tokens.user)).toEqual([mine]);
  });

  it('gives each request its progress', async () => {
    const body = (await get('/api/packages/requests', t.tokens.admin)).json();
    for (const r of body.requests) expect(r.progress_percent).toBeGreaterThanOrEqual(0);
  });
});

describe('GET /api/approvals/pending', () => {
  it('sort=risk puts malware first, then the lowest score, then a licence to look at', async () => {
    const body = (await get('/api/approvals/pending?sort=risk', t.tokens.approver)).json();
    expect(body.packages.map((p: { name: string }) => p.name)).toEqual(['view-4', 'view-1', 'view-2', 'view-5']);
  });

  it('filters by name, severity, licence tier and request', async () => {
    const names = async (query: string) =>
      (await get(`/api/approvals/pending?${query}`, t.tokens.approver))
        .json()
        .packages.map((p: { name: string }) => p.name)
        .sort();
    expect(await names('severity=high')).toEqual(['view-1', 'view-4']);
    expect(await names('license_tier=avoid')).toEqual(['view-2']);
    expect(await names('q=view-5')).toEqual(['view-5']);
    expect(await names(`request_id=${theirs}`)).toEqual(['view-1']);
  });
});

describe('GET /api/packages/:id/report', () => {
  it('lists the requests that include the package: all for an approver, their own for a user', async () => {
    const url = `/api/packages/${ids['view-1']}/report`;
    const approver = (await get(url, t.tokens.approver)).json();
    expect(approver.requests.map((r: { id: number }) => r.id)).toEqual([mine, theirs]);
    expect(approver.requests[1]).toMatchObject({ requestor: 'test-approver', link: 'existing' });
    const user = (await get(url)).json();
    expect(user.requests.map((r: { id: number }) => r.id)).toEqual([mine]);
    expect(user.request_ids).toEqual([mine]);
  });

  it('gives each vulnerability its advisory with the affected ranges and a link', async () => {
    const body = (await get(`/api/packages/${ids['view-1']}/report`, t.tokens.approver)).json();
    expect(body.advisories).toEqual([
      expect.objectContaining({
        id: 'GHSA-aaaa-bbbb-cccc',
        aliases: ['CVE-2024-0001'],
        affected_ranges: ['< 1.1.2'],
        fixed_versions: ['1.1.2'],
        url: 'https://example.test/a',
      }),
    ]);
    const clean = (await get(`/api/packages/${ids['view-5']}/report`, t.tokens.approver)).json();
    expect(clean.advisories).toEqual([]);
  });
});

describe('GET /api/packages/processing/status', () => {
  it('reports the time spent working and waiting in each stage', async () => {
    const pkg = ids['view-11']!;
    const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
    await t.db
      .insertInto('package_events')
      .values([
        {
          package_id: pkg,
          from_status: 'Requested',
          to_status: 'Checking Licence',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(10),
        },
        {
          package_id: pkg,
          from_status: 'Checking Licence',
          to_status: 'Licence Checked',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(12),
        },
        {
          package_id: pkg,
          from_status: 'Licence Checked',
          to_status: 'Downloading',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(15),
        },
        {
          package_id: pkg,
          from_status: 'Downloading',
          to_status: 'Downloaded',
          actor: 'w',
          actor_kind: 'worker',
          created_at: at(19),
        },
      ])
      .execute();
    const body = (await get('/api/packages/processing/status', t.tokens.admin)).json();
    const licence = body.stage_timings.stages.find((s: { stage: string }) => s.stage === 'licence');
    const download = body.stage_timings.stages.find((s: { stage: string }) => s.stage === 'download');
    expect(licence.work).toMatchObject({ count: 1, p50: 2, max: 2 });
    expect(download.work).toMatchObject({ count: 1, p50: 4 });
    expect(download.wait).toMatchObject({ count: 1, p50: 3 });
    expect(body.stage_timings.events).toBeGreaterThanOrEqual(4);
  });
});
