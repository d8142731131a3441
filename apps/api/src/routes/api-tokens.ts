import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  API_TOKEN_MAX_DAYS,
  API_TOKEN_SCOPES,
  AppError,
  createApiToken,
  listApiTokens,
  revokeApiToken,
  type ApiTokenInfo,
} from '@spm/db';
import { audit } from '../audit.js';
import { authErrors, IdParam, Timestamp } from '../schemas/common.js';

const DEFAULT_DAYS = 90;
const Scope = Type.Union(
  API_TOKEN_SCOPES.map((s) => Type.Literal(s)),
  {
    description:
      'submit: upload lockfiles; read: GET requests of the API; registry: install from /registry/ (npm `_authToken`)',
  },
);
const TokenSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  scopes: Type.Array(Scope),
  prefix: Type.String({ description: 'The first characters of the secret, to tell tokens apart' }),
  created_at: Timestamp,
  expires_at: Timestamp,
  last_used_at: Type.Union([Timestamp, Type.Null()]),
});

const tokenJson = (t: ApiTokenInfo) => ({
  id: t.id,
  name: t.name,
  scopes: t.scopes,
  prefix: t.prefix,
  created_at: t.createdAt,
  expires_at: t.expiresAt,
  last_used_at: t.lastUsedAt,
});

/**
 * API tokens under /api/auth/tokens: a signed-in user creates, lists and revokes their own. Managing
 * tokens needs a session (a password sign-in), never an API token: a leaked token cannot mint others.
 */
const apiTokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  const config = { access: 'user' as const, tokenScope: false as const };

  app.post(
    '/',
    {
      config,
      schema: {
        tags: ['auth'],
        summary: 'Create an API token for yourself (the secret is in this answer only)',
        description:
          'For CI jobs and npm: send it as `Authorization: Bearer spm_…`, or as `//host/registry/:_authToken=spm_…` ' +
          'in .npmrc. It acts as you, limited to its scopes, until it expires, is revoked, or your password, role or ' +
          `account state changes. Expiry: \`expires_in_days\`, 1 to ${API_TOKEN_MAX_DAYS} (default ${DEFAULT_DAYS}).`,
        security,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            scopes: Type.Array(Scope, { minItems: 1, maxItems: API_TOKEN_SCOPES.length, uniqueItems: true }),
            expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: API_TOKEN_MAX_DAYS })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Composite([
            TokenSchema,
            Type.Object({ token: Type.String({ description: 'The secret: shown once, stored only as a hash' }) }),
          ]),
          ...authErrors(409),
        },
      },
    },
    async (request, reply) => {
      const days = request.body.expires_in_days ?? DEFAULT_DAYS;
      const { token, secret } = await createApiToken(app.db, {
        userId: request.user.id,
        name: request.body.name,
        scopes: request.body.scopes,
        expiresAt: new Date(Date.now() + days * 86_400_000),
      });
      await audit(
        request,
        'token.create',
        { type: 'api_token', id: token.id },
        {
          name: token.name,
          scopes: token.scopes,
          expires_at: token.expiresAt.toISOString(),
        },
      );
      return reply.code(201).send({ ...tokenJson(token), token: secret });
    },
  );

  app.get(
    '/',
    {
      config,
      schema: {
        tags: ['auth'],
        summary: 'Your API tokens that still work (never their secrets)',
        security,
        response: { 200: Type.Object({ tokens: Type.Array(TokenSchema) }), ...authErrors() },
      },
    },
    async (request) => ({ tokens: (await listApiTokens(app.db, request.user.id)).map(tokenJson) }),
  );

  app.delete(
    '/current',
    {
      config: { access: 'user' as const, tokenScope: 'any' as const },
      schema: {
        tags: ['auth'],
        summary: 'Revoke the API token this request is sent with (what `spm logout` does)',
        description:
          'Any API token may end itself, whatever its scopes; nothing else about tokens is open to a token. ' +
          'A session is refused here: sessions end with POST /api/auth/logout.',
        security,
        response: { 204: Type.Null({ description: 'Revoked' }), ...authErrors(400) },
      },
    },
    async (request, reply) => {
      if (!request.apiToken) {
        throw new AppError(
          'ERR_NOT_API_TOKEN',
          'This request is not sent with an API token: to end a session, POST /api/auth/logout.',
          {
            status: 400,
          },
        );
      }
      await revokeApiToken(app.db, request.user.id, request.apiToken.id);
      await audit(request, 'token.revoke', { type: 'api_token', id: request.apiToken.id }, { by: 'itself' });
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/:id',
    {
      config,
      schema: {
        tags: ['auth'],
        summary: 'Revoke one of your API tokens (it stops working at once)',
        security,
        params: Type.Object({ id: IdParam }),
        response: { 204: Type.Null({ description: 'Revoked' }), ...authErrors(404) },
      },
    },
    async (request, reply) => {
      if (!(await revokeApiToken(app.db, request.user.id, request.params.id))) {
        throw new AppError('ERR_NOT_FOUND', `You have no live API token ${request.params.id}.`, { status: 404 });
      }
      await audit(request, 'token.revoke', { type: 'api_token', id: request.params.id });
      return reply.code(204).send(null);
    },
  );
};

export default apiTokenRoutes;
