import { sql } from 'kysely';
import type { DB } from '../db.js';

/** One package of a request as a bill of materials needs it: identity, hashes, licence, decision, findings. */
export interface BomPackage {
  packageId: number;
  name: string;
  version: string;
  /** SRI from the lockfile (may be sha1 for old lockfiles, or null). */
  integrity: string | null;
  /** SRI sha512 of the stored tarball, once downloaded and verified. */
  checksum: string | null;
  /** SRI the source registry gave for the version. */
  registryIntegrity: string | null;
  declaredLicense: string | null;
  licenseExpression: string | null;
  dev: boolean;
  optional: boolean;
  status: string;
  policyVersion: number | null;
  policyRule: string | null;
  policyOutcome: string | null;
  /** The policy's full decision (its `waived` list names the waivers applied). */
  policyDecision: unknown;
  approvedBy: string | null;
  approvedAt: Date | null;
  publishedAt: Date | null;
  /** The findings of the latest scan (see apps/worker/src/scan/types.ts `Finding`); [] before a scan. */
  findings: unknown[];
  /** Advisories that matched the version after its approval and still do (migration 0021). */
  afterApproval: AfterApprovalFinding[];
}

export interface AfterApprovalFinding {
  advisoryId: string;
  aliases: string[];
  summary: string | null;
  severity: string | null;
  malware: boolean;
  action: 'flag' | 'quarantine';
  /** The live release of a quarantine (a waiver), or null. */
  release: { id: number; reason: string; owner: string; expiresAt: string } | null;
}

export interface BomRequest {
  id: number;
  applicationName: string;
  applicationVersion: string;
  requestor: string | null;
  createdAt: Date;
  lockfileFormat: string;
  packages: BomPackage[];
}

/**
 * Everything a bill of materials of one request says, in one read: the request and each of its packages
 * (by name and version) with its latest scan's findings. Undefined when there is no such request.
 */
export async function requestBillOfMaterials(db: DB, requestId: number): Promise<BomRequest | undefined> {
  const req = await db
    .selectFrom('requests as r')
    .leftJoin('users as u', 'u.id', 'r.requestor_id')
    .select([
      'r.id',
      'r.application_name',
      'r.application_version',
      'r.created_at',
      'r.lockfile_format',
      'u.username as requestor',
    ])
    .where('r.id', '=', requestId)
    .executeTakeFirst();
  if (!req) return undefined;
  const rows = await sql<{
    package_id: number;
    name: string;
    version: string;
    integrity: string | null;
    checksum: string | null;
    registry_integrity: string | null;
    declared_license: string | null;
    license_expression: string | null;
    dev: boolean;
    optional: boolean;
    status: string;
    policy_version: number | null;
    policy_rule: string | null;
    policy_outcome: string | null;
    policy_decision: unknown;
    approved_by: string | null;
    approved_at: Date | null;
    published_at: Date | null;
    findings: unknown;
    after_approval: AfterApprovalFinding[] | null;
  }>`
    SELECT p.id AS package_id, p.name, p.version, p.integrity, ps.checksum, ps.registry_integrity,
           p.declared_license, ps.license_expression, rp.dev, rp.optional, ps.status,
           ps.policy_version, ps.policy_rule, ps.policy_outcome, ps.policy_decision,
           approver.username AS approved_by, ps.approved_at, ps.published_at, s.findings, af.after_approval
    FROM request_packages rp
    JOIN packages p ON p.id = rp.package_id
    JOIN package_status ps ON ps.package_id = p.id
    LEFT JOIN users approver ON approver.id = ps.approved_by
    LEFT JOIN LATERAL (
      SELECT findings FROM security_scans WHERE package_id = p.id ORDER BY id DESC LIMIT 1
    ) s ON true
    LEFT JOIN LATERAL (
      SELECT json_agg(json_build_object(
               'advisoryId', f.advisory_id, 'aliases', a.aliases, 'summary', a.summary, 'severity', a.severity,
               'malware', a.malware, 'action', f.action,
               'release', CASE WHEN w.id IS NOT NULL THEN json_build_object(
                 'id', w.id, 'reason', w.reason, 'owner', w.owner, 'expiresAt', w.expires_at) END)
             ORDER BY f.advisory_id) AS after_approval
      FROM advisory_findings f
      JOIN advisories a ON a.id = f.advisory_id
      LEFT JOIN waivers w ON w.id = f.release_waiver_id AND w.revoked_at IS NULL AND w.expires_at > now()
      WHERE f.package_id = p.id AND f.resolved_at IS NULL
    ) af ON true
    WHERE rp.request_id = ${requestId}
    ORDER BY p.name, p.version`.execute(db);
  return {
    id: req.id,
    applicationName: req.application_name,
    applicationVersion: req.application_version,
    requestor: req.requestor,
    createdAt: req.created_at,
    lockfileFormat: req.lockfile_format,
    packages: rows.rows.map((r) => ({
      packageId: r.package_id,
      name: r.name,
      version: r.version,
      integrity: r.integrity,
      checksum: r.checksum,
      registryIntegrity: r.registry_integrity,
      declaredLicense: r.declared_license,
      licenseExpression: r.license_expression,
      dev: r.dev,
      optional: r.optional,
      status: r.status,
      policyVersion: r.policy_version,
      policyRule: r.policy_rule,
      policyOutcome: r.policy_outcome,
      policyDecision: r.policy_decision,
      approvedBy: r.approved_by,
      approvedAt: r.approved_at,
      publishedAt: r.published_at,
      findings: Array.isArray(r.findings) ? r.findings : [],
      afterApproval: r.after_approval ?? [],
    })),
  };
}
