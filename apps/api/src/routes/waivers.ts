import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import semver from 'semver';
import {
  AppError,
  createWaiver,
  listWaivers,
  releaseCooldown,
  revokeWaiver,
  WAIVER_KINDS,
  type WaiverRow,
} from '@spm/db';
import {
  authErrors,
  emptyBodyAsObject,
  IdParam,
  MultilineText,
  PageInfo,
  pageInfo,
  pageOf,
  Pagination,
} from '../schemas/common.js';
import { WaiverSchema } from '../schemas/policy.js';

/** The longest a waiver may run: an exception without an end is not an exception. */
const MAX_WAIVER_DAYS = 366;
const NAME = '^(?:@[a-z0-9~][a-z0-9._~-]*/)?[a-z0-9~][a-z0-9._~-]*$';

function waiverJson(w: WaiverRow, now = Date.now()) {
  return {
    id: w.id,
    package_name: w.packageName,
    version_range: w.versionRange,
    kind: w.kind,
    subject: w.subject,
    reason: w.reason,
    owner: w.owner,
    expires_at: w.expiresAt,
    expired: w.expiresAt.getTime() <= now,
    created_by: w.createdBy,
    created_at: w.createdAt,
    revoked_at: w.revokedAt,
    revoked_by: w.revokedBy,
  };
}

const Reason = MultilineText({ minLength: 1, maxLength: 2000 });

/**
 * Policy exceptions an approver grants, under /api/approvals: waivers (one finding, signal kind or
 * licence, for a package name and version range, with a reason, an owner and an expiry) and the early
 * release of versions waiting in a cooldown. Each is audited and makes the workers evaluate the
 * packages still waiting again.
 */
const waiverRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.post(
    '/waivers',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'Waive one finding, signal kind or licence for a package name and version range, until it expires',
        description:
          'kind advisory: subject is an advisory id or alias; kind signal: a signal finding id (install-script) or kind ' +
          '(install_script); kind license: a licence expression. Applied when the policy evaluates; never to malware.',
        security,
        body: Type.Object(
          {
            package_name: Type.String({ minLength: 1, maxLength: 214, pattern: NAME }),
            version_range: Type.String({
              minLength: 1,
              maxLength: 200,
              description: 'A semver range; * for every version',
            }),
            kind: Type.Union(WAIVER_KINDS.map((k) => Type.Literal(k))),
            subject: Type.String({ minLength: 1, maxLength: 200 }),
            reason: Reason,
            owner: Type.String({ minLength: 1, maxLength: 200, description: 'Who answers for the exception' }),
            expires_at: Type.String({
              format: 'date-time',
              description: `In the future, at most ${MAX_WAIVER_DAYS} days`,
            }),
          },
          { additionalProperties: false },
        ),
        response: { 201: WaiverSchema, ...authErrors(400) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      if (semver.validRange(b.version_range) === null) {
        throw new AppError('ERR_INVALID_RANGE', `"${b.version_range}" is not a semver range (try "^1.2.0" or "*").`, {
          status: 400,
        });
      }
      const expiresAt = new Date(b.expires_at);
      const days = (expiresAt.getTime() - Date.now()) / 86_400_000;
      if (!(days > 0) || days > MAX_WAIVER_DAYS) {
        throw new AppError(
          'ERR_INVALID_EXPIRY',
          `expires_at must be in the future and at most ${MAX_WAIVER_DAYS} days away; renew a waiver when it ends.`,
          { status: 400 },
        );
      }
      const w = await createWaiver(app.db, {
        packageName: b.package_name,
        versionRange: b.version_range,
        kind: b.kind,
        subject: b.subject,
        reason: b.reason,
        owner: b.owner,
        expiresAt,
        userId: request.user.id,
        username: request.user.username,
        ip: request.ip,
      });
      return reply.code(201).send(waiverJson(w));
    },
  );

  app.get(
    '/waivers',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'Waivers, newest first',
        security,
        querystring: Type.Object({
          ...Pagination.properties,
          active: Type.Optional(Type.Boolean({ description: 'Only waivers neither revoked nor expired' })),
          package: Type.Optional(Type.String({ minLength: 1, maxLength: 214, description: 'Only this package name' })),
        }),
        response: { 200: Type.Object({ waivers: Type.Array(WaiverSchema), ...PageInfo }), ...authErrors() },
      },
    },
    async (request) => {
      const page = pageOf(request.query);
      const { total, waivers } = await listWaivers(app.db, {
        active: request.query.active,
        packageName: request.query.package,
        ...page,
      });
      return { waivers: waivers.map((w) => waiverJson(w)), ...pageInfo(total, page) };
    },
  );

  app.delete(
    '/waivers/:id',
    {
      config: { access: 'approver' },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ['approvals'],
        summary: 'Revoke a waiver (audited); packages still waiting are evaluated again without it',
        security,
        params: Type.Object({ id: IdParam }),
        body: Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }),
        response: { 200: WaiverSchema, ...authErrors(400, 404) },
      },
    },
    async (request) => {
      const w = await revokeWaiver(app.db, {
        id: request.params.id,
        userId: request.user.id,
        username: request.user.username,
        reason: request.body.reason ?? 'revoked',
        ip: request.ip,
      });
      if (!w) throw new AppError('ERR_WAIVER_NOT_FOUND', `There is no waiver ${request.params.id}.`, { status: 404 });
      return waiverJson(w);
    },
  );

  app.post(
    '/cooldown-release',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'Release versions waiting in the policy cooldown early, with a reason (audited)',
        description:
          'The policy then decides them at once, without the cooldown; packages not in a cooldown are skipped.',
        security,
        body: Type.Object(
          {
            package_ids: Type.Array(IdParam, { minItems: 1, maxItems: 500, uniqueItems: true }),
            reason: Reason,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            released: Type.Array(Type.Integer()),
            skipped: Type.Array(
              Type.Object({
                package_id: Type.Integer(),
                status: Type.Union([Type.String(), Type.Null()], {
                  description: 'Its status (not waiting in a cooldown); null: no such package',
                }),
              }),
            ),
          }),
          ...authErrors(400),
        },
      },
    },
    async (request) => {
      const r = await releaseCooldown(app.db, {
        packageIds: request.body.package_ids,
        reason: request.body.reason,
        userId: request.user.id,
        username: request.user.username,
        ip: request.ip,
      });
      return { released: r.released, skipped: r.skipped.map((s) => ({ package_id: s.packageId, status: s.status })) };
    },
  );
};

export default waiverRoutes;
