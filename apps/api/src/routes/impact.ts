import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError, advisoryImpact, packageImpact, type FindingView, type Impact } from '@spm/db';
import { authErrors, IdParam, Nullable, Timestamp } from '../schemas/common.js';

const Finding = Type.Object({
  package_id: Type.Integer(),
  name: Type.String(),
  version: Type.String(),
  status: Type.String(),
  advisory_id: Type.String(),
  summary: Nullable(Type.String()),
  severity: Nullable(Type.String()),
  malware: Type.Boolean(),
  action: Type.Union([Type.Literal('flag'), Type.Literal('quarantine')]),
  quarantining: Type.Boolean({ description: 'This finding holds the version in quarantine now' }),
  first_matched_at: Timestamp,
  resolved_at: Nullable(Timestamp),
  resolved_reason: Nullable(Type.String()),
  release_waiver_id: Nullable(Type.Integer()),
  release_expires_at: Nullable(Timestamp),
});

const ImpactSchema = {
  requests: Type.Array(
    Type.Object({
      id: Type.Integer(),
      application_name: Type.String(),
      application_version: Type.String(),
      requestor: Nullable(Type.String()),
      created_at: Timestamp,
      package_ids: Type.Array(Type.Integer(), { description: 'The affected packages this request includes' }),
    }),
  ),
  truncated: Type.Boolean({ description: 'More than 1,000 requests: the newest are listed' }),
  applications: Type.Array(Type.Object({ name: Type.String(), version: Type.String() })),
  requestors: Type.Array(Nullable(Type.String())),
};

function findingJson(f: FindingView) {
  return {
    package_id: f.packageId,
    name: f.name,
    version: f.version,
    status: f.status,
    advisory_id: f.advisoryId,
    summary: f.summary,
    severity: f.severity,
    malware: f.malware,
    action: f.action,
    quarantining: f.quarantining,
    first_matched_at: f.firstMatchedAt,
    resolved_at: f.resolvedAt,
    resolved_reason: f.resolvedReason,
    release_waiver_id: f.releaseWaiverId,
    release_expires_at: f.releaseExpiresAt,
  };
}

function impactJson(i: Impact) {
  return {
    requests: i.requests.map((r) => ({
      id: r.id,
      application_name: r.applicationName,
      application_version: r.applicationVersion,
      requestor: r.requestor,
      created_at: r.createdAt,
      package_ids: r.packageIds,
    })),
    truncated: i.truncated,
    applications: i.applications,
    requestors: i.requestors,
  };
}

/**
 * Impact of advisories that arrived after approval (/api/impact): for a package version or an advisory,
 * its findings and which requests, applications and requestors include the affected versions.
 * Approvers and admins: the answer spans every user's requests.
 */
const impactRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/packages/:id',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: "A package version's advisory findings after approval, and the requests that include it",
        security,
        params: Type.Object({ id: IdParam }),
        response: {
          200: Type.Object({
            package: Type.Object({
              id: Type.Integer(),
              name: Type.String(),
              version: Type.String(),
              status: Type.String(),
              quarantined_by: Nullable(
                Type.Array(Type.Object({ id: Type.String(), summary: Nullable(Type.String()) })),
              ),
            }),
            findings: Type.Array(Finding),
            ...ImpactSchema,
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const r = await packageImpact(app.db, request.params.id);
      if (!r) throw new AppError('ERR_PACKAGE_NOT_FOUND', `There is no package ${request.params.id}.`, { status: 404 });
      return {
        package: { ...r.package, quarantined_by: r.package.quarantinedBy },
        findings: r.findings.map(findingJson),
        ...impactJson(r.impact),
      };
    },
  );

  app.get(
    '/advisories/:id',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'The versions an advisory (id or alias) matched after approval, and the requests that include them',
        security,
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$' }) }),
        response: {
          200: Type.Object({
            advisory: Type.Object({
              id: Type.String(),
              aliases: Type.Array(Type.String()),
              summary: Nullable(Type.String()),
              severity: Nullable(Type.String()),
              malware: Type.Boolean(),
              withdrawn: Nullable(Timestamp),
            }),
            findings: Type.Array(Finding),
            ...ImpactSchema,
          }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const r = await advisoryImpact(app.db, request.params.id);
      if (!r)
        throw new AppError('ERR_ADVISORY_NOT_FOUND', `There is no advisory ${request.params.id}.`, { status: 404 });
      return { advisory: r.advisory, findings: r.findings.map(findingJson), ...impactJson(r.impact) };
    },
  );
};

export default impactRoutes;
