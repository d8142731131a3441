import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createDb, type DB } from '@spm/db';
import { isRealInstant } from './input.js';
import type { ApiConfig } from './config.js';
import authPlugin from './plugins/auth.js';
import dbPlugin from './plugins/db.js';
import errorsPlugin from './plugins/errors.js';
import inputPlugin from './plugins/input.js';
import metricsPlugin from './plugins/metrics.js';
import webPlugin from './plugins/web.js';
import adminAuditRoutes from './routes/admin-audit.js';
import adminPolicyRoutes from './routes/admin-policy.js';
import adminWebhookRoutes from './routes/admin-webhooks.js';
import adminLicenseRoutes from './routes/admin-licenses.js';
import adminUserRoutes from './routes/admin-users.js';
import apiTokenRoutes from './routes/api-tokens.js';
import approvalRoutes from './routes/approvals.js';
import authRoutes from './routes/auth.js';
import opsRoutes from './routes/ops.js';
import impactRoutes from './routes/impact.js';
import packageReportRoutes from './routes/package-report.js';
import processingRoutes from './routes/processing.js';
import quarantineRoutes from './routes/quarantine.js';
import registryRoutes from './routes/registry.js';
import requestRoutes from './routes/requests.js';
import sbomRoutes from './routes/sbom.js';
import uploadRoutes from './routes/upload.js';
import waiverRoutes from './routes/waivers.js';
import './types.js';

export type { ApiConfig } from './config.js';
export { loadConfig } from './config.js';

export interface AppDeps {
  /** A database to use (tests pass their own); otherwise one is created from config and closed with the app. */
  db?: DB;
  /** Logger options; default from config (pino, JSON or pretty). `false` silences it. */
  logger?: FastifyServerOptions['logger'];
}

/** pino options: secrets never reach the log. */
export function loggerOptions(config: Readonly<ApiConfig>): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'password', '*.password', 'token', '*.token'],
      censor: '[redacted]',
    },
    ...(config.logFormat === 'pretty'
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  };
}

/**
 * Builds the API: plugins, routes, OpenAPI at /docs, the web app on /. Returns it ready (every plugin loaded), not listening.
 */
export async function buildApp(config: Readonly<ApiConfig>, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? loggerOptions(config),
    bodyLimit: 1024 * 1024,
    trustProxy: config.trustProxy,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
      // ajv-formats accepts a leap second (23:59:60), which no Date can hold: a date-time must be a real instant.
      onCreate: (ajv) => ajv.addFormat('date-time', { type: 'string', validate: isRealInstant }),
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const ownsDb = deps.db === undefined;
  const db =
    deps.db ??
    createDb({
      connectionString: config.databaseUrl,
      applicationName: 'spm-api',
      onPoolError: (err) => app.log.warn({ err }, 'idle database connection failed'),
    }).db;

  await app.register(dbPlugin, { db, config, ownsDb });
  await app.register(errorsPlugin);
  await app.register(inputPlugin);
  await app.register(metricsPlugin);
  await app.register(rateLimit, { global: false });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Secure Package Manager API',
        description: 'Submit npm lockfiles for vetting, follow the pipeline, approve packages, manage policy.',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'A session token from POST /api/auth/login, or an API token (spm_…) within its scopes',
          },
        },
      },
      tags: [{ name: 'auth' }, { name: 'packages' }, { name: 'approvals' }, { name: 'admin' }, { name: 'ops' }],
    },
  });
  // DOCS_PUBLIC=false: the API description (every route, parameter and error code) only for signed-in callers
  // (a session, the web app's cookie, or an API token with read scope).
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    ...(config.docsPublic
      ? {}
      : {
          uiHooks: {
            onRequest: async (request: FastifyRequest) => {
              await app.authenticate(request, 'read');
            },
          },
        }),
  });
  await app.register(authPlugin);

  await app.register(opsRoutes);
  await app.register(authRoutes, { prefix: '/api/auth' });
  await app.register(apiTokenRoutes, { prefix: '/api/auth/tokens' });
  await app.register(uploadRoutes, { prefix: '/api/packages' });
  await app.register(requestRoutes, { prefix: '/api/packages' });
  await app.register(sbomRoutes, { prefix: '/api/packages' });
  await app.register(packageReportRoutes, { prefix: '/api/packages' });
  await app.register(processingRoutes, { prefix: '/api/packages' });
  await app.register(approvalRoutes, { prefix: '/api/approvals' });
  await app.register(adminUserRoutes, { prefix: '/api/admin/users' });
  await app.register(adminLicenseRoutes, { prefix: '/api/admin/licenses' });
  await app.register(adminAuditRoutes, { prefix: '/api/admin/audit' });
  await app.register(adminPolicyRoutes, { prefix: '/api/admin/policy' });
  await app.register(waiverRoutes, { prefix: '/api/approvals' });
  await app.register(quarantineRoutes, { prefix: '/api/approvals' });
  await app.register(impactRoutes, { prefix: '/api/impact' });
  await app.register(adminWebhookRoutes, { prefix: '/api/admin/webhooks' });
  await app.register(registryRoutes, {
    prefix: '/registry',
    config,
    db,
    authenticate: (request: FastifyRequest) => app.authenticate(request, 'registry'),
  });
  await app.register(webPlugin, { root: config.webRoot });

  await app.ready();
  return app;
}
