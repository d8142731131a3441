import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError, findUserForLogin, getUser, verifyPassword } from '@spm/db';
import { audit } from '../audit.js';
import { authErrors, errors } from '../schemas/common.js';
import { RoleSchema, UserSchema, userJson } from '../schemas/users.js';

// Compared against when the username is unknown, so a miss costs as much as a wrong password.
const DUMMY_HASH = 'scrypt$16384$8$1$c3BtLWR1bW15LXNhbHQ=$' + Buffer.alloc(64).toString('base64');

/** POST /api/auth/login and GET /api/auth/me. */
const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/login',
    {
      config: {
        access: 'public',
        rateLimit: {
          max: app.config.loginRateLimit,
          timeWindow: 60_000,
          hook: 'preHandler',
          keyGenerator: (req) => {
            const body = req.body as { username?: unknown } | undefined;
            const username = typeof body?.username === 'string' ? body.username.toLowerCase() : '';
            return `${req.ip}|${username}`;
          },
        },
      },
      schema: {
        tags: ['auth'],
        summary: 'Log in: exchange a username and password for a bearer token',
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 100 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            token: Type.String(),
            token_type: Type.Literal('Bearer'),
            expires_in: Type.Union([Type.String(), Type.Integer()]),
            user: Type.Object({ id: Type.Integer(), username: Type.String(), role: RoleSchema }),
          }),
          ...errors(400, 401, 429),
        },
      },
    },
    async (request) => {
      const { username, password } = request.body;
      const user = await findUserForLogin(app.db, username);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok || user.disabled) {
        await audit(
          request,
          'auth.login_failed',
          { type: 'user', id: user?.id ?? null },
          {
            username: username.slice(0, 100),
            reason: !user ? 'unknown user' : !ok ? 'wrong password' : 'disabled',
          },
        );
        throw new AppError('ERR_INVALID_CREDENTIALS', 'Wrong username or password, or the account is disabled.', {
          status: 401,
        });
      }
      request.user = { id: user.id, username: user.username, role: user.role };
      await audit(request, 'auth.login', { type: 'user', id: user.id });
      const token = app.jwt.sign({ sub: String(user.id), username: user.username, role: user.role });
      return {
        token,
        token_type: 'Bearer' as const,
        expires_in: app.config.jwtExpiresIn,
        user: { id: user.id, username: user.username, role: user.role },
      };
    },
  );

  app.get(
    '/me',
    {
      config: { access: 'user' },
      schema: {
        tags: ['auth'],
        summary: 'The current user',
        security: [{ bearerAuth: [] }],
        response: { 200: UserSchema, ...authErrors() },
      },
    },
    async (request) => {
      const user = await getUser(app.db, request.user.id);
      if (!user) throw new AppError('ERR_UNAUTHORIZED', 'The account no longer exists.', { status: 401 });
      return userJson(user);
    },
  );
};

export default authRoutes;
