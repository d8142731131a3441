import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError, listQuarantined, rejectQuarantined, releaseQuarantine } from '@spm/db';
import { authErrors, IdParam, MultilineText, Nullable, Pagination, pageOf } from '../schemas/common.js';

/** The longest a release may run, as for any waiver: an exception without an end is not an exception. */
const MAX_RELEASE_DAYS = 366;
const Reason = MultilineText({ minLength: 1, maxLength: 2000 });
const AdvisoryRef = Type.Object({ id: Type.String(), summary: Nullable(Type.String()) });

/**
 * Versions quarantined because an advisory arrived after their approval (/api/approvals/quarantine):
 * the list, release (a waiver with a reason, owner and expiry, per quarantining advisory) and reject for
 * good. Both decisions are audited.
 */
const quarantineRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/quarantine',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'Versions in quarantine now, with the advisories that hold them',
        security,
        querystring: Pagination,
        response: {
          200: Type.Object({
            packages: Type.Array(
              Type.Object({
                package_id: Type.Integer(),
                name: Type.String(),
                version: Type.String(),
                status: Type.String(),
                advisories: Type.Array(AdvisoryRef),
              }),
            ),
          }),
          ...authErrors(),
        },
      },
    },
    async (request) => {
      const rows = await listQuarantined(app.db, pageOf(request.query));
      return {
        packages: rows.map((r) => ({
          package_id: r.packageId,
          name: r.name,
          version: r.version,
          status: r.status,
          advisories: r.advisories,
        })),
      };
    },
  );

  app.post(
    '/quarantine/:id/release',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'Release a quarantined version until a date: a waiver per advisory, with a reason (audited)',
        description:
          'The built-in registry serves the version again and the worker clears its deprecation on the target ' +
          'registry; when the waiver expires or is revoked the quarantine is back. advisory_id: only that advisory.',
        security,
        params: Type.Object({ id: IdParam }),
        body: Type.Object(
          {
            reason: Reason,
            owner: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Default: you' })),
            expires_at: Type.String({ format: 'date-time', description: `At most ${MAX_RELEASE_DAYS} days away` }),
            advisory_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ waiver_ids: Type.Array(Type.Integer()), advisories: Type.Array(Type.String()) }),
          ...authErrors(404),
        },
      },
    },
    async (request) => {
      const b = request.body;
      const expiresAt = new Date(b.expires_at);
      const days = (expiresAt.getTime() - Date.now()) / 86_400_000;
      if (!(days > 0) || days > MAX_RELEASE_DAYS)
        throw new AppError(
          'ERR_INVALID_EXPIRY',
          `expires_at must be in the future and at most ${MAX_RELEASE_DAYS} days away; release again when it ends.`,
          { status: 400 },
        );
      const r = await releaseQuarantine(app.db, {
        packageId: request.params.id,
        advisoryId: b.advisory_id,
        reason: b.reason,
        owner: b.owner ?? request.user.username,
        expiresAt,
        userId: request.user.id,
        username: request.user.username,
        ip: request.ip,
      });
      return { waiver_ids: r.waiverIds, advisories: r.advisories };
    },
  );

  app.post(
    '/quarantine/:id/reject',
    {
      config: { access: 'approver' },
      schema: {
        tags: ['approvals'],
        summary: 'Reject a quarantined version for good (audited); retry never undoes it',
        security,
        params: Type.Object({ id: IdParam }),
        body: Type.Object({ reason: Reason }, { additionalProperties: false }),
        response: { 200: Type.Object({ advisories: Type.Array(Type.String()) }), ...authErrors(404, 409) },
      },
    },
    async (request) => {
      return rejectQuarantined(app.db, {
        packageId: request.params.id,
        reason: request.body.reason,
        userId: request.user.id,
        username: request.user.username,
        ip: request.ip,
      });
    },
  );
};

export default quarantineRoutes;
