import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AppError,
  createPolicyVersion,
  currentPolicy,
  dryRunPolicy,
  getPolicyVersion,
  listPolicyVersions,
  policyProblems,
  type DryRunResult,
  type PolicyDocument,
  type PolicyVersion,
} from '@spm/db';
import {
  authErrors,
  MultilineText,
  Nullable,
  PageInfo,
  pageInfo,
  pageOf,
  Pagination,
  Timestamp,
} from '../schemas/common.js';
import { PolicyDocumentSchema, PolicyVersionSchema } from '../schemas/policy.js';

/** How many changes a dry-run (and a policy change's report) lists at most. */
const LIST_LIMIT = 500;

function versionJson(v: PolicyVersion) {
  return {
    version: v.version,
    document: v.document,
    comment: v.comment,
    created_by: v.createdBy,
    created_at: v.createdAt,
  };
}

/** 400 ERR_POLICY_INVALID naming every problem (duplicate rule ids, ranges and globs that cannot match). */
function validDocument(doc: PolicyDocument): PolicyDocument {
  const problems = policyProblems(doc);
  if (problems.length) {
    throw new AppError('ERR_POLICY_INVALID', `The policy has ${problems.length} problem(s): ${problems.join('; ')}`, {
      status: 400,
      details: { problems },
    });
  }
  return doc;
}

const DryRunSchema = Type.Object({
  evaluated: Type.Integer({ description: 'Packages evaluated: those waiting for a decision and those let through' }),
  outcomes: Type.Object(
    {
      approve: Type.Integer(),
      warn: Type.Integer(),
      hold: Type.Integer(),
      reject: Type.Integer(),
      wait: Type.Integer(),
    },
    { description: 'What the draft does with the packages waiting for a decision' },
  ),
  changed: Type.Integer({ description: 'Packages waiting for a decision whose status the draft changes' }),
  would_reject_let_through: Type.Integer({
    description: 'Approved or Published packages the draft would reject (reported; never changed silently)',
  }),
  items: Type.Array(
    Type.Object({
      package_id: Type.Integer(),
      name: Type.String(),
      version: Type.String(),
      status: Type.String(),
      would_be: Type.String({ description: 'The status enforcement gives it (unchanged for a package let through)' }),
      current: Type.Object({
        version: Nullable(Type.Integer()),
        outcome: Nullable(Type.String()),
        rule: Nullable(Type.String()),
      }),
      draft: Type.Object({
        outcome: Type.String(),
        rule: Nullable(Type.String()),
        reason: Type.String(),
        until: Nullable(Type.String()),
      }),
    }),
  ),
  truncated: Type.Boolean({ description: `More than ${LIST_LIMIT} items; the counts are complete` }),
});

function dryRunJson(r: DryRunResult) {
  return {
    evaluated: r.evaluated,
    outcomes: r.outcomes,
    changed: r.changed,
    would_reject_let_through: r.wouldRejectLetThrough,
    items: r.items.map((i) => ({
      package_id: i.packageId,
      name: i.name,
      version: i.version,
      status: i.status,
      would_be: i.wouldBe,
      current: i.current,
      draft: i.draft,
    })),
    truncated: r.truncated,
  };
}

/**
 * The approval policy under /api/admin/policy (admin): the version in force, every earlier version,
 * a change (a new version, audited; pending packages are evaluated again by the workers), and a
 * dry-run of a draft against the packages in the database (writes nothing).
 */
const adminPolicyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  const DraftBody = Type.Object(
    {
      document: PolicyDocumentSchema,
      comment: Type.Optional(MultilineText({ maxLength: 2000, description: 'Why the policy changes (audited)' })),
    },
    { additionalProperties: false },
  );

  app.get(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The approval policy in force (its latest version)',
        security,
        response: { 200: PolicyVersionSchema, ...authErrors() },
      },
    },
    async () => versionJson(await currentPolicy(app.db)),
  );

  app.put(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change the approval policy: writes a new version (earlier ones stay readable)',
        description:
          'Packages still waiting (Pending Approval, cooldown) are evaluated again by the workers under the new version. ' +
          'Approved and Published packages are never changed; those the new version would reject are reported.',
        security,
        body: DraftBody,
        response: {
          200: Type.Object({
            ...PolicyVersionSchema.properties,
            would_reject_let_through: Type.Integer({
              description: 'Approved or Published packages this version would reject (not changed)',
            }),
            let_through_rejections: DryRunSchema.properties.items,
          }),
          ...authErrors(400),
        },
      },
    },
    async (request) => {
      const document = validDocument(request.body.document as PolicyDocument);
      const v = await createPolicyVersion(app.db, {
        document,
        comment: request.body.comment ?? null,
        userId: request.user.id,
        username: request.user.username,
        ip: request.ip,
      });
      const report = dryRunJson(
        await dryRunPolicy(app.db, { document, version: v.version, now: new Date(), limit: LIST_LIMIT }),
      );
      request.log.info(
        { policyVersion: v.version, wouldRejectLetThrough: report.would_reject_let_through },
        'policy changed',
      );
      return {
        ...versionJson(v),
        would_reject_let_through: report.would_reject_let_through,
        let_through_rejections: report.items.filter((i) => i.status === i.would_be),
      };
    },
  );

  app.get(
    '/versions',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Every version of the approval policy, newest first',
        security,
        querystring: Pagination,
        response: {
          200: Type.Object({ versions: Type.Array(PolicyVersionSchema), ...PageInfo }),
          ...authErrors(),
        },
      },
    },
    async (request) => {
      const page = pageOf(request.query);
      const { total, versions } = await listPolicyVersions(app.db, page);
      return { versions: versions.map(versionJson), ...pageInfo(total, page) };
    },
  );

  app.get(
    '/versions/:version',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'One version of the approval policy',
        security,
        params: Type.Object({ version: Type.Integer({ minimum: 1, maximum: 2147483647 }) }),
        response: { 200: PolicyVersionSchema, ...authErrors(404) },
      },
    },
    async (request) => {
      const v = await getPolicyVersion(app.db, request.params.version);
      if (!v) {
        throw new AppError('ERR_POLICY_VERSION_NOT_FOUND', `There is no policy version ${request.params.version}.`, {
          status: 404,
        });
      }
      return versionJson(v);
    },
  );

  app.post(
    '/dry-run',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Evaluate a draft policy against the packages in the database; writes nothing',
        description:
          'Counts what the draft does with every package waiting for a decision and lists those whose status it would change, ' +
          'plus Approved or Published packages it would reject. Uses the same evaluation as the worker.',
        security,
        body: DraftBody,
        response: { 200: Type.Object({ ...DryRunSchema.properties, evaluated_at: Timestamp }), ...authErrors(400) },
      },
    },
    async (request) => {
      const document = validDocument(request.body.document as PolicyDocument);
      const now = new Date();
      const current = await currentPolicy(app.db);
      const r = await dryRunPolicy(app.db, { document, version: current.version + 1, now, limit: LIST_LIMIT });
      return { ...dryRunJson(r), evaluated_at: now };
    },
  );
};

export default adminPolicyRoutes;
