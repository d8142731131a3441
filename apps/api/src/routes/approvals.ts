import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AppError,
  decidePackages,
  getPackageStatuses,
  listPendingApprovals,
  PENDING_SORTS,
  type Decision,
  type FourEyes,
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
  rule: Type.Optional(
    Type.Literal('ERR_FOUR_EYES', { description: 'Skipped by the four-eyes rule: only you requested this package' }),
  ),
});
const OverrideFourEyes = Type.Optional(
  Type.Boolean({
    description: 'Admins only: approve packages only you requested (four eyes), with a reason; audited',
  }),
);

function decisionJson(d: Decision) {
  return { package_id: d.packageId, outcome: d.outcome, status: d.status, ...(d.rule ? { rule: d.rule } : {}) };
}

const TOP_FINDINGS = 5;

/**
 * The four-eyes rule for one approval request: off when APPROVAL_FOUR_EYES=false; an override only for an
 * admin who asks for it with a reason of their own (403 ERR_FORBIDDEN / 400 ERR_REASON_REQUIRED otherwise).
 */
function fourEyesRule(
  enabled: boolean,
  request: { user: { role: string }; body: { reason?: string; override_four_eyes?: boolean } },
): FourEyes {
  if (request.body.override_four_eyes !== true) return enabled ? 'enforce' : 'off';
  if (request.user.role !== 'admin') {
    throw new AppError('ERR_FORBIDDEN', 'Only an admin may override the four-eyes rule.', { status: 403 });
  }
  if (!request.body.reason?.trim()) {
    throw new AppError('ERR_REASON_REQUIRED', 'Overriding the four-eyes rule needs a reason.', { status: 400 });
  }
  return enabled ? 'override' : 'off';
}

/** Approver and admin review under /api/approvals: pending list, approve or reject one, batch decisions. */
const approvalRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  const fourEyesFor = (request: Parameters<typeof fourEyesRule>[1]) =>
    fourEyesRule(app.config.approvalFourEyes, request);
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
      body: { reason?: string; override_four_eyes?: boolean };
      user: { id: number; username: string; role: string };
      ip: string;
    }) => {
      const id = request.params.packageId;
      const reason = request.body.reason ?? (decision === 'approve' ? 'approved' : undefined);
      if (!reason) throw new AppError('ERR_REASON_REQUIRED', 'A rejection needs a reason.', { status: 400 });
      const fourEyes = fourEyesFor(request);
      const statuses = await getPackageStatuses(app.db, [id]);
      if (!statuses.has(id)) throw new AppError('ERR_PACKAGE_NOT_FOUND', `No package with id ${id}.`, { status: 404 });
      const [d] = await decidePackages(app.db, {
        packageIds: [id],
        decision,
        userId: request.user.id,
        username: request.user.username,
        reason,
        ip: request.ip,
        fourEyes,
      });
      if (d?.rule === 'ERR_FOUR_EYES') {
        throw new AppError(
          'ERR_FOUR_EYES',
          `Four eyes: you are the only requestor of package ${id}, so another approver must approve it` +
            (request.user.role === 'admin' ? ' (or override with "override_four_eyes": true and a reason).' : '.'),
          { status: 403 },
        );
      }
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
            decision === 'approve'
              ? { reason: Type.Optional(Reason), override_four_eyes: OverrideFourEyes }
              : { reason: Reason },
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
            override_four_eyes: OverrideFourEyes,
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
      const fourEyes = fourEyesFor(request);
      const results = await decidePackages(app.db, {
        packageIds: package_ids,
        decision,
        userId: request.user.id,
        username: request.user.username,
        reason,
        ip: request.ip,
        fourEyes: decision === 'approve' ? fourEyes : 'off',
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
