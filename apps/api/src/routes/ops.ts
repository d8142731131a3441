import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { AppError } from '@spm/db';
import { errors } from '../schemas/common.js';

const READY_TIMEOUT_MS = 2_000;

/** /health (the process is up), /ready (the database answers), /metrics (Prometheus). Unauthenticated. */
const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health',
    {
      config: { access: 'public' },
      schema: { tags: ['ops'], summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { access: 'public' },
      schema: {
        tags: ['ops'],
        summary: 'Readiness: the database answers',
        response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errors() },
      },
    },
    async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          sql`SELECT 1`.execute(app.db),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS);
          }),
        ]);
      } catch (err) {
        throw new AppError('ERR_DB_UNAVAILABLE', 'The database is not reachable.', { status: 503, cause: err });
      } finally {
        clearTimeout(timer);
      }
      return { status: 'ready' as const };
    },
  );

  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
        response: { 200: Type.String(), ...errors() },
      },
    },
    async (request, reply) => {
      try {
        await app.metrics.refreshQueueGauges();
      } catch (err) {
        // The HTTP metrics are still worth serving; the queue gauges keep their last values.
        request.log.warn({ err }, 'queue gauges not refreshed');
      }
      return reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
    },
  );
};

export default opsRoutes;
