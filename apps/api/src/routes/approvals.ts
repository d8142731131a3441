import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AppError,
  decidePackages,
  getPackageStatuses,
  listPendingApprovals,
  PENDING_SORTS,
  type Decision,
} from '@spm/db';
import { revalidateGets } from '../plugins/revalidate.js';
import {
  authErrors,
  emptyBodyAsObject,
  IdParam,
  MultilineText,
  Nullable,
  PageInfo,
  pageInfo,
  pageOf,
  Pagination,
  SearchText,
  Timestamp,
} from '../schemas/common.js';
import { LicenseTierFilter, MinSeverity } from '../schemas/requests.js';
import { LicenseInfo, topFindings, Vulnerabilities } from '../schemas/packages.js';

const Reason = MultilineText({ minLength: 1, maxLength: 2000 });
const DecisionSchema = Type.Object({
  package_id: Type.Integer(),
  outcome: Type.Union([Type.Literal('approved'), Type.Literal('rejected'), Type.Literal('skipped')]),
  status: Type.String({ description: 'The status after the decision (or the current one when skipped)' }),
});

function decisionJson(d: Decision) {
  return { package_id: d.packageId, outcome: d.outcome, status: d.status };
}

const TOP_FINDINGS = 5;

/** Approver and admin review under /api/approvals: pending list, approve or reject one, batch decisions. */
const approvalRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  await revalidateGets(app);

  app.get(
    '/pending',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'Packages waiting for a decision, with licence verdict and scan summary; filters and a risk order',
        description:
          '`sort=risk` puts malware first, then the lowest security score, licences that need a look (unknown, ' +
          'avoid) and the most findings; `oldest` (the default) those waiting longest; `name` alphabetical.',
        security,
        querystring: Type.Object({
          ...Pagination.properties,
          sort: Type.Optional(Type.Union(PENDING_SORTS.map((s) => Type.Literal(s)))),
          q: Type.Optional(SearchText),
          license_tier: Type.Optional(Type.Array(LicenseTierFilter, { maxItems: 5, description: 'Repeatable' })),
          severity: Type.Optional(MinSeverity),
          request_id: Type.Optional(IdParam),
        }),
        response: {
          200: Type.Object({
            packages: Type.Array(
              Type.Object({
                package_id: Type.Integer(),
                name: Type.String(),
                version: Type.String(),
                ...LicenseInfo,
                security_score: Nullable(Type.Integer()),
                scan_state: Nullable(Type.String()),
                scan: Nullable(
                  Type.Object({
                    vulnerabilities: Vulnerabilities,
                    malware: Type.Boolean(),
                    score: Type.Integer(),
                    scanners: Type.Unknown(),
                    findings_count: Type.Integer(),
                    top_findings: Type.Array(Type.Unknown()),
                    scanned_at: Timestamp,
                  }),
                ),
                request_ids: Type.Array(Type.Integer()),
                requested_by: Type.Array(Type.String()),
                waiting_since: Timestamp,
              }),
            ),
            ...PageInfo,
          }),
          ...authErrors(),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const page = pageOf(q);
      const { total, packages } = await listPendingApprovals(app.db, {
        sort: q.sort ?? 'oldest',
        q: q.q,
        licenseTiers: q.license_tier,
        minSeverity: q.severity,
        requestId: q.request_id,
        ...page,
      });
      return {
        packages: packages.map((p) => ({
          package_id: p.packageId,
          name: p.name,
          version: p.version,
          declared_license: p.declaredLicense,
          license_expression: p.licenseExpression,
          license_tier: p.licenseTier,
          license_score: p.licenseScore,
          license_flags: p.licenseFlags,
          security_score: p.securityScore,
          scan_state: p.scanState,
          scan: p.scan && {
            vulnerabilities: {
              critical: p.scan.critical,
              high: p.scan.high,
              medium: p.scan.medium,
              low: p.scan.low,
              info: p.scan.info,
            },
            malware: p.scan.malware,
            score: p.scan.score,
            scanners: p.scan.scanners,
            findings_count: Array.isArray(p.scan.findings) ? p.scan.findings.length : 0,
            top_findings: topFindings(p.scan.findings, TOP_FINDINGS),
            scanned_at: p.scan.scannedAt,
          },
          request_ids: p.requestIds,
          requested_by: p.requestedBy,
          waiting_since: p.waitingSince,
        })),
        ...pageInfo(total, page),
      };
    },
  );

  const decideOne =
    (decision: 'approve' | 'reject') =>
    async (request: {
      params: { packageId: number };
      body: { reason?: string };
      user: { id: number; username: string };
      ip: string;
    }) => {
      const id = request.params.packageId;
      const reason = request.body.reason ?? (decision === 'approve' ? 'approved' : undefined);
      if (!reason) throw new AppError('ERR_REASON_REQUIRED', 'A rejection needs a reason.', { status: 400 });
      const statuses = await getPackageStatuses(app.db, [id]);
      if (!statuses.has(id)) throw new AppError('ERR_PACKAGE_NOT_FOUND', `No package with id ${id}.`, { status: 404 });
      const [d] = await decidePackages(app.db, {
        packageIds: [id],
        decision,
        userId: request.user.id,
        username: request.user.username,
        reason,
        ip: request.ip,
      });
      if (!d || d.outcome === 'skipped') {
        throw new AppError(
          'ERR_NOT_PENDING',
          `Package ${id} is not waiting for approval (it is ${d?.status ?? 'unknown'}).`,
          {
            status: 409,
            details: { status: d?.status ?? null },
          },
        );
      }
      return decisionJson(d);
    };

  for (const decision of ['approve', 'reject'] as const) {
    app.post(
      `/:packageId/${decision}`,
      {
        config: { access: 'approver' },
        preValidation: emptyBodyAsObject,
        schema: {
          tags: ['approvals'],
          summary:
            decision === 'approve'
              ? 'Approve a pending package (it is then published)'
              : 'Reject a pending package (reason required)',
          security,
          params: Type.Object({ packageId: IdParam }),
          body: Type.Object(
            { reason: decision === 'approve' ? Type.Optional(Reason) : Reason },
            { additionalProperties: false },
          ),
          response: { 200: DecisionSchema, ...authErrors(404, 409) },
        },
      },
      (request) => decideOne(decision)(request),
    );
  }

  app.post(
    '/batch',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'Approve or reject many pending packages with one reason',
        security,
        body: Type.Object(
          {
            package_ids: Type.Array(IdParam, { minItems: 1, maxItems: 1000 }),
            decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]),
            reason: Type.Optional(Reason),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            results: Type.Array(DecisionSchema),
            approved: Type.Integer(),
            rejected: Type.Integer(),
            skipped: Type.Integer(),
          }),
          ...authErrors(),
        },
      },
    },
    async (request) => {
      const { package_ids, decision } = request.body;
      const reason = request.body.reason ?? (decision === 'approve' ? 'approved' : undefined);
      if (!reason) throw new AppError('ERR_REASON_REQUIRED', 'A rejection needs a reason.', { status: 400 });
      const results = await decidePackages(app.db, {
        packageIds: package_ids,
        decision,
        userId: request.user.id,
        username: request.user.username,
        reason,
        ip: request.ip,
      });
      return {
        results: results.map(decisionJson),
        approved: results.filter((r) => r.outcome === 'approved').length,
        rejected: results.filter((r) => r.outcome === 'rejected').length,
        skipped: results.filter((r) => r.outcome === 'skipped').length,
      };
    },
  );
};

export default approvalRoutes;
