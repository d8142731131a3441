import { sql } from 'kysely';
import { startApi } from './api.js';
import { createUser, type BenchDatabase, type DatabaseFactory } from './db.js';
import { msSince, round, summarize, type Summary } from './stats.js';

export interface B6Endpoint {
  /** What the caller is (web app page, CLI, script) and which form it uses. */
  name: string;
  path: string;
  calls: number;
  latencyMs: Summary;
  /** Body bytes of a 200 (uncompressed JSON). */
  bytes: number;
  /** Status of the last call (200, or 304 for a conditional poll). */
  status: number;
  /** A summary answer (target: under 2 KB). */
  summary: boolean;
  /** Pages of 500 packages (target: p50 ≤ 50 ms). */
  page500: boolean;
}

export interface B6Result {
  requests: number;
  packagesPerRequest: number;
  packages: number;
  events: number;
  scans: number;
  buildSeconds: number;
  endpoints: B6Endpoint[];
}

/**
 * Fills the database with `requests` requests of `perRequest` distinct packages each, every table a
 * status read touches (packages, package_status in a realistic spread of statuses, request_packages,
 * four package_events per package, a security scan with findings for every scanned package), in a
 * handful of set-based statements: 200,000 packages take seconds, not the hours the pipeline would.
 */
export async function buildStatusDatabase(
  b: BenchDatabase,
  requestorId: number,
  requests: number,
  perRequest: number,
): Promise<void> {
  await sql`
    INSERT INTO requests (application_name, application_version, requestor_id, lockfile, lockfile_version,
                          package_count, new_count, existing_count, settled_notified_at)
    SELECT 'bench-app-' || r, '1.0.0', ${requestorId}, '{}'::json, 3, ${perRequest}, ${perRequest}, 0, now()
    FROM generate_series(1, ${requests}) r`.execute(b.db);
  // Package n belongs to request 1 + (n - 1) / perRequest; ids follow n (a fresh bigserial).
  await sql`
    INSERT INTO packages (name, version, integrity, resolved, declared_license)
    SELECT 'pkg-' || ((n - 1) / ${perRequest} + 1) || '-' || lpad(((n - 1) % ${perRequest})::text, 6, '0'),
           (n % 7) || '.' || (n % 13) || '.' || (n % 5), 'sha512-' || md5(n::text),
           'https://registry.example.test/p/-/p-1.0.0.tgz', CASE WHEN n % 10 = 0 THEN 'Apache-2.0' ELSE 'MIT' END
    FROM generate_series(1, ${requests * perRequest}) n`.execute(b.db);
  await sql`
    INSERT INTO request_packages (request_id, package_id, link, dev, optional, package_name, package_version)
    SELECT r.id, p.id, 'new', p.id % 3 = 0, false, p.name, p.version
    FROM packages p JOIN requests r ON r.application_name = 'bench-app-' || ((p.id - 1) / ${perRequest} + 1)`.execute(
    b.db,
  );
  // Spread: 50 % Published, 20 % Pending Approval, 8 % Rejected, 4 % Security Scanned (cooldown),
  // 10 % Requested, 8 % in the other stages. Statuses with a lease carry one.
  await sql`
    INSERT INTO package_status (package_id, request_id, status, attempts, locked_by, locked_until, last_error,
                                rejection_kind, rejection_reason, license_expression, license_tier, license_score,
                                security_score, scan_state, policy_version, policy_rule, policy_outcome, policy_reason,
                                cooldown_until, published_at, updated_at)
    SELECT s.package_id, s.request_id, s.status, 1,
           CASE WHEN s.status IN ('Checking Licence', 'Downloading', 'Security Scanning', 'Publishing') THEN 'bench-worker' END,
           CASE WHEN s.status IN ('Checking Licence', 'Downloading', 'Security Scanning', 'Publishing')
                THEN now() + interval '1 hour' END,
           CASE WHEN s.status = 'Rejected' AND s.package_id % 2 = 0 THEN 'registry answered 404' END,
           CASE WHEN s.status = 'Rejected' THEN CASE WHEN s.package_id % 2 = 0 THEN 'error' ELSE 'policy' END END,
           CASE WHEN s.status = 'Rejected' THEN 'rejected by the benchmark' END,
           CASE WHEN s.package_id % 10 = 0 THEN 'Apache-2.0' ELSE 'MIT' END, 'allowed', 80,
           CASE WHEN s.scanned THEN 60 + (s.package_id % 40)::int END,
           CASE WHEN s.scanned THEN 'clean' END,
           CASE WHEN s.scanned THEN 1 END,
           CASE WHEN s.scanned THEN 'default' END,
           CASE WHEN s.status = 'Pending Approval' THEN 'hold' WHEN s.status = 'Security Scanned' THEN 'wait'
                WHEN s.scanned THEN 'approve' END,
           CASE WHEN s.scanned THEN 'benchmark policy' END,
           CASE WHEN s.status = 'Security Scanned' THEN now() + interval '2 days' END,
           CASE WHEN s.status = 'Published' THEN now() END,
           now() - ((s.package_id % 600) || ' seconds')::interval
    FROM (
      SELECT rp.package_id, rp.request_id, st.status,
             st.status IN ('Published', 'Pending Approval', 'Security Scanned', 'Approved', 'Publishing') AS scanned
      FROM request_packages rp
      CROSS JOIN LATERAL (SELECT CASE
        WHEN rp.package_id % 100 < 50 THEN 'Published'
        WHEN rp.package_id % 100 < 70 THEN 'Pending Approval'
        WHEN rp.package_id % 100 < 78 THEN 'Rejected'
        WHEN rp.package_id % 100 < 82 THEN 'Security Scanned'
        WHEN rp.package_id % 100 < 92 THEN 'Requested'
        WHEN rp.package_id % 100 < 94 THEN 'Licence Checked'
        WHEN rp.package_id % 100 < 96 THEN 'Downloaded'
        WHEN rp.package_id % 100 < 98 THEN 'Downloading'
        ELSE 'Security Scanning' END AS status) st
    ) s`.execute(b.db);
  await sql`
    INSERT INTO security_scans (package_id, scanners, medium, low, findings, score, duration_ms, created_at)
    SELECT ps.package_id, '[{"name":"builtin","version":"1","durationMs":3,"findings":1}]'::jsonb,
           CASE WHEN ps.package_id % 4 = 0 THEN 1 ELSE 0 END, 1,
           CASE WHEN ps.package_id % 4 = 0
             THEN '[{"source":"signal","id":"install-script","severity":"medium","title":"Install script","file":"package.json"},
                    {"source":"signal","id":"network","severity":"low","title":"Network access","file":"index.js","line":12}]'::jsonb
             ELSE '[{"source":"signal","id":"network","severity":"low","title":"Network access","file":"index.js","line":12}]'::jsonb END,
           ps.security_score, 3, ps.updated_at
    FROM package_status ps WHERE ps.security_score IS NOT NULL`.execute(b.db);
  // Four events per package: Requested, then three steps along the way (enough for the per-status times).
  await sql`
    INSERT INTO package_events (package_id, from_status, to_status, actor, actor_kind, attempt, created_at)
    SELECT ps.package_id, e.from_status, e.to_status, e.actor, e.kind, 1,
           ps.updated_at - ((4 - e.k) * 20 || ' seconds')::interval
    FROM package_status ps
    CROSS JOIN LATERAL (VALUES
      (1, NULL, 'Requested', 'bench-user', 'user'),
      (2, 'Requested', 'Checking Licence', 'bench-worker', 'worker'),
      (3, 'Checking Licence', 'Licence Checked', 'bench-worker', 'worker'),
      (4, 'Licence Checked', ps.status, 'bench-worker', 'worker')
    ) e(k, from_status, to_status, actor, kind)
    ORDER BY ps.package_id, e.k`.execute(b.db);
  await sql`VACUUM ANALYZE`.execute(b.db);
}

/**
 * B6 status reads at scale (DESIGN §10): a database of `requests` × `perRequest` packages built with
 * set-based SQL, the real API on loopback, and every read the web app, the CLI and the scripts make
 * while a request is followed: each called `calls` times after a warm-up, p50/p95 from sending to
 * reading the whole body, and the body's size. Polls are measured both fresh and with If-None-Match.
 */
export async function benchStatusReads(
  factory: DatabaseFactory,
  opts: { requests: number; perRequest: number; calls: number; log: (s: string) => void },
): Promise<B6Result> {
  const b = await factory.fresh('status');
  try {
    const userId = await createUser(b.db, 'bench-user', 'bench-password-1', 'user');
    await createUser(b.db, 'bench-admin', 'bench-password-2', 'admin');
    const t0 = process.hrtime.bigint();
    await buildStatusDatabase(b, userId, opts.requests, opts.perRequest);
    const buildSeconds = round(msSince(t0) / 1000, 1);
    const counts = await sql<{ packages: number; events: number; scans: number }>`
      SELECT (SELECT count(*) FROM packages)::int AS packages, (SELECT count(*) FROM package_events)::int AS events,
             (SELECT count(*) FROM security_scans)::int AS scans`.execute(b.db);
    const c = counts.rows[0]!;
    opts.log(`  B6 built ${c.packages} packages, ${c.events} events, ${c.scans} scans in ${buildSeconds} s`);
    const api = await startApi(b.url);
    try {
      const user = await api.login('bench-user', 'bench-password-1');
      const admin = await api.login('bench-admin', 'bench-password-2');
      const mid = Math.ceil(opts.requests / 2);
      const { rows } = await sql<{ id: number }>`SELECT id FROM requests ORDER BY id`.execute(b.db);
      const rid = rows[mid - 1]!.id;
      const pkg = await sql<{ id: number }>`
        SELECT rp.package_id AS id FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
        WHERE rp.request_id = ${rid} AND ps.status = 'Pending Approval' ORDER BY rp.package_id LIMIT 1`.execute(b.db);
      const pkgId = pkg.rows[0]!.id;
      const lastPage500 = Math.ceil(opts.perRequest / 500);
      // `few`: the unpaged compatibility forms are slow by nature at this size; a few calls tell their cost.
      const cases: Array<{
        name: string;
        path: string;
        token: string;
        conditional?: boolean;
        pages?: number;
        few?: boolean;
        /** A summary answer: the target is under 2 KB. */
        summary?: boolean;
      }> = [
        {
          name: 'web: requests list (page of 25), user',
          path: '/api/packages/requests?page=1&page_size=25',
          token: user,
        },
        {
          name: 'web: requests list (page of 25), admin',
          path: '/api/packages/requests?page=1&page_size=25',
          token: admin,
        },
        {
          name: 'web, CLI, scripts: progress summary poll',
          path: `/api/packages/requests/${rid}/processing-status?summary=true`,
          token: user,
          summary: true,
        },
        {
          name: '… the same poll with If-None-Match (304)',
          path: `/api/packages/requests/${rid}/processing-status?summary=true`,
          token: user,
          conditional: true,
        },
        { name: 'request summary', path: `/api/packages/requests/${rid}?summary=true`, token: user, summary: true },
        {
          name: 'web: request packages (page of 50, by name)',
          path: `/api/packages/requests/${rid}?page=1&page_size=50&sort=name`,
          token: user,
        },
        {
          name: 'web: request packages (page of 50, by severity desc)',
          path: `/api/packages/requests/${rid}?page=1&page_size=50&sort=severity&order=desc`,
          token: user,
        },
        {
          name: 'web: request packages (Rejected only, page of 50)',
          path: `/api/packages/requests/${rid}?page=1&page_size=50&status=Rejected`,
          token: user,
        },
        {
          name: 'CLI: request packages (page of 500, by name), each page',
          path: `/api/packages/requests/${rid}?page=PAGE&page_size=500&sort=name`,
          token: user,
          pages: lastPage500,
        },
        {
          name: 'scripts: processing status (page of 500), each page',
          path: `/api/packages/requests/${rid}/processing-status?page=PAGE&page_size=500`,
          token: user,
          pages: lastPage500,
        },
        { name: 'web: package report', path: `/api/packages/${pkgId}/report`, token: user },
        {
          name: 'web: approvals (page of 50, riskiest first)',
          path: '/api/approvals/pending?page=1&page_size=50',
          token: admin,
        },
        { name: 'web, scripts: pipeline status', path: '/api/packages/processing/status', token: admin },
        { name: 'web: audit log (page of 50)', path: '/api/admin/audit?page=1&page_size=50', token: admin },
        {
          name: 'unpaged request detail (every package; compatibility)',
          path: `/api/packages/requests/${rid}`,
          token: user,
          few: true,
        },
        {
          name: 'unpaged processing status (every package; compatibility)',
          path: `/api/packages/requests/${rid}/processing-status`,
          token: user,
          few: true,
        },
      ];
      const endpoints: B6Endpoint[] = [];
      for (const cs of cases) {
        const calls = cs.few ? Math.max(3, Math.ceil(opts.calls / 10)) : opts.calls;
        const get = async (i: number, etag?: string) => {
          const page = cs.pages ? (i % cs.pages) + 1 : 1;
          const headers: Record<string, string> = { authorization: `Bearer ${cs.token}` };
          if (etag) headers['if-none-match'] = etag;
          const s = process.hrtime.bigint();
          const res = await fetch(`${api.url}${cs.path.replace('PAGE', String(page))}`, { headers });
          const body = Buffer.from(await res.arrayBuffer());
          const ms = msSince(s);
          if (res.status !== 200 && res.status !== 304) {
            throw new Error(`${cs.path} answered ${res.status}: ${body.toString('utf8').slice(0, 300)}`);
          }
          return { ms, bytes: body.length, status: res.status, etag: res.headers.get('etag') ?? undefined };
        };
        const warm = await get(0);
        const etag = cs.conditional ? warm.etag : undefined;
        if (cs.conditional && !etag) throw new Error(`${cs.path} sent no ETag`);
        await get(1, etag);
        const ms: number[] = [];
        let bytes = warm.bytes;
        let status = warm.status;
        for (let i = 0; i < calls; i++) {
          const r = await get(i, etag);
          ms.push(r.ms);
          if (r.status === 200) bytes = Math.max(bytes, r.bytes);
          status = r.status;
        }
        const e: B6Endpoint = {
          name: cs.name,
          path: cs.path,
          calls,
          latencyMs: summarize(ms),
          bytes,
          status,
          summary: cs.summary === true,
          page500: cs.path.includes('page_size=500'),
        };
        opts.log(
          `  B6 ${e.name}: p50 ${e.latencyMs.p50} ms, p95 ${e.latencyMs.p95} ms, ${e.bytes} bytes${status === 304 ? ' (304)' : ''}`,
        );
        endpoints.push(e);
      }
      return {
        requests: opts.requests,
        packagesPerRequest: opts.perRequest,
        packages: c.packages,
        events: c.events,
        scans: c.scans,
        buildSeconds,
        endpoints,
      };
    } finally {
      await api.close();
    }
  } finally {
    await b.destroy();
  }
}
