import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import {
  AppError,
  getPackageReport,
  getRequest,
  getRequestProcessing,
  isPackageInUserRequests,
  listRequestPackages,
  listRequests,
  progressPercent,
  SETTLED_STATUSES,
  STAGES,
  type RequestSummary,
} from '@spm/db';
import { hasRole } from '../plugins/auth.js';
import { authErrors, IdParam, Nullable, PageInfo, pageInfo, pageOf, Pagination, Timestamp } from '../schemas/common.js';
import { LicenseInfo, Rejection, ScanSummarySchema, scanSummaryJson } from '../schemas/packages.js';

const RequestSchema = Type.Object({
  id: Type.Integer(),
  application_name: Type.String(),
  application_version: Type.String(),
  requestor_id: Nullable(Type.Integer()),
  requestor: Nullable(Type.String()),
  lockfile_version: Type.Integer(),
  package_count: Type.Integer(),
  new_packages: Type.Integer(),
  existing_packages: Type.Integer(),
  status_counts: Type.Record(Type.String(), Type.Integer()),
  created_at: Timestamp,
});

function requestJson(r: RequestSummary) {
  return {
    id: r.id,
    application_name: r.applicationName,
    application_version: r.applicationVersion,
    requestor_id: r.requestorId,
    requestor: r.requestorUsername,
    lockfile_version: r.lockfileVersion,
    package_count: r.packageCount,
    new_packages: r.newCount,
    existing_packages: r.existingCount,
    status_counts: r.statusCounts,
    created_at: r.createdAt,
  };
}

/** Plain users see their own requests only; someone else's request is reported as not found. */
async function visibleRequest(request: FastifyRequest, id: number): Promise<RequestSummary> {
  const r = await getRequest(request.server.db, id);
  if (!r || (!hasRole(request.user.role, 'approver') && r.requestorId !== request.user.id)) {
    throw new AppError('ERR_REQUEST_NOT_FOUND', `No request with id ${id}.`, { status: 404 });
  }
  return r;
}

/** Request listing and detail, per-request processing status, and the package report, under /api/packages. */
const requestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/requests',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: 'Submitted requests, newest first (users see their own; approvers and admins see all)',
        security,
        querystring: Pagination,
        response: { 200: Type.Object({ requests: Type.Array(RequestSchema), ...PageInfo }), ...authErrors() },
      },
    },
    async (request) => {
      const page = pageOf(request.query);
      const own = hasRole(request.user.role, 'approver') ? undefined : request.user.id;
      const { total, requests } = await listRequests(app.db, { requestorId: own, ...page });
      return { requests: requests.map(requestJson), ...pageInfo(total, page) };
    },
  );

  app.get(
    '/requests/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: 'One request with every package, its state, licence verdict and scan summary',
        security,
        params: Type.Object({ id: IdParam }),
        response: {
          200: Type.Object({
            request: RequestSchema,
            packages: Type.Array(
              Type.Object({
                package_id: Type.Integer(),
                name: Type.String(),
                version: Type.String(),
                integrity: Nullable(Type.String()),
                link: Type.Union([Type.Literal('new'), Type.Literal('existing')]),
                dev: Type.Boolean(),
                optional: Type.Boolean(),
                status: Type.String(),
                progress_percent: Type.Integer(),
                attempts: Type.Integer(),
                ...LicenseInfo,
                security_score: Nullable(Type.Integer()),
                scan_state: Nullable(Type.String()),
                scan: Nullable(ScanSummarySchema),
                last_error: Nullable(Type.String()),
                rejection: Rejection,
                published_at: Nullable(Timestamp),
                updated_at: Timestamp,
              }),
            ),
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const r = await visibleRequest(request, request.params.id);
      const pkgs = await listRequestPackages(app.db, r.id);
      return {
        request: requestJson(r),
        packages: pkgs.map((p) => ({
          package_id: p.packageId,
          name: p.name,
          version: p.version,
          integrity: p.integrity,
          link: p.link,
          dev: p.dev,
          optional: p.optional,
          status: p.status,
          progress_percent: progressPercent(p.status),
          attempts: p.attempts,
          declared_license: p.declaredLicense,
          license_expression: p.licenseExpression,
          license_tier: p.licenseTier,
          license_score: p.licenseScore,
          license_flags: p.licenseFlags,
          security_score: p.securityScore,
          scan_state: p.scanState,
          scan: scanSummaryJson(p.scan),
          last_error: p.lastError,
          rejection: p.rejectionKind || p.rejectionReason ? { kind: p.rejectionKind, reason: p.rejectionReason } : null,
          published_at: p.publishedAt,
          updated_at: p.updatedAt,
        })),
      };
    },
  );

  app.get(
    '/requests/:id/processing-status',
    {
      config: { access: 'user' },
      schema: {
        tags: ['packages'],
        summary: 'Where each package of a request is: status, progress, time per stage, errors; done when all settled',
        description:
          '`done` is true when every package is Published, Rejected or Pending Approval (nothing more happens without a person).',
        security,
        params: Type.Object({ id: IdParam }),
        response: {
          200: Type.Object({
            request_id: Type.Integer(),
            done: Type.Boolean(),
            progress_percent: Type.Integer(),
            summary: Type.Object({
              total: Type.Integer(),
              by_status: Type.Record(Type.String(), Type.Integer()),
              settled: Type.Integer(),
              in_progress: Type.Integer(),
              pending_approval: Type.Integer(),
              published: Type.Integer(),
              rejected: Type.Integer(),
              with_errors: Type.Integer(),
            }),
            packages: Type.Array(
              Type.Object({
                package_id: Type.Integer(),
                name: Type.String(),
                version: Type.String(),
                status: Type.String(),
                progress_percent: Type.Integer(),
                attempts: Type.Integer(),
                next_attempt_at: Nullable(Timestamp),
                last_error: Nullable(Type.String()),
                rejection: Rejection,
                stage_seconds: Type.Record(Type.String(), Type.Number(), {
                  description: 'Seconds spent working in each stage (licence, download, scan, publish)',
                }),
                status_seconds: Type.Record(Type.String(), Type.Number(), {
                  description: 'Seconds spent in each status',
                }),
                elapsed_seconds: Type.Number(),
                updated_at: Timestamp,
              }),
            ),
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const r = await visibleRequest(request, request.params.id);
      const pkgs = await getRequestProcessing(app.db, r.id);
      const byStatus: Record<string, number> = {};
      let settled = 0;
      let withErrors = 0;
      let progress = 0;
      const now = Date.now();
      const packages = pkgs.map((p) => {
        byStatus[p.status] = (byStatus[p.status] ?? 0) + 1;
        if (SETTLED_STATUSES.includes(p.status)) settled++;
        if (p.lastError) withErrors++;
        const pct = progressPercent(p.status);
        progress += pct;
        const stageSeconds: Record<string, number> = {};
        for (const s of STAGES) {
          const secs = p.secondsByStatus[s.work];
          if (secs !== undefined) stageSeconds[s.name] = secs;
        }
        return {
          package_id: p.packageId,
          name: p.name,
          version: p.version,
          status: p.status,
          progress_percent: pct,
          attempts: p.attempts,
          next_attempt_at: p.runAt.getTime() > now && !SETTLED_STATUSES.includes(p.status) ? p.runAt : null,
          last_error: p.lastError,
          rejection: p.rejectionKind || p.rejectionReason ? { kind: p.rejectionKind, reason: p.rejectionReason } : null,
          stage_seconds: stageSeconds,
          status_seconds: p.secondsByStatus,
          elapsed_seconds: p.elapsedSeconds,
          updated_at: p.updatedAt,
        };
      });
      const total = pkgs.length;
      return {
        request_id: r.id,
        done: settled === total,
        progress_percent: total === 0 ? 100 : Math.floor(progress / total),
        summary: {
          total,
          by_status: byStatus,
          settled,
          in_progress: total - settled,
          pending_approval: byStatus['Pending Approval'] ?? 0,
          published: byStatus.Published ?? 0,
          rejected: byStatus.Rejected ?? 0,
          with_errors: withErrors,
        },
        packages,
      };
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
            request_ids: Type.Array(Type.Integer()),
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
      if (!hasRole(request.user.role, 'approver') && !(await isPackageInUserRequests(app.db, id, request.user.id)))
        throw notFound();
      const rep = await getPackageReport(app.db, id);
      if (!rep) throw notFound();
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
        request_ids: rep.requestIds,
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

export default requestRoutes;
