import { sql, type RawBuilder } from 'kysely';
import type { DB } from '../db.js';
import { FINAL_STATUSES, PIPELINE_ORDER, Status } from '../status.js';
import { SEVERITIES, type Severity } from '../vocabulary.js';
import { policySummary, type PolicyColumns } from './policy-explain.js';
import { latestScanColumns, latestScanJoin, scanSummary, type LatestScanColumns, type ScanCounts } from './scans.js';

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
  /** The most severe finding of the latest scan (`malware` above critical); null when never scanned. */
  highestSeverity: Severity | 'malware' | 'none' | null;
  /** Codes of the supply-chain signals in the latest scan (install-script, native-binary, ...). */
  signals: string[];
  publishedAt: Date | null;
  updatedAt: Date;
  /** Which rule of which policy version decided, or what the package waits for (null before the policy). */
  decision: string | null;
  /** For a version in its release cooldown: when the policy looks at it again. */
  cooldownUntil: Date | null;
}

export const REQUEST_PACKAGE_SORTS = ['name', 'status', 'license', 'security_score', 'severity', 'updated'] as const;
export type RequestPackageSort = (typeof REQUEST_PACKAGE_SORTS)[number];

export interface RequestPackageQuery {
  /** Only packages in one of these statuses. */
  statuses?: readonly string[];
  /** Name contains this text (case-insensitive). */
  q?: string;
  /** Only packages whose licence tier is one of these (`unknown`: no tier). */
  licenseTiers?: readonly string[];
  /** Only packages whose latest scan has a finding at this severity or above. */
  minSeverity?: Severity;
  link?: 'new' | 'existing';
  sort?: RequestPackageSort;
  order?: 'asc' | 'desc';
  /** Page; without a limit every matching package is returned. */
  limit?: number;
  offset?: number;
}

// Malware 6, critical 5 … info 1, scanned without findings 0, never scanned -1.
const severityRank = sql`CASE WHEN s.id IS NULL THEN -1 WHEN s.malware THEN 6
  WHEN s.critical > 0 THEN 5 WHEN s.high > 0 THEN 4 WHEN s.medium > 0 THEN 3 WHEN s.low > 0 THEN 2
  WHEN s.info > 0 THEN 1 ELSE 0 END`;
const RANKED_SEVERITIES: Array<RequestPackage['highestSeverity']> = ['none', ...[...SEVERITIES].reverse(), 'malware'];
const statusOrder = sql.raw(`ARRAY[${[...PIPELINE_ORDER, Status.Rejected].map((s) => `'${s}'`).join(', ')}]`);

function sortKey(sort: RequestPackageSort): RawBuilder<unknown> {
  switch (sort) {
    case 'name':
      return sql`rp.package_name`;
    case 'status':
      return sql`array_position(${statusOrder}::text[], ps.status)`;
    case 'license':
      return sql`coalesce(ps.license_expression, p.declared_license)`;
    case 'security_score':
      return sql`ps.security_score`;
    case 'severity':
      return severityRank;
    case 'updated':
      return sql`ps.updated_at`;
  }
}

/** Conditions on the link alone (request_packages carries the name): no join needed to count or page them. */
function linkConditions(requestId: number, f: RequestPackageQuery): Array<RawBuilder<unknown>> {
  const conds = [sql`rp.request_id = ${requestId}`];
  if (f.q) conds.push(sql`strpos(lower(rp.package_name), ${f.q.toLowerCase()}) > 0`);
  if (f.link) conds.push(sql`rp.link = ${f.link}`);
  return conds;
}

/** Conditions on the package's state and latest scan (package_status `ps`, scan `s`). */
function stateConditions(f: RequestPackageQuery): Array<RawBuilder<unknown>> {
  const conds: Array<RawBuilder<unknown>> = [];
  if (f.statuses?.length) conds.push(sql`ps.status = ANY(${[...f.statuses]}::text[])`);
  if (f.licenseTiers?.length) {
    const tiers = f.licenseTiers.filter((t) => t !== 'unknown');
    const unknown = f.licenseTiers.includes('unknown');
    conds.push(
      sql`(${tiers.length ? sql`ps.license_tier = ANY(${tiers}::text[])` : sql`false`}${unknown ? sql` OR ps.license_tier IS NULL` : sql``})`,
    );
  }
  if (f.minSeverity) {
    conds.push(sql`${severityRank} >= ${SEVERITIES.length - SEVERITIES.indexOf(f.minSeverity)}`);
  }
  return conds;
}

/**
 * The tables a filter or a sort needs beside request_packages `rp`: package_status `ps`, and packages `p`
 * with its latest scan `s` for the licence and severity. By name with no state filter it is none, so a page
 * is a walk of request_packages_name_idx.
 */
function joinsFor(f: RequestPackageQuery, sort: RequestPackageSort): RawBuilder<unknown> {
  const scan = f.minSeverity !== undefined || sort === 'severity';
  const pkg = scan || sort === 'license';
  const status = pkg || sort !== 'name' || stateConditions(f).length > 0;
  return sql`${status ? sql`JOIN package_status ps ON ps.package_id = rp.package_id` : sql``}
    ${pkg ? sql`JOIN packages p ON p.id = rp.package_id` : sql``} ${scan ? latestScanJoin : sql``}`;
}

type Row = LatestScanColumns &
  Omit<PolicyColumns, 'status'> & {
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
    severity_rank: number;
    signals: string[] | null;
  };

/**
 * One page of a request's packages, filtered and sorted, each with its state and the summary of its
 * latest scan, and the number of packages matching the filter. The page is chosen first on the sort
 * keys alone; the scan summaries and signals are then read for that page only, so the cost of a page
 * does not grow with what the scans hold.
 */
export async function queryRequestPackages(
  db: DB,
  requestId: number,
  f: RequestPackageQuery = {},
): Promise<{ total: number; packages: RequestPackage[] }> {
  const sort = f.sort ?? 'name';
  const where = sql.join([...linkConditions(requestId, f), ...stateConditions(f)], sql` AND `);
  const joins = joinsFor(f, sort);
  const dir = f.order === 'desc' ? sql`DESC NULLS LAST` : sql`ASC NULLS LAST`;
  // By name ascending the order is the index's, so the page is an index walk.
  const ties = sql`rp.package_name, rp.package_version, rp.package_id`;
  const order = sort === 'name' && f.order !== 'desc' ? ties : sql`${sortKey(sort)} ${dir}, ${ties}`;
  const page = f.limit === undefined ? sql`` : sql`LIMIT ${f.limit} OFFSET ${f.offset ?? 0}`;
  const [count, rows] = await Promise.all([
    sql<{ n: number }>`SELECT count(*)::int AS n FROM request_packages rp ${joins} WHERE ${where}`.execute(db),
    // The page's ids in order (an array keeps it), then everything shown for those ids only.
    sql<Row>`
      SELECT p.id AS package_id, p.name, p.version, p.integrity, p.declared_license, rp.link, rp.dev, rp.optional,
             ps.status, ps.attempts, ps.last_error, ps.rejection_kind, ps.rejection_reason, ps.license_expression,
             ps.license_tier, ps.license_score, ps.license_flags, ps.security_score, ps.scan_state, ps.published_at,
             ps.updated_at, ps.policy_version, ps.policy_rule, ps.policy_outcome, ps.policy_reason, ps.cooldown_until,
             ${latestScanColumns}, ${severityRank} AS severity_rank,
             CASE WHEN jsonb_typeof(s.findings) = 'array' THEN jsonb_array_length(s.findings) ELSE 0 END AS findings_count,
             CASE WHEN jsonb_typeof(s.findings) = 'array' THEN
               ARRAY(SELECT DISTINCT f->>'id' FROM jsonb_array_elements(s.findings) f
                     WHERE f->>'source' = 'signal' AND f->>'id' IS NOT NULL ORDER BY 1)
             END AS signals
      FROM unnest(ARRAY(
             SELECT rp.package_id FROM request_packages rp ${joins} WHERE ${where} ORDER BY ${order} ${page}
           )) WITH ORDINALITY AS page(package_id, ord)
      JOIN request_packages rp ON rp.request_id = ${requestId} AND rp.package_id = page.package_id
      JOIN packages p ON p.id = page.package_id
      JOIN package_status ps ON ps.package_id = p.id
      ${latestScanJoin}
      ORDER BY page.ord
    `.execute(db),
  ]);
  return {
    total: count.rows[0]!.n,
    packages: rows.rows.map((r) => ({
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
      highestSeverity: r.severity_rank < 0 ? null : (RANKED_SEVERITIES[r.severity_rank] ?? null),
      signals: r.signals ?? [],
      publishedAt: r.published_at,
      updatedAt: r.updated_at,
      decision: policySummary(r)?.explanation ?? null,
      cooldownUntil: r.status === Status.SecurityScanned ? r.cooldown_until : null,
    })),
  };
}

/** Every package of a request, by name, with its current state and the summary of its latest scan. */
export async function listRequestPackages(db: DB, requestId: number): Promise<RequestPackage[]> {
  return (await queryRequestPackages(db, requestId)).packages;
}

export interface RequestStatusSummary {
  total: number;
  byStatus: Record<string, number>;
  /** Packages with a last_error (retried, or rejected because of it). */
  withErrors: number;
  /** Packages in a final status (Published or Rejected). */
  final: number;
  /**
   * Packages the policy holds until they come of age (a release cooldown): back at Security Scanned
   * with a later run_at. Nothing happens to them before then, neither by the machine nor by a person.
   */
  inCooldown: number;
}

/**
 * How many packages of a request are in each status: one grouped count, what a live progress view
 * polls (a few hundred bytes however large the request is).
 */
export async function getRequestStatusSummary(db: DB, requestId: number): Promise<RequestStatusSummary> {
  const res = await sql<{ status: string; n: number; errors: number; cooling: number }>`
    SELECT ps.status, count(*)::int AS n, count(*) FILTER (WHERE ps.last_error IS NOT NULL)::int AS errors,
           count(*) FILTER (WHERE ps.status = 'Security Scanned' AND ps.cooldown_until > now())::int AS cooling
    FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
    WHERE rp.request_id = ${requestId}
    GROUP BY ps.status
  `.execute(db);
  const byStatus: Record<string, number> = {};
  let total = 0;
  let withErrors = 0;
  let final = 0;
  let inCooldown = 0;
  for (const r of res.rows) {
    byStatus[r.status] = r.n;
    total += r.n;
    withErrors += r.errors;
    inCooldown += r.cooling;
    if ((FINAL_STATUSES as readonly string[]).includes(r.status)) final += r.n;
  }
  return { total, byStatus, withErrors, final, inCooldown };
}
