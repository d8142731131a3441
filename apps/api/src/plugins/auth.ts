import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import jwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  API_TOKEN_PREFIX,
  AppError,
  findApiTokenCaller,
  findSessionUser,
  hasRole,
  looksLikeApiToken,
  revokeToken,
  type ApiTokenScope,
  type Role,
} from '@spm/db';
import { requestToken } from '../session.js';
import type { AuthUser, TokenScope, TokenPayload } from '../types.js';

export { hasRole };
export type { ApiTokenScope };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Authentication and role checks. Two kinds of token, checked here alike on every request:
 * - session tokens (HS256 JWTs from login) must carry `exp`, an id (`jti`) and the user's token version
 *   (`ver`); the bearer header and the web app's cookie are two ways of sending one;
 * - API tokens (`spm_…`, bearer header only) are looked up by their SHA-256 and act as their user within
 *   their scopes: `read` for GET routes, `submit` for the upload, `registry` for /registry/; every other
 *   route (approvals, admin writes, token management, logout) refuses them with 403 ERR_TOKEN_SCOPE.
 * The user row is read again each time (one indexed lookup) so a disabled user, a changed role or
 * password, a logout or a revoked API token takes effect at once. Every route under /api/ must declare
 * `config.access` ('public' or the least role); a route that forgets is refused when it is added, so no
 * route can be open by accident. `config.tokenScope` names the API token scope a route accepts (default:
 * `read` for GET and HEAD, none otherwise).
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

    const authenticateApiToken = async (
      request: FastifyRequest,
      token: string,
      scope: TokenScope,
    ): Promise<AuthUser> => {
      const caller = looksLikeApiToken(token) ? await findApiTokenCaller(app.db, token) : undefined;
      if (!caller) {
        throw new AppError('ERR_UNAUTHORIZED', 'The API token is invalid, or its account is disabled.', {
          status: 401,
        });
      }
      if (caller.problem === 'expired') {
        throw new AppError('ERR_TOKEN_EXPIRED', 'The API token has expired: create a new one.', { status: 401 });
      }
      if (caller.problem === 'revoked') {
        throw new AppError(
          'ERR_TOKEN_REVOKED',
          'The API token was revoked, or ended by a password or role change or a disabled account: create a new one.',
          { status: 401 },
        );
      }
      if (scope === false) {
        throw new AppError(
          'ERR_TOKEN_SCOPE',
          'API tokens cannot be used here: this needs a session (sign in with your password).',
          { status: 403 },
        );
      }
      if (scope !== 'any' && !caller.scopes.includes(scope)) {
        throw new AppError(
          'ERR_TOKEN_SCOPE',
          `This API token lacks the ${scope} scope (it has ${caller.scopes.join(', ')}).`,
          { status: 403, details: { required: scope, scopes: caller.scopes } },
        );
      }
      request.user = caller.user;
      request.apiToken = { id: caller.tokenId, scopes: caller.scopes };
      return caller.user;
    };

    const authenticate = async (request: FastifyRequest, scope: TokenScope): Promise<AuthUser> => {
      // The one place a request's token is found: the Bearer header, else the web app's session cookie.
      const token = requestToken(request, app.config.jwtSecret);
      if (token === null) {
        throw new AppError(
          'ERR_UNAUTHORIZED',
          'Authentication required: send "Authorization: Bearer <token>" (a token from POST /api/auth/login, or an API token).',
          { status: 401 },
        );
      }
      if (token.startsWith(API_TOKEN_PREFIX) && request.headers.authorization !== undefined) {
        return authenticateApiToken(request, token, scope);
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

    app.decorate('authenticate', authenticate);

    const requireRole = (min: Role, scope: TokenScope) => async (request: FastifyRequest) => {
      const user = await authenticate(request, scope);
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
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const reads = methods.every((m) => m === 'GET' || m === 'HEAD');
      const hook = requireRole(access, route.config?.tokenScope ?? (reads ? 'read' : false));
      const existing = route.onRequest;
      route.onRequest = existing === undefined ? [hook] : [hook, ...(Array.isArray(existing) ? existing : [existing])];
    });
  },
  { name: 'spm-auth', dependencies: ['spm-db'] },
);
