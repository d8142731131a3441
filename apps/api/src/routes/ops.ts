import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { AppError } from '@spm/db';
import { errors } from '../schemas/common.js';

const READY_TIMEOUT_MS = 2_000;

/** True when the request carries `Authorization: Bearer <expected>` (compared in constant time). */
function hasBearer(request: FastifyRequest, expected: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!m) return false;
  const sent = Buffer.from(m[1]!);
  const want = Buffer.from(expected);
  return sent.length === want.length && timingSafeEqual(sent, want);
}

/**
 * /health (the process is up), /ready (the database answers): unauthenticated, for probes. /metrics
 * (Prometheus): open by default like most exporters on a private network; with METRICS_TOKEN set it needs
 * `Authorization: Bearer <METRICS_TOKEN>` (Prometheus: `authorization: { credentials_file: … }`), because
 * queue depths and worker counts tell an outsider how busy and how big the installation is.
 */
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

  const metricsToken = app.config.metricsToken;
  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      onRequest: async (request, reply) => {
        if (metricsToken === null || hasBearer(request, metricsToken)) return;
        void reply.header('www-authenticate', 'Bearer realm="metrics"');
        throw new AppError('ERR_UNAUTHORIZED', 'Metrics need "Authorization: Bearer <METRICS_TOKEN>".', {
          status: 401,
        });
      },
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics (text exposition format)',
        description: 'Open unless METRICS_TOKEN is set; then send `Authorization: Bearer <METRICS_TOKEN>`.',
        produces: ['text/plain'],
        response: { 200: Type.String(), ...errors(401) },
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
