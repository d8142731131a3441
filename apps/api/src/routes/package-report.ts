import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  advisoriesForPackage,
  AppError,
  findPackage,
  getPackageReport,
  isPackageInUserRequests,
  progressPercent,
  requestsIncluding,
} from '@spm/db';
import { describeAffected } from '../advisory-ranges.js';
import { hasRole } from '../plugins/auth.js';
import { revalidateGets } from '../plugins/revalidate.js';
import { authErrors, IdParam, Nullable, Timestamp } from '../schemas/common.js';
import { LicenseInfo, Rejection } from '../schemas/packages.js';

/** The ids of the advisories (source osv) among a scan's findings. */
function advisoryIds(findings: unknown): string[] {
  if (!Array.isArray(findings)) return [];
  const ids = new Set<string>();
  for (const f of findings) {
    const { id, source } = (f ?? {}) as { id?: unknown; source?: unknown };
    if (source === 'osv' && typeof id === 'string') ids.add(id);
  }
  return [...ids].slice(0, 500);
}

/** A package name as npm allows it (at most 214 characters), no control characters. */
const PackageNameText = Type.String({ minLength: 1, maxLength: 214, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });
/** A version string, no control characters. */
const PackageVersionText = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });

/** GET /api/packages/{packageId}/report: everything known about one package; GET /lookup finds its id. */
const packageReportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  await revalidateGets(app);

  app.get(
    '/lookup',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: 'Find a package by exact name and version (its id, for the report and approvals)',
        description: 'Approvers and admins find every package; users only packages in one of their requests.',
        security,
        querystring: Type.Object(
          { name: PackageNameText, version: PackageVersionText },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            package_id: Type.Integer(),
            name: Type.String(),
            version: Type.String(),
            status: Type.String(),
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const { name, version } = request.query;
      const found = await findPackage(app.db, name, version);
      const visible =
        found &&
        (hasRole(request.user.role, 'approver') || (await isPackageInUserRequests(app.db, found.id, request.user.id)));
      if (!found || !visible) {
        throw new AppError('ERR_PACKAGE_NOT_FOUND', `No package ${name}@${version}.`, { status: 404 });
      }
      return { package_id: found.id, name: found.name, version: found.version, status: found.status };
    },
  );

  app.get(
    '/:packageId/report',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary:
          'Everything known about a package: state, licence verdict, latest security scan with findings, history',
        description: 'Approvers and admins see every package; users only packages in one of their requests.',
        security,
        params: Type.Object({ packageId: IdParam }),
        response: {
          200: Type.Object({
            package: Type.Object({
              id: Type.Integer(),
              name: Type.String(),
              version: Type.String(),
              integrity: Nullable(Type.String()),
              resolved: Nullable(Type.String()),
              created_at: Timestamp,
            }),
            status: Type.Object({
              status: Type.String(),
              progress_percent: Type.Integer(),
              attempts: Type.Integer(),
              next_attempt_at: Timestamp,
              last_error: Nullable(Type.String()),
              rejection: Rejection,
              checksum: Nullable(Type.String()),
              size_bytes: Nullable(Type.Integer()),
              registry_integrity: Nullable(Type.String()),
              approved_by: Nullable(Type.String()),
              approved_at: Nullable(Timestamp),
              rejected_by: Nullable(Type.String()),
              rejected_at: Nullable(Timestamp),
              published_at: Nullable(Timestamp),
              published_to: Nullable(Type.String()),
              stuck_resets: Type.Integer(),
              retries: Type.Integer(),
              updated_at: Timestamp,
            }),
            license: Type.Object(LicenseInfo),
            policy: Nullable(
              Type.Object(
                {
                  version: Type.Integer({ description: 'The policy version that decided' }),
                  rule: Nullable(
                    Type.String({
                      description: 'The deciding rule; null: the default action, cooldown or missing facts',
                    }),
                  ),
                  outcome: Type.String({ description: 'approve, warn, hold, reject or wait (cooldown)' }),
                  reason: Type.String(),
                  explanation: Type.String({
                    description:
                      'Which rule of which version decided, or what the package waits for (a person, or its cooldown)',
                  }),
                  evaluated_at: Nullable(Timestamp),
                  cooldown_until: Nullable(Timestamp),
                  registry_published_at: Nullable(Timestamp),
                  registry_deprecated: Nullable(Type.Boolean()),
                  cooldown_release: Nullable(
                    Type.Object({ by: Type.String(), reason: Nullable(Type.String()), at: Nullable(Timestamp) }),
                  ),
                  matched: Type.Unknown({ description: 'Every rule that matched, with why' }),
                  waived: Type.Unknown({ description: 'Waivers applied (id, kind, subject, reason, owner, expiry)' }),
                  expired_waivers: Type.Unknown({ description: 'Waivers for this package that had expired' }),
                },
                { description: 'The approval policy decision; null before the policy decided' },
              ),
            ),
            security: Type.Object({
              security_score: Nullable(Type.Integer()),
              scan_state: Nullable(Type.String()),
              scan: Nullable(
                Type.Object({
                  id: Type.Integer(),
                  scanners: Type.Unknown(),
                  vulnerabilities: Type.Object({
                    critical: Type.Integer(),
                    high: Type.Integer(),
                    medium: Type.Integer(),
                    low: Type.Integer(),
                    info: Type.Integer(),
                  }),
                  findings: Type.Unknown(),
                  malware: Type.Boolean(),
                  score: Type.Integer(),
                  duration_ms: Type.Integer(),
                  scanned_at: Timestamp,
                }),
              ),
            }),
            request_ids: Type.Array(Type.Integer(), {
              description: 'The requests that include it (a user: their own)',
            }),
            requests: Type.Array(
              Type.Object({
                id: Type.Integer(),
                application_name: Type.String(),
                application_version: Type.String(),
                requestor: Nullable(Type.String()),
                link: Type.String({ description: 'new: this request brought it in; existing: it was already known' }),
                created_at: Timestamp,
              }),
            ),
            advisories: Type.Array(
              Type.Object({
                id: Type.String(),
                aliases: Type.Array(Type.String()),
                summary: Nullable(Type.String()),
                severity: Nullable(Type.String()),
                malware: Type.Boolean(),
                affected_ranges: Type.Array(Type.String(), {
                  description: 'Affected versions of this package, e.g. ">= 1.0.0, < 1.2.3"',
                }),
                fixed_versions: Type.Array(Type.String()),
                url: Nullable(Type.String()),
                published: Nullable(Timestamp),
                modified: Timestamp,
              }),
              { description: 'The stored advisories behind the vulnerability findings of the latest scan' },
            ),
            events: Type.Array(
              Type.Object({
                id: Type.Integer(),
                from: Nullable(Type.String()),
                to: Type.String(),
                actor: Type.String(),
                actor_kind: Type.String(),
                reason: Nullable(Type.String()),
                attempt: Nullable(Type.Integer()),
                details: Type.Unknown(),
                at: Timestamp,
              }),
            ),
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const id = request.params.packageId;
      const notFound = () => new AppError('ERR_PACKAGE_NOT_FOUND', `No package with id ${id}.`, { status: 404 });
      const all = hasRole(request.user.role, 'approver');
      if (!all && !(await isPackageInUserRequests(app.db, id, request.user.id))) throw notFound();
      const rep = await getPackageReport(app.db, id);
      if (!rep) throw notFound();
      const [requests, advisories] = await Promise.all([
        requestsIncluding(app.db, id, { requestorId: all ? undefined : request.user.id }),
        advisoriesForPackage(app.db, rep.package.name, { ids: advisoryIds(rep.scan?.findings) }),
      ]);
      const s = rep.status;
      return {
        package: {
          id: rep.package.id,
          name: rep.package.name,
          version: rep.package.version,
          integrity: rep.package.integrity,
          resolved: rep.package.resolved,
          created_at: rep.package.createdAt,
        },
        status: {
          status: s.status,
          progress_percent: progressPercent(s.status),
          attempts: s.attempts,
          next_attempt_at: s.runAt,
          last_error: s.lastError,
          rejection: s.rejectionKind || s.rejectionReason ? { kind: s.rejectionKind, reason: s.rejectionReason } : null,
          checksum: s.checksum,
          size_bytes: s.sizeBytes,
          registry_integrity: s.registryIntegrity,
          approved_by: s.approvedBy,
          approved_at: s.approvedAt,
          rejected_by: s.rejectedBy,
          rejected_at: s.rejectedAt,
          published_at: s.publishedAt,
          published_to: s.publishedTo,
          stuck_resets: s.stuckResets,
          retries: s.retries,
          updated_at: s.updatedAt,
        },
        license: {
          declared_license: rep.package.declaredLicense,
          license_expression: s.licenseExpression,
          license_tier: s.licenseTier,
          license_score: s.licenseScore,
          license_flags: s.licenseFlags,
        },
        policy: rep.policy && {
          version: rep.policy.version,
          rule: rep.policy.rule,
          outcome: rep.policy.outcome,
          reason: rep.policy.reason,
          explanation: rep.policy.explanation,
          evaluated_at: rep.policy.evaluatedAt,
          cooldown_until: rep.policy.cooldownUntil,
          registry_published_at: rep.policy.registryPublishedAt,
          registry_deprecated: rep.policy.registryDeprecated,
          cooldown_release: rep.policy.cooldownRelease,
          matched: (rep.policy.decision as { matched?: unknown } | null)?.matched ?? [],
          waived: (rep.policy.decision as { waived?: unknown } | null)?.waived ?? [],
          expired_waivers: (rep.policy.decision as { expiredWaivers?: unknown } | null)?.expiredWaivers ?? [],
        },
        security: {
          security_score: s.securityScore,
          scan_state: s.scanState,
          scan: rep.scan && {
            id: rep.scan.id,
            scanners: rep.scan.scanners,
            vulnerabilities: {
              critical: rep.scan.critical,
              high: rep.scan.high,
              medium: rep.scan.medium,
              low: rep.scan.low,
              info: rep.scan.info,
            },
            findings: rep.scan.findings,
            malware: rep.scan.malware,
            score: rep.scan.score,
            duration_ms: rep.scan.durationMs,
            scanned_at: rep.scan.createdAt,
          },
        },
        request_ids: requests.map((r) => r.id),
        requests: requests.map((r) => ({
          id: r.id,
          application_name: r.applicationName,
          application_version: r.applicationVersion,
          requestor: r.requestorUsername,
          link: r.link,
          created_at: r.createdAt,
        })),
        advisories: advisories.map((a) => ({
          id: a.id,
          aliases: a.aliases,
          summary: a.summary,
          severity: a.severity,
          malware: a.malware,
          affected_ranges: describeAffected(a.affected),
          fixed_versions: [...new Set(a.affected.flatMap((x) => x.fixedVersions))],
          url: a.references.find((r) => r.type === 'ADVISORY')?.url ?? a.references.find((r) => r.url)?.url ?? null,
          published: a.published,
          modified: a.modified,
        })),
        events: rep.events.map((e) => ({
          id: e.id,
          from: e.from,
          to: e.to,
          actor: e.actor,
          actor_kind: e.actorKind,
          reason: e.reason,
          attempt: e.attempt,
          details: e.details,
          at: e.at,
        })),
      };
    },
  );
};

export default packageReportRoutes;
