import { sql } from 'kysely';
import { insertSecurityScan, Status, type DB } from '@spm/db';
import { enqueue, packageId } from './worker.js';

/** A finding as the scanner stores it (the fields the policy reads). */
export interface StoredFinding {
  id: string;
  source: string;
  severity: 'critical' | 'high' | 'medium' | 'low' | 'info';
  evidence?: string;
  title?: string;
  aliases?: string[];
  malware?: boolean;
  cvss?: number;
}

export const hoursBefore = (at: Date, h: number) => new Date(at.getTime() - h * 3_600_000);

export interface ScannedPackage {
  name: string;
  version?: string;
  /** Licence tier as the licence stage recorded it (default always_allowed); null: none recorded. */
  tier?: string | null;
  license?: string | null;
  /** The latest scan's findings; null: no scan at all. */
  findings?: StoredFinding[] | null;
  publishedAt?: Date | null;
  deprecated?: boolean | null;
  dev?: boolean;
  optional?: boolean;
  /** The status to leave it in (default Security Scanned, where the decide stage claims it). */
  status?: string;
}

/**
 * Puts a package where the earlier stages would have left it: requested through a real lockfile
 * upload (so dev/optional use is recorded), its licence verdict and registry facts recorded, its scan
 * stored, at Security Scanned. Returns its id.
 */
export async function atScanned(db: DB, p: ScannedPackage): Promise<number> {
  const version = p.version ?? '1.0.0';
  const license = p.license === undefined ? 'MIT' : p.license;
  await enqueue(db, [
    {
      name: p.name,
      version,
      integrity: null,
      resolved: null,
      license,
      dev: p.dev ?? false,
      optional: p.optional ?? false,
    },
  ]);
  const id = await packageId(db, p.name, version);
  // The scan first: a worker may claim the package the moment it is at Security Scanned.
  if (p.findings !== null) {
    const findings = p.findings ?? [];
    const counts = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
    for (const f of findings) counts[f.severity]++;
    await insertSecurityScan(db, {
      packageId: id,
      scanners: [{ name: 'builtin', version: '1' }],
      counts,
      findings,
      malware: findings.some((f) => f.malware),
      score: 100,
      durationMs: 1,
    });
  }
  await db
    .updateTable('package_status')
    .set({
      status: p.status ?? Status.SecurityScanned,
      license_tier: p.tier === undefined ? 'always_allowed' : p.tier,
      license_expression: license,
      registry_published_at: p.publishedAt === undefined ? null : p.publishedAt,
      registry_deprecated: p.deprecated === undefined ? false : p.deprecated,
      run_at: sql<Date>`now()`,
    })
    .where('package_id', '=', id)
    .execute();
  return id;
}
