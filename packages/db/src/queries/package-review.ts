import type { DB } from '../db.js';
import { policySummary, type PolicySummary } from './policy-explain.js';

export interface PackageReport {
  package: {
    id: number;
    name: string;
    version: string;
    integrity: string | null;
    resolved: string | null;
    declaredLicense: string | null;
    createdAt: Date;
  };
  status: {
    status: string;
    attempts: number;
    runAt: Date;
    lastError: string | null;
    rejectionKind: string | null;
    rejectionReason: string | null;
    licenseExpression: string | null;
    licenseTier: string | null;
    licenseScore: number | null;
    licenseFlags: string[];
    securityScore: number | null;
    scanState: string | null;
    checksum: string | null;
    sizeBytes: number | null;
    registryIntegrity: string | null;
    approvedBy: string | null;
    approvedAt: Date | null;
    rejectedBy: string | null;
    rejectedAt: Date | null;
    publishedAt: Date | null;
    publishedTo: string | null;
    stuckResets: number;
    retries: number;
    updatedAt: Date;
  };
  /** The latest policy decision, with what it matched and the waivers it applied; null before one. */
  policy:
    | (PolicySummary & {
        evaluatedAt: Date | null;
        /** The stored decision: matched rules, waivers applied, waivers that expired. */
        decision: unknown;
        registryPublishedAt: Date | null;
        registryDeprecated: boolean | null;
        cooldownRelease: { by: string; reason: string | null; at: Date | null } | null;
      })
    | null;
  scan: {
    id: number;
    scanners: unknown;
    critical: number;
    high: number;
    medium: number;
    low: number;
    info: number;
    findings: unknown;
    malware: boolean;
    score: number;
    durationMs: number;
    createdAt: Date;
  } | null;
  /** The requests that include the package. */
  requestIds: number[];
  events: Array<{
    id: number;
    from: string | null;
    to: string;
    actor: string;
    actorKind: string;
    reason: string | null;
    attempt: number | null;
    details: unknown;
    at: Date;
  }>;
}

function policyOf(head: {
  status: string;
  policy_version: number | null;
  policy_rule: string | null;
  policy_outcome: PolicySummary['outcome'] | null;
  policy_reason: string | null;
  policy_decision: unknown;
  policy_evaluated_at: Date | null;
  cooldown_until: Date | null;
  registry_published_at: Date | null;
  registry_deprecated: boolean | null;
  cooldown_released_by: string | null;
  cooldown_release_reason: string | null;
  cooldown_released_at: Date | null;
}): PackageReport['policy'] {
  const summary = policySummary(head);
  if (!summary) return null;
  return {
    ...summary,
    evaluatedAt: head.policy_evaluated_at,
    decision: head.policy_decision,
    registryPublishedAt: head.registry_published_at,
    registryDeprecated: head.registry_deprecated,
    cooldownRelease: head.cooldown_released_by
      ? { by: head.cooldown_released_by, reason: head.cooldown_release_reason, at: head.cooldown_released_at }
      : null,
  };
}

/** Everything known about one package: status, licence verdict, latest security scan, history. */
export async function getPackageReport(db: DB, packageId: number): Promise<PackageReport | undefined> {
  const [head, scan, events, requests] = await Promise.all([
    db
      .selectFrom('packages as p')
      .innerJoin('package_status as ps', 'ps.package_id', 'p.id')
      .leftJoin('users as ua', 'ua.id', 'ps.approved_by')
      .leftJoin('users as ur', 'ur.id', 'ps.rejected_by')
      .select([
        'p.id',
        'p.name',
        'p.version',
        'p.integrity',
        'p.resolved',
        'p.declared_license',
        'p.created_at',
        'ps.status',
        'ps.attempts',
        'ps.run_at',
        'ps.last_error',
        'ps.rejection_kind',
        'ps.rejection_reason',
        'ps.license_expression',
        'ps.license_tier',
        'ps.license_score',
        'ps.license_flags',
        'ps.security_score',
        'ps.scan_state',
        'ps.checksum',
        'ps.size_bytes',
        'ps.registry_integrity',
        'ua.username as approved_by',
        'ps.approved_at',
        'ur.username as rejected_by',
        'ps.rejected_at',
        'ps.published_at',
        'ps.published_to',
        'ps.stuck_resets',
        'ps.retries',
        'ps.updated_at',
        'ps.policy_version',
        'ps.policy_rule',
        'ps.policy_outcome',
        'ps.policy_reason',
        'ps.policy_decision',
        'ps.policy_evaluated_at',
        'ps.cooldown_until',
        'ps.registry_published_at',
        'ps.registry_deprecated',
        'ps.cooldown_released_by',
        'ps.cooldown_release_reason',
        'ps.cooldown_released_at',
      ])
      .where('p.id', '=', packageId)
      .executeTakeFirst(),
    db
      .selectFrom('security_scans')
      .selectAll()
      .where('package_id', '=', packageId)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst(),
    db.selectFrom('package_events').selectAll().where('package_id', '=', packageId).orderBy('id').limit(1000).execute(),
    db
      .selectFrom('request_packages')
      .select('request_id')
      .where('package_id', '=', packageId)
      .orderBy('request_id')
      .execute(),
  ]);
  if (!head) return undefined;
  return {
    package: {
      id: head.id,
      name: head.name,
      version: head.version,
      integrity: head.integrity,
      resolved: head.resolved,
      declaredLicense: head.declared_license,
      createdAt: head.created_at,
    },
    status: {
      status: head.status,
      attempts: head.attempts,
      runAt: head.run_at,
      lastError: head.last_error,
      rejectionKind: head.rejection_kind,
      rejectionReason: head.rejection_reason,
      licenseExpression: head.license_expression,
      licenseTier: head.license_tier,
      licenseScore: head.license_score,
      licenseFlags: head.license_flags,
      securityScore: head.security_score,
      scanState: head.scan_state,
      checksum: head.checksum,
      sizeBytes: head.size_bytes,
      registryIntegrity: head.registry_integrity,
      approvedBy: head.approved_by,
      approvedAt: head.approved_at,
      rejectedBy: head.rejected_by,
      rejectedAt: head.rejected_at,
      publishedAt: head.published_at,
      publishedTo: head.published_to,
      stuckResets: head.stuck_resets,
      retries: head.retries,
      updatedAt: head.updated_at,
    },
    policy: policyOf(head),
    scan: scan
      ? {
          id: scan.id,
          scanners: scan.scanners,
          critical: scan.critical,
          high: scan.high,
          medium: scan.medium,
          low: scan.low,
          info: scan.info,
          findings: scan.findings,
          malware: scan.malware,
          score: scan.score,
          durationMs: scan.duration_ms,
          createdAt: scan.created_at,
        }
      : null,
    requestIds: requests.map((r) => r.request_id),
    events: events.map((e) => ({
      id: e.id,
      from: e.from_status,
      to: e.to_status,
      actor: e.actor,
      actorKind: e.actor_kind,
      reason: e.reason,
      attempt: e.attempt,
      details: e.details,
      at: e.created_at,
    })),
  };
}

/** Current status of each existing package among `ids` (missing ids are absent from the map). */
export async function getPackageStatuses(db: DB, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('package_status')
    .select(['package_id', 'status'])
    .where('package_id', 'in', ids)
    .execute();
  return new Map(rows.map((r) => [r.package_id, r.status]));
}

/** The package with this exact name and version, and its status (for lookups by name@version). */
export async function findPackage(
  db: DB,
  name: string,
  version: string,
): Promise<{ id: number; name: string; version: string; status: string } | undefined> {
  return db
    .selectFrom('packages as p')
    .innerJoin('package_status as ps', 'ps.package_id', 'p.id')
    .select(['p.id', 'p.name', 'p.version', 'ps.status'])
    .where('p.name', '=', name)
    .where('p.version', '=', version)
    .executeTakeFirst();
}
