import { sql } from 'kysely';
import type { DB } from '../db.js';
import { storableJson } from '../outside-text.js';

export interface SeverityCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  info: number;
}

export interface NewSecurityScan {
  packageId: number;
  /** One entry per scanner that ran: `{ name, version, durationMs, findings, details? }`. */
  scanners: unknown[];
  counts: SeverityCounts;
  /** The findings as the worker reports them (see apps/worker/src/scan/types.ts `Finding`). */
  findings: unknown[];
  malware: boolean;
  score: number;
  durationMs: number;
}

/** A stored scan, JSON columns parsed. */
export interface SecurityScanReport {
  id: number;
  packageId: number;
  scanners: unknown[];
  counts: SeverityCounts;
  findings: unknown[];
  malware: boolean;
  score: number;
  durationMs: number;
  createdAt: Date;
}

/** The columns of a security_scans row, outside text made storable. */
export function scanRow(scan: NewSecurityScan) {
  return {
    package_id: scan.packageId,
    scanners: storableJson(scan.scanners)!,
    critical: scan.counts.critical,
    high: scan.counts.high,
    medium: scan.counts.medium,
    low: scan.counts.low,
    info: scan.counts.info,
    findings: storableJson(scan.findings)!,
    malware: scan.malware,
    score: scan.score,
    duration_ms: Math.round(scan.durationMs),
  };
}

/**
 * Records one scan of a package. Scans are append-only history; the newest one is the package's
 * report. The worker does not call this: its scans are written by the fenced completion of the stage
 * (completeStage / rejectHeldPackage with `scan`), so a worker that lost its lease writes none.
 */
export async function insertSecurityScan(db: DB, scan: NewSecurityScan): Promise<number> {
  const row = await db.insertInto('security_scans').values(scanRow(scan)).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

type ScanRow = {
  id: number;
  package_id: number;
  scanners: unknown;
  critical: number;
  high: number;
  medium: number;
  low: number;
  info: number;
  findings: unknown;
  malware: boolean;
  score: number;
  duration_ms: number;
  created_at: Date;
};

function toReport(r: ScanRow): SecurityScanReport {
  return {
    id: r.id,
    packageId: r.package_id,
    scanners: Array.isArray(r.scanners) ? r.scanners : [],
    counts: { critical: r.critical, high: r.high, medium: r.medium, low: r.low, info: r.info },
    findings: Array.isArray(r.findings) ? r.findings : [],
    malware: r.malware,
    score: r.score,
    durationMs: r.duration_ms,
    createdAt: r.created_at,
  };
}

/** The newest scan of a package, or null when it was never scanned. */
export async function latestSecurityScan(db: DB, packageId: number): Promise<SecurityScanReport | null> {
  const r = await db
    .selectFrom('security_scans')
    .selectAll()
    .where('package_id', '=', packageId)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r ? toReport(r as ScanRow) : null;
}

/** The newest scan of each of `packageIds` (one query), keyed by package id; unscanned packages are absent. */
export async function latestSecurityScans(db: DB, packageIds: number[]): Promise<Map<number, SecurityScanReport>> {
  const out = new Map<number, SecurityScanReport>();
  if (packageIds.length === 0) return out;
  const res = await sql<ScanRow>`
    SELECT DISTINCT ON (package_id) *
    FROM security_scans
    WHERE package_id = ANY(${packageIds}::bigint[])
    ORDER BY package_id, id DESC
  `.execute(db);
  for (const r of res.rows) out.set(r.package_id, toReport(r));
  return out;
}

/**
 * SQL fragments for "each package with its newest scan": join `latestScanJoin` after a table aliased
 * `p` (packages) and select `latestScanColumns`; `scanSummary` maps those columns back.
 */
export const latestScanJoin = sql`LEFT JOIN LATERAL (
  SELECT * FROM security_scans ss WHERE ss.package_id = p.id ORDER BY ss.id DESC LIMIT 1
) s ON true`;
export const latestScanColumns = sql`s.id AS scan_id, s.critical, s.high, s.medium, s.low, s.info, s.malware,
  s.score AS scan_score, s.created_at AS scanned_at`;

/** The row shape `latestScanColumns` selects (every column null when the package was never scanned). */
export interface LatestScanColumns {
  scan_id: number | null;
  critical: number;
  high: number;
  medium: number;
  low: number;
  info: number;
  malware: boolean;
  scan_score: number;
  scanned_at: Date;
}

export interface ScanCounts extends SeverityCounts {
  malware: boolean;
  score: number;
  scannedAt: Date;
}

/** The newest scan's counts from a row with `latestScanColumns`, or null when never scanned. */
export function scanSummary(r: LatestScanColumns): ScanCounts | null {
  if (r.scan_id === null) return null;
  return {
    critical: r.critical,
    high: r.high,
    medium: r.medium,
    low: r.low,
    info: r.info,
    malware: r.malware,
    score: r.scan_score,
    scannedAt: r.scanned_at,
  };
}
