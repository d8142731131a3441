import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, findUserForLogin, getUser, revokeToken, verifyPassword } from '@spm/db';
import { audit } from '../audit.js';
import { clearSessionCookies, CSRF_COOKIE, SESSION_COOKIE, setSessionCookies } from '../session.js';
import { authErrors, errors, Timestamp } from '../schemas/common.js';
import { RoleSchema, UserSchema, userJson } from '../schemas/users.js';

// Compared against when the username is unknown, so a miss costs as much as a wrong password.
const DUMMY_HASH = 'scrypt$16384$8$1$c3BtLWR1bW15LXNhbHQ=$' + Buffer.alloc(64).toString('base64');

const Credentials = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 100 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
const SessionUser = Type.Object({ id: Type.Integer(), username: Type.String(), role: RoleSchema });

/**
 * POST /api/auth/login (a bearer token for scripts), POST /api/auth/logout, POST and DELETE
 * /api/auth/session (the web app's httpOnly session cookie; see session.ts) and GET /api/auth/me.
 */
const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Two limits on sign-in: per address and username (guessing one account's password), and per address
  // alone (one address trying a common password against many accounts). Both answer 429 with Retry-After.
  const loginRateLimit = {
    max: app.config.loginRateLimit,
    timeWindow: 60_000,
    hook: 'preHandler' as const,
    keyGenerator: (req: FastifyRequest) => {
      const body = req.body as { username?: unknown } | undefined;
      const username = typeof body?.username === 'string' ? body.username.toLowerCase() : '';
      return `${req.ip}|${username}`;
    },
  };
  // createRateLimit, not rateLimit: the plugin runs only one of its own hooks per request.
  const addressLimit = app.createRateLimit({
    max: app.config.loginRateLimitPerAddress,
    timeWindow: 60_000,
    keyGenerator: (req: FastifyRequest) => `login-address|${req.ip}`,
  });
  const perAddressLimit = async (request: FastifyRequest, reply: FastifyReply) => {
    const r = await addressLimit(request);
    if (!r.isAllowed && r.isExceeded) {
      void reply.header('retry-after', String(r.ttlInSeconds));
      throw new AppError(
        'ERR_RATE_LIMITED',
        `Too many sign-in attempts from this address: try again in ${r.ttlInSeconds} seconds.`,
        { status: 429 },
      );
    }
  };

  /** Checks a username and password (audited either way); returns the user and a freshly signed token. */
  const signIn = async (request: FastifyRequest, username: string, password: string) => {
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
    const who = { id: user.id, username: user.username, role: user.role };
    request.user = who;
    await audit(request, 'auth.login', { type: 'user', id: user.id });
    return { user: who, ...app.issueToken(user) };
  };

  app.post(
    '/login',
    {
      config: { access: 'public', rateLimit: loginRateLimit },
      preHandler: perAddressLimit,
      schema: {
        tags: ['auth'],
        summary: 'Log in: exchange a username and password for a bearer token',
        body: Credentials,
        response: {
          200: Type.Object({
            token: Type.String(),
            token_type: Type.Literal('Bearer'),
            expires_in: Type.Union([Type.String(), Type.Integer()]),
            user: SessionUser,
          }),
          ...errors(400, 401, 429),
        },
      },
    },
    async (request) => {
      const { user, token } = await signIn(request, request.body.username, request.body.password);
      return { token, token_type: 'Bearer' as const, expires_in: app.config.jwtExpiresIn, user };
    },
  );

  app.post(
    '/session',
    {
      config: { access: 'public', rateLimit: loginRateLimit },
      preHandler: perAddressLimit,
      schema: {
        tags: ['auth'],
        summary: 'Sign in the web app: sets an httpOnly session cookie and returns the CSRF token',
        description:
          `Sets \`${SESSION_COOKIE}\` (httpOnly, SameSite=Strict, Secure over https; the same JWT as /login) and ` +
          `\`${CSRF_COOKIE}\`. Requests authenticated by the cookie with POST, PATCH, PUT or DELETE must send the ` +
          `CSRF token in the \`X-CSRF-Token\` header. The token itself is never in the answer.`,
        body: Credentials,
        response: {
          200: Type.Object({ user: SessionUser, csrf_token: Type.String(), expires_at: Timestamp }),
          ...errors(400, 401, 429),
        },
      },
    },
    async (request, reply) => {
      const { user, token, expiresAt } = await signIn(request, request.body.username, request.body.password);
      const csrf = setSessionCookies(request, reply, {
        token,
        secret: app.config.jwtSecret,
        expiresAt,
        publicUrl: app.config.publicUrl,
      });
      return { user, csrf_token: csrf, expires_at: expiresAt };
    },
  );

  app.delete(
    '/session',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out of the web app: ends the session token and expires the session cookies',
        response: { 204: Type.Null({ description: 'Signed out' }), ...errors() },
      },
    },
    async (request, reply) => {
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie) await app.endToken(cookie);
      clearSessionCookies(request, reply, app.config.publicUrl);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/logout',
    {
      config: { access: 'user' },
      schema: {
        tags: ['auth'],
        summary: 'Log out: ends the token this request is authenticated with (bearer or session cookie)',
        security: [{ bearerAuth: [] }],
        response: { 204: Type.Null({ description: 'The token no longer works' }), ...authErrors() },
      },
    },
    async (request, reply) => {
      const { jti, expiresAt } = request.authToken!;
      await revokeToken(app.db, { jti, userId: request.user.id, expiresAt });
      await audit(request, 'auth.logout', { type: 'user', id: request.user.id });
      if (request.cookies[SESSION_COOKIE]) clearSessionCookies(request, reply, app.config.publicUrl);
      return reply.code(204).send(null);
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
