import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import jwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, findSessionUser, hasRole, revokeToken, type Role } from '@spm/db';
import { requestToken } from '../session.js';
import type { AuthUser, TokenPayload } from '../types.js';

export { hasRole };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * JWT authentication and role checks. Tokens are HS256 and must carry `exp`, an id (`jti`) and the user's
 * token version (`ver`). On every request the user row is read again (one indexed lookup, with the
 * revocation list) so a disabled user, a changed role or password, or a logout takes effect at once; the
 * bearer header and the web app's cookie are two ways of sending the same token, checked here alike. Every route
 * under /api/ must declare `config.access` ('public' or the least role); a route that forgets is refused
 * when it is added, so no route can be open by accident.
 */
export default fp(
  async function authPlugin(app: FastifyInstance) {
    await app.register(jwt, {
      secret: app.config.jwtSecret,
      sign: { expiresIn: app.config.jwtExpiresIn, algorithm: 'HS256' },
      verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'sub', 'jti', 'ver'] },
    });

    app.decorate('issueToken', (user: { id: number; username: string; role: Role; tokenVersion: number }) => {
      const token = app.jwt.sign({
        sub: String(user.id),
        username: user.username,
        role: user.role,
        ver: user.tokenVersion,
        jti: randomUUID(),
      });
      const { exp } = app.jwt.decode<{ exp: number }>(token)!;
      return { token, expiresAt: new Date(exp * 1000) };
    });

    app.decorate('endToken', async (token: string) => {
      let payload: TokenPayload & { exp: number };
      try {
        payload = app.jwt.verify<TokenPayload & { exp: number }>(token);
      } catch {
        return;
      }
      const id = Number(payload.sub);
      if (!UUID.test(String(payload.jti)) || !Number.isSafeInteger(id) || id <= 0 || id > 2147483647) return;
      await revokeToken(app.db, { jti: payload.jti, userId: id, expiresAt: new Date(payload.exp * 1000) });
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
      let payload: TokenPayload & { exp: number };
      try {
        payload = app.jwt.verify<TokenPayload & { exp: number }>(token);
      } catch (err) {
        const expired = (err as { code?: string }).code === 'FAST_JWT_EXPIRED';
        throw new AppError(
          expired ? 'ERR_TOKEN_EXPIRED' : 'ERR_UNAUTHORIZED',
          expired ? 'The token has expired: log in again.' : 'The token is invalid: log in again.',
          { status: 401 },
        );
      }
      const id = Number(payload.sub);
      const wellFormed =
        Number.isSafeInteger(id) &&
        id > 0 &&
        id <= 2147483647 &&
        UUID.test(String(payload.jti)) &&
        Number.isInteger(payload.ver);
      if (!wellFormed) {
        throw new AppError('ERR_UNAUTHORIZED', 'The token is invalid: log in again.', { status: 401 });
      }
      const found = await findSessionUser(app.db, id, payload.jti);
      if (!found) {
        throw new AppError('ERR_UNAUTHORIZED', 'The account behind this token no longer exists or is disabled.', {
          status: 401,
        });
      }
      if (found.revoked || found.tokenVersion !== payload.ver) {
        throw new AppError(
          'ERR_TOKEN_REVOKED',
          'This token was ended (logout, a password or role change, or the account was disabled): log in again.',
          { status: 401 },
        );
      }
      const user: AuthUser = { id: found.id, username: found.username, role: found.role };
      request.user = user;
      request.authToken = { jti: payload.jti, expiresAt: new Date(payload.exp * 1000) };
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
