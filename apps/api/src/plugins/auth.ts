import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import jwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, findActiveUser, hasRole, type Role } from '@spm/db';
import { requestToken } from '../session.js';
import type { AuthUser, TokenPayload } from '../types.js';

export { hasRole };

/**
 * JWT authentication and role checks. Tokens are HS256 with an expiry; on every request the user row is
 * read again (one indexed lookup) so a disabled user or a changed role takes effect at once. Every route
 * under /api/ must declare `config.access` ('public' or the least role); a route that forgets is refused
 * when it is added, so no route can be open by accident.
 */
export default fp(
  async function authPlugin(app: FastifyInstance) {
    await app.register(jwt, {
      secret: app.config.jwtSecret,
      sign: { expiresIn: app.config.jwtExpiresIn, algorithm: 'HS256' },
      verify: { algorithms: ['HS256'] },
    });

    await app.register(cookie);

    const authenticate = async (request: FastifyRequest): Promise<AuthUser> => {
      // The one place a request's token is found: the Bearer header, else the web app's session cookie.
      const token = requestToken(request, app.config.jwtSecret);
      if (token === null) {
        throw new AppError(
          'ERR_UNAUTHORIZED',
          'Authentication required: send "Authorization: Bearer <token>" from POST /api/auth/login.',
          {
            status: 401,
          },
        );
      }
      let payload: TokenPayload;
      try {
        payload = app.jwt.verify<TokenPayload>(token);
      } catch (err) {
        const expired = (err as { code?: string }).code === 'FAST_JWT_EXPIRED';
        throw new AppError(
          expired ? 'ERR_TOKEN_EXPIRED' : 'ERR_UNAUTHORIZED',
          expired ? 'The token has expired: log in again.' : 'The token is invalid: log in again.',
          { status: 401 },
        );
      }
      const id = Number(payload.sub);
      const user =
        Number.isSafeInteger(id) && id > 0 && id <= 2147483647 ? await findActiveUser(app.db, id) : undefined;
      if (!user) {
        throw new AppError('ERR_UNAUTHORIZED', 'The account behind this token no longer exists or is disabled.', {
          status: 401,
        });
      }
      request.user = user;
      return user;
    };

    const requireRole = (min: Role) => async (request: FastifyRequest) => {
      const user = await authenticate(request);
      if (!hasRole(user.role, min)) {
        throw new AppError('ERR_FORBIDDEN', `This needs the ${min} role; you are ${user.role}.`, { status: 403 });
      }
    };
    app.decorate('requireRole', requireRole);

    app.addHook('onRoute', (route) => {
      const access = route.config?.access;
      if (access === undefined) {
        if (route.url.startsWith('/api/'))
          throw new Error(`route ${route.method} ${route.url} declares no config.access`);
        return;
      }
      if (access === 'public') return;
      const hook = requireRole(access);
      const existing = route.onRequest;
      route.onRequest = existing === undefined ? [hook] : [hook, ...(Array.isArray(existing) ? existing : [existing])];
    });
  },
  { name: 'spm-auth', dependencies: ['spm-db'] },
);
