import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError, listAudit } from '@spm/db';
import { authErrors, Nullable, PageInfo, pageInfo, pageOf, Pagination, Timestamp } from '../schemas/common.js';

/** GET /api/admin/audit: the audit log, newest first, filtered by action, actor and time range. */
const adminAuditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The audit log of human actions',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({
          action: Type.Optional(
            Type.String({ minLength: 1, maxLength: 100, description: 'Exact action, or a prefix such as package.*' }),
          ),
          actor: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Username of the actor' })),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          ...Pagination.properties,
        }),
        response: {
          200: Type.Object({
            entries: Type.Array(
              Type.Object({
                id: Type.Integer(),
                actor_id: Nullable(Type.Integer()),
                actor_username: Nullable(Type.String()),
                action: Type.String(),
                target_type: Nullable(Type.String()),
                target_id: Nullable(Type.String()),
                details: Type.Unknown(),
                ip: Nullable(Type.String()),
                created_at: Timestamp,
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
      const from = q.from === undefined ? undefined : new Date(q.from);
      const to = q.to === undefined ? undefined : new Date(q.to);
      if (from && to && from > to) throw new AppError('ERR_VALIDATION', '"from" is after "to".', { status: 400 });
      const { total, entries } = await listAudit(app.db, { action: q.action, actor: q.actor, from, to, ...page });
      return {
        entries: entries.map((e) => ({
          id: e.id,
          actor_id: e.actorId,
          actor_username: e.actorUsername,
          action: e.action,
          target_type: e.targetType,
          target_id: e.targetId,
          details: e.details,
          ip: e.ip,
          created_at: e.createdAt,
        })),
        ...pageInfo(total, page),
      };
    },
  );
};

export default adminAuditRoutes;
