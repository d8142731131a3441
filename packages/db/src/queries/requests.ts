import { sql } from 'kysely';
import type { DB } from '../db.js';
import { FINAL_STATUSES, Status } from '../status.js';
import { latestScanColumns, latestScanJoin, scanSummary, type LatestScanColumns, type ScanCounts } from './scans.js';

export interface RequestSummary {
  id: number;
  applicationName: string;
  applicationVersion: string;
  requestorId: number | null;
  requestorUsername: string | null;
  lockfileVersion: number;
  packageCount: number;
  newCount: number;
  existingCount: number;
  createdAt: Date;
  /** Packages of this request per current status. */
  statusCounts: Record<string, number>;
}

interface SummaryRow {
  id: number;
  application_name: string;
  application_version: string;
  requestor_id: number | null;
  requestor_username: string | null;
  lockfile_version: number;
  package_count: number;
  new_count: number;
  existing_count: number;
  created_at: Date;
  status_counts: Record<string, number> | null;
}

function toSummary(r: SummaryRow): RequestSummary {
  return {
    id: r.id,
    applicationName: r.application_name,
    applicationVersion: r.application_version,
    requestorId: r.requestor_id,
    requestorUsername: r.requestor_username,
    lockfileVersion: r.lockfile_version,
    packageCount: r.package_count,
    newCount: r.new_count,
    existingCount: r.existing_count,
    createdAt: r.created_at,
    statusCounts: r.status_counts ?? {},
  };
}

const summarySelect = sql`
  SELECT r.id, r.application_name, r.application_version, r.requestor_id, u.username AS requestor_username,
         r.lockfile_version, r.package_count, r.new_count, r.existing_count, r.created_at,
         (SELECT jsonb_object_agg(s.status, s.n) FROM (
            SELECT ps.status, count(*)::int AS n
            FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
            WHERE rp.request_id = r.id GROUP BY ps.status) s) AS status_counts
  FROM requests r LEFT JOIN users u ON u.id = r.requestor_id`;

/**
 * Requests newest first, each with its packages counted per status. `requestorId` limits the list to one
 * user's requests (what a plain user may see).
 */
export async function listRequests(
  db: DB,
  opts: { requestorId?: number; limit: number; offset: number },
): Promise<{ total: number; requests: RequestSummary[] }> {
  const where = opts.requestorId === undefined ? sql`` : sql`WHERE r.requestor_id = ${opts.requestorId}`;
  const [count, rows] = await Promise.all([
    sql<{ n: number }>`SELECT count(*)::int AS n FROM requests r ${where}`.execute(db),
    sql<SummaryRow>`${summarySelect} ${where} ORDER BY r.id DESC LIMIT ${opts.limit} OFFSET ${opts.offset}`.execute(db),
  ]);
  return { total: count.rows[0]!.n, requests: rows.rows.map(toSummary) };
}

export async function getRequest(db: DB, id: number): Promise<RequestSummary | undefined> {
  const res = await sql<SummaryRow>`${summarySelect} WHERE r.id = ${id}`.execute(db);
  const row = res.rows[0];
  return row && toSummary(row);
}

/** Counts of a package's latest security scan, by severity. */
export interface ScanSummary extends ScanCounts {
  findingsCount: number;
}

export interface RequestPackage {
  packageId: number;
  name: string;
  version: string;
  integrity: string | null;
  declaredLicense: string | null;
  link: 'new' | 'existing';
  dev: boolean;
  optional: boolean;
  status: string;
  attempts: number;
  lastError: string | null;
  rejectionKind: string | null;
  rejectionReason: string | null;
  licenseExpression: string | null;
  licenseTier: string | null;
  licenseScore: number | null;
  licenseFlags: string[];
  securityScore: number | null;
  scanState: string | null;
  scan: ScanSummary | null;
  publishedAt: Date | null;
  updatedAt: Date;
}

/** Every package of a request with its current state and the summary of its latest security scan. */
export async function listRequestPackages(db: DB, requestId: number): Promise<RequestPackage[]> {
  const res = await sql<
    {
      package_id: number;
      name: string;
      version: string;
      integrity: string | null;
      declared_license: string | null;
      link: 'new' | 'existing';
      dev: boolean;
      optional: boolean;
      status: string;
      attempts: number;
      last_error: string | null;
      rejection_kind: string | null;
      rejection_reason: string | null;
      license_expression: string | null;
      license_tier: string | null;
      license_score: number | null;
      license_flags: string[];
      security_score: number | null;
      scan_state: string | null;
      published_at: Date | null;
      updated_at: Date;
      findings_count: number;
    } & LatestScanColumns
  >`
    SELECT p.id AS package_id, p.name, p.version, p.integrity, p.declared_license, rp.link, rp.dev, rp.optional,
           ps.status, ps.attempts, ps.last_error, ps.rejection_kind, ps.rejection_reason, ps.license_expression,
           ps.license_tier, ps.license_score, ps.license_flags, ps.security_score, ps.scan_state, ps.published_at,
           ps.updated_at, ${latestScanColumns},
           CASE WHEN jsonb_typeof(s.findings) = 'array' THEN jsonb_array_length(s.findings) ELSE 0 END AS findings_count
    FROM request_packages rp
    JOIN packages p ON p.id = rp.package_id
    JOIN package_status ps ON ps.package_id = p.id
    ${latestScanJoin}
    WHERE rp.request_id = ${requestId}
    ORDER BY p.name, p.version
  `.execute(db);
  return res.rows.map((r) => ({
    packageId: r.package_id,
    name: r.name,
    version: r.version,
    integrity: r.integrity,
    declaredLicense: r.declared_license,
    link: r.link,
    dev: r.dev,
    optional: r.optional,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    rejectionKind: r.rejection_kind,
    rejectionReason: r.rejection_reason,
    licenseExpression: r.license_expression,
    licenseTier: r.license_tier,
    licenseScore: r.license_score,
    licenseFlags: r.license_flags,
    securityScore: r.security_score,
    scanState: r.scan_state,
    scan: r.scan_id === null ? null : { ...scanSummary(r)!, findingsCount: r.findings_count },
    publishedAt: r.published_at,
    updatedAt: r.updated_at,
  }));
}

/** Statuses after which a waiting script can stop polling: final, or waiting for a person. */
export const SETTLED_STATUSES: readonly string[] = [...FINAL_STATUSES, Status.PendingApproval];

export interface PackageProcessing {
  packageId: number;
  name: string;
  version: string;
  status: string;
  attempts: number;
  lastError: string | null;
  rejectionKind: string | null;
  rejectionReason: string | null;
  runAt: Date;
  updatedAt: Date;
  /** Seconds spent in each status, from package_events (the current status counts up to now unless final). */
  secondsByStatus: Record<string, number>;
  /** From the first event to the last one (or now, while not final). */
  elapsedSeconds: number;
}

/** Per-package processing state of one request, with the time spent in each status. */
export async function getRequestProcessing(db: DB, requestId: number): Promise<PackageProcessing[]> {
  const finals = sql.join(FINAL_STATUSES.map((s) => sql`${s}`));
  const [pkgs, times, bounds] = await Promise.all([
    sql<{
      package_id: number;
      name: string;
      version: string;
      status: string;
      attempts: number;
      last_error: string | null;
      rejection_kind: string | null;
      rejection_reason: string | null;
      run_at: Date;
      updated_at: Date;
    }>`
      SELECT p.id AS package_id, p.name, p.version, ps.status, ps.attempts, ps.last_error, ps.rejection_kind,
             ps.rejection_reason, ps.run_at, ps.updated_at
      FROM request_packages rp JOIN packages p ON p.id = rp.package_id JOIN package_status ps ON ps.package_id = p.id
      WHERE rp.request_id = ${requestId}
      ORDER BY p.name, p.version
    `.execute(db),
    sql<{ package_id: number; status: string; seconds: number }>`
      WITH ev AS (
        SELECT e.package_id, e.to_status, e.created_at,
               lead(e.created_at) OVER (PARTITION BY e.package_id ORDER BY e.id) AS next_at
        FROM package_events e
        WHERE e.package_id IN (SELECT package_id FROM request_packages WHERE request_id = ${requestId})
      )
      SELECT package_id, to_status AS status,
             sum(extract(epoch FROM coalesce(next_at, now()) - created_at))::float8 AS seconds
      FROM ev
      WHERE NOT (next_at IS NULL AND to_status IN (${finals}))
      GROUP BY package_id, to_status
    `.execute(db),
    sql<{ package_id: number; elapsed: number }>`
      SELECT e.package_id,
             extract(epoch FROM CASE WHEN bool_or(ps.status IN (${finals})) THEN max(e.created_at) ELSE now() END
                                - min(e.created_at))::float8 AS elapsed
      FROM package_events e JOIN package_status ps ON ps.package_id = e.package_id
      WHERE e.package_id IN (SELECT package_id FROM request_packages WHERE request_id = ${requestId})
      GROUP BY e.package_id
    `.execute(db),
  ]);
  const byPkg = new Map<number, Record<string, number>>();
  for (const t of times.rows) {
    let m = byPkg.get(t.package_id);
    if (!m) byPkg.set(t.package_id, (m = {}));
    m[t.status] = Math.round(Number(t.seconds) * 1000) / 1000;
  }
  const elapsed = new Map(bounds.rows.map((b) => [b.package_id, Math.max(0, Number(b.elapsed))]));
  return pkgs.rows.map((r) => ({
    packageId: r.package_id,
    name: r.name,
    version: r.version,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    rejectionKind: r.rejection_kind,
    rejectionReason: r.rejection_reason,
    runAt: r.run_at,
    updatedAt: r.updated_at,
    secondsByStatus: byPkg.get(r.package_id) ?? {},
    elapsedSeconds: Math.round((elapsed.get(r.package_id) ?? 0) * 1000) / 1000,
  }));
}

/** True when the user submitted a request that contains the package (what a plain user needs to see it). */
export async function isPackageInUserRequests(db: DB, packageId: number, userId: number): Promise<boolean> {
  const r = await sql<{ one: number }>`
    SELECT 1 AS one FROM request_packages rp JOIN requests r ON r.id = rp.request_id
    WHERE rp.package_id = ${packageId} AND r.requestor_id = ${userId} LIMIT 1
  `.execute(db);
  return r.rows.length > 0;
}
