import { sql } from 'kysely';
import type { DB } from '../db.js';
import { Status } from '../status.js';
import { SEVERITIES, type Severity } from '../vocabulary.js';
import { latestScanColumns, latestScanJoin, scanSummary, type LatestScanColumns, type ScanCounts } from './scans.js';

export interface PendingPackage {
  packageId: number;
  name: string;
  version: string;
  declaredLicense: string | null;
  licenseExpression: string | null;
  licenseTier: string | null;
  licenseScore: number | null;
  licenseFlags: string[];
  securityScore: number | null;
  scanState: string | null;
  scan:
    | (ScanCounts & {
        scanners: unknown;
        /** The scan's findings as the worker stored them (a JSON array). */
        findings: unknown;
      })
    | null;
  requestIds: number[];
  requestedBy: string[];
  /** When the package reached Pending Approval (its last update). */
  waitingSince: Date;
}

export const PENDING_SORTS = ['risk', 'oldest', 'name'] as const;
export type PendingSort = (typeof PENDING_SORTS)[number];

export interface PendingQuery {
  /** `risk`: malware, then lowest security score, flagged licences, most findings; `oldest`: waiting longest. */
  sort?: PendingSort;
  /** Name contains this text (case-insensitive). */
  q?: string;
  /** Licence tiers to keep (`unknown`: no tier). */
  licenseTiers?: readonly string[];
  /** Only packages with a finding at this severity or above. */
  minSeverity?: Severity;
  /** Only packages of this request. */
  requestId?: number;
  limit: number;
  offset: number;
}

// Malware first, then the lowest security score, then a licence that needs a look, then most findings.
const riskOrder = sql`s.malware DESC NULLS LAST, ps.security_score ASC NULLS FIRST,
  CASE WHEN ps.license_tier IS NULL THEN 0 WHEN ps.license_tier = 'avoid' THEN 1 ELSE 2 END,
  CASE WHEN jsonb_typeof(s.findings) = 'array' THEN jsonb_array_length(s.findings) ELSE 0 END DESC,
  ps.updated_at, p.id`;
const severityAtLeast = (min: Severity) => {
  const levels = SEVERITIES.slice(0, SEVERITIES.indexOf(min) + 1);
  return sql`(s.malware OR ${sql.join(
    levels.map((l) => sql`s.${sql.ref(l)} > 0`),
    sql` OR `,
  )})`;
};

/** Packages waiting in Pending Approval, filtered and sorted, with the latest scan and who asked for them. */
export async function listPendingApprovals(
  db: DB,
  opts: PendingQuery,
): Promise<{ total: number; packages: PendingPackage[] }> {
  const conds = [sql`ps.status = ${Status.PendingApproval}`];
  if (opts.q) conds.push(sql`strpos(lower(p.name), ${opts.q.toLowerCase()}) > 0`);
  if (opts.licenseTiers?.length) {
    const tiers = opts.licenseTiers.filter((t) => t !== 'unknown');
    const unknown = opts.licenseTiers.includes('unknown');
    conds.push(
      sql`(${tiers.length ? sql`ps.license_tier = ANY(${tiers}::text[])` : sql`false`}${unknown ? sql` OR ps.license_tier IS NULL` : sql``})`,
    );
  }
  if (opts.minSeverity) conds.push(severityAtLeast(opts.minSeverity));
  if (opts.requestId !== undefined) {
    conds.push(
      sql`EXISTS (SELECT 1 FROM request_packages rq WHERE rq.package_id = p.id AND rq.request_id = ${opts.requestId})`,
    );
  }
  const where = sql.join(conds, sql` AND `);
  const order =
    opts.sort === 'risk' ? riskOrder : opts.sort === 'name' ? sql`p.name, p.version, p.id` : sql`ps.updated_at, p.id`;
  const [count, rows] = await Promise.all([
    sql<{ n: number }>`
      SELECT count(*)::int AS n FROM package_status ps JOIN packages p ON p.id = ps.package_id
      ${opts.minSeverity ? latestScanJoin : sql``}
      WHERE ${where}`.execute(db),
    sql<
      LatestScanColumns & {
        package_id: number;
        name: string;
        version: string;
        declared_license: string | null;
        license_expression: string | null;
        license_tier: string | null;
        license_score: number | null;
        license_flags: string[];
        security_score: number | null;
        scan_state: string | null;
        updated_at: Date;
        scanners: unknown;
        findings: unknown;
        request_ids: number[] | null;
        requested_by: string[] | null;
      }
    >`
      SELECT p.id AS package_id, p.name, p.version, p.declared_license, ps.license_expression, ps.license_tier,
             ps.license_score, ps.license_flags, ps.security_score, ps.scan_state, ps.updated_at,
             ${latestScanColumns}, s.scanners, s.findings,
             (SELECT array_agg(DISTINCT rp.request_id ORDER BY rp.request_id) FROM request_packages rp
               WHERE rp.package_id = p.id) AS request_ids,
             (SELECT array_agg(DISTINCT u.username ORDER BY u.username) FROM request_packages rp
               JOIN requests r ON r.id = rp.request_id JOIN users u ON u.id = r.requestor_id
               WHERE rp.package_id = p.id) AS requested_by
      FROM package_status ps
      JOIN packages p ON p.id = ps.package_id
      ${latestScanJoin}
      WHERE ${where}
      ORDER BY ${order}
      LIMIT ${opts.limit} OFFSET ${opts.offset}
    `.execute(db),
  ]);
  return {
    total: count.rows[0]!.n,
    packages: rows.rows.map((r) => ({
      packageId: r.package_id,
      name: r.name,
      version: r.version,
      declaredLicense: r.declared_license,
      licenseExpression: r.license_expression,
      licenseTier: r.license_tier,
      licenseScore: r.license_score,
      licenseFlags: r.license_flags,
      securityScore: r.security_score,
      scanState: r.scan_state,
      scan: r.scan_id === null ? null : { ...scanSummary(r)!, scanners: r.scanners, findings: r.findings },
      requestIds: (r.request_ids ?? []).map(Number),
      requestedBy: r.requested_by ?? [],
      waitingSince: r.updated_at,
    })),
  };
}
