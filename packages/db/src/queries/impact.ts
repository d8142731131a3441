import { sql } from 'kysely';
import type { DB } from '../db.js';
import { quarantineSubquery, type QuarantiningAdvisory } from './advisory-findings.js';

/** Requests listed per impact answer; beyond it `truncated` is set and the distinct lists still count everything. */
const MAX_REQUESTS = 1000;

export interface ImpactRequest {
  id: number;
  applicationName: string;
  applicationVersion: string;
  requestor: string | null;
  createdAt: Date;
  /** The affected packages this request includes. */
  packageIds: number[];
}

export interface Impact {
  requests: ImpactRequest[];
  truncated: boolean;
  /** Every distinct application (name and version) that includes an affected package. */
  applications: Array<{ name: string; version: string }>;
  /** Every distinct requestor of those requests (null: a deleted user). */
  requestors: Array<string | null>;
}

/** Which requests, applications and requestors include any of `packageIds`. */
export async function impactOfPackages(db: DB, packageIds: number[]): Promise<Impact> {
  if (packageIds.length === 0) return { requests: [], truncated: false, applications: [], requestors: [] };
  const [reqs, apps, people] = await Promise.all([
    sql<{
      id: number;
      application_name: string;
      application_version: string;
      requestor: string | null;
      created_at: Date;
      package_ids: number[];
    }>`
      SELECT r.id, r.application_name, r.application_version, u.username AS requestor, r.created_at,
             array_agg(rp.package_id ORDER BY rp.package_id) AS package_ids
        FROM request_packages rp
        JOIN requests r ON r.id = rp.request_id
        LEFT JOIN users u ON u.id = r.requestor_id
       WHERE rp.package_id = ANY (${packageIds}::bigint[])
       GROUP BY r.id, u.username
       ORDER BY r.id DESC
       LIMIT ${MAX_REQUESTS + 1}
    `.execute(db),
    sql<{ name: string; version: string }>`
      SELECT DISTINCT r.application_name AS name, r.application_version AS version
        FROM request_packages rp JOIN requests r ON r.id = rp.request_id
       WHERE rp.package_id = ANY (${packageIds}::bigint[])
       ORDER BY 1, 2
    `.execute(db),
    sql<{ username: string | null }>`
      SELECT DISTINCT u.username
        FROM request_packages rp JOIN requests r ON r.id = rp.request_id LEFT JOIN users u ON u.id = r.requestor_id
       WHERE rp.package_id = ANY (${packageIds}::bigint[])
       ORDER BY 1
    `.execute(db),
  ]);
  return {
    requests: reqs.rows.slice(0, MAX_REQUESTS).map((r) => ({
      id: r.id,
      applicationName: r.application_name,
      applicationVersion: r.application_version,
      requestor: r.requestor,
      createdAt: r.created_at,
      packageIds: r.package_ids.map(Number),
    })),
    truncated: reqs.rows.length > MAX_REQUESTS,
    applications: apps.rows,
    requestors: people.rows.map((p) => p.username),
  };
}

/** One advisory finding on one version, as the impact answers show it. */
export interface FindingView {
  packageId: number;
  name: string;
  version: string;
  status: string;
  advisoryId: string;
  summary: string | null;
  severity: string | null;
  malware: boolean;
  action: 'flag' | 'quarantine';
  firstMatchedAt: Date;
  resolvedAt: Date | null;
  resolvedReason: string | null;
  /** The release waiver, when an approver released the version from this finding's quarantine. */
  releaseWaiverId: number | null;
  releaseExpiresAt: Date | null;
  /** Whether this finding holds the version in quarantine now. */
  quarantining: boolean;
}

function findings(db: DB) {
  return db
    .selectFrom('advisory_findings as f')
    .innerJoin('packages as p', 'p.id', 'f.package_id')
    .innerJoin('package_status as ps', 'ps.package_id', 'f.package_id')
    .innerJoin('advisories as a', 'a.id', 'f.advisory_id')
    .leftJoin('waivers as w', 'w.id', 'f.release_waiver_id')
    .select([
      'f.package_id as packageId',
      'p.name',
      'p.version',
      'ps.status',
      'f.advisory_id as advisoryId',
      'a.summary',
      'a.severity',
      'a.malware',
      'f.action',
      'f.first_matched_at as firstMatchedAt',
      'f.resolved_at as resolvedAt',
      'f.resolved_reason as resolvedReason',
      'f.release_waiver_id as releaseWaiverId',
      'w.expires_at as releaseExpiresAt',
      sql<boolean>`(f.action = 'quarantine' AND f.resolved_at IS NULL AND ps.status <> 'Rejected'
        AND (w.id IS NULL OR w.revoked_at IS NOT NULL OR w.expires_at <= now()))`.as('quarantining'),
    ]);
}

/** The findings on one package, open ones first; null when there is no such package. */
export async function packageImpact(
  db: DB,
  packageId: number,
): Promise<{
  package: { id: number; name: string; version: string; status: string; quarantinedBy: QuarantiningAdvisory[] | null };
  findings: FindingView[];
  impact: Impact;
} | null> {
  const pkg = await db
    .selectFrom('packages as p')
    .innerJoin('package_status as ps', 'ps.package_id', 'p.id')
    .select(['p.id', 'p.name', 'p.version', 'ps.status'])
    .select(quarantineSubquery.as('quarantinedBy'))
    .where('p.id', '=', packageId)
    .executeTakeFirst();
  if (!pkg) return null;
  const [rows, impact] = await Promise.all([
    findings(db)
      .where('f.package_id', '=', packageId)
      .orderBy(sql`f.resolved_at IS NOT NULL`)
      .orderBy('f.advisory_id')
      .execute(),
    impactOfPackages(db, [packageId]),
  ]);
  return {
    package: { ...pkg, quarantinedBy: pkg.status === 'Rejected' ? null : pkg.quarantinedBy },
    findings: rows,
    impact,
  };
}

/** The versions an advisory was matched on and who uses them; null when the advisory is unknown. */
export async function advisoryImpact(
  db: DB,
  advisoryId: string,
): Promise<{
  advisory: {
    id: string;
    summary: string | null;
    severity: string | null;
    malware: boolean;
    withdrawn: Date | null;
    aliases: string[];
  };
  findings: FindingView[];
  impact: Impact;
} | null> {
  const advisory = await db
    .selectFrom('advisories')
    .select(['id', 'summary', 'severity', 'malware', 'withdrawn', 'aliases'])
    .where((eb) => eb.or([eb('id', '=', advisoryId), eb(sql`${advisoryId}`, '=', sql`ANY (aliases)`)]))
    .orderBy('id')
    .executeTakeFirst();
  if (!advisory) return null;
  const rows = await findings(db).where('f.advisory_id', '=', advisory.id).orderBy('p.name').orderBy('p.id').execute();
  const open = rows.filter((r) => r.resolvedAt === null).map((r) => r.packageId);
  return { advisory, findings: rows, impact: await impactOfPackages(db, open) };
}
