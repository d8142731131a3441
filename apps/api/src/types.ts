import type { ApiTokenScope, DB, Role } from '@spm/db';
import type { ApiConfig } from './config.js';

/** Who a request acts as: loaded from the users table on every request, so role changes and disabling apply at once. */
export interface AuthUser {
  id: number;
  username: string;
  role: Role;
}

/**
 * The claims of a session token. `sub` is the user id, `ver` the user's token version when it was signed
 * (a password change, disabling or a role change raises it), `jti` its id (what logout revokes).
 */
export interface TokenPayload {
  sub: string;
  username: string;
  role: Role;
  ver: number;
  jti: string;
}

/** The token a request was authenticated with: what logout needs to end it. */
export interface RequestToken {
  jti: string;
  expiresAt: Date;
}

/**
 * The access rule of a route: `public`, or the least role it needs (user < approver < admin).
 * Every route under /api/ must declare one (checked when the route is added).
 */
export type Access = 'public' | Role;

/**
 * The API token scope a route accepts, false when API tokens may not be used there (a session is needed),
 * or 'any' for the one route where a token acts on itself whatever its scopes (revoking itself).
 */
export type TokenScope = ApiTokenScope | false | 'any';

declare module 'fastify' {
  interface FastifyInstance {
    db: DB;
    config: Readonly<ApiConfig>;
    /** onRequest hook factory: 401 without a valid token of an enabled user, 403 below `role` or without `scope`. */
    requireRole(role: Role, scope: TokenScope): (request: FastifyRequest) => Promise<void>;
    /**
     * Authenticates the request (session token or API token with `scope`), sets `request.user`, and returns
     * the user; throws AppError 401 (no, bad, expired or ended token) or 403 ERR_TOKEN_SCOPE.
     */
    authenticate(request: FastifyRequest, scope: TokenScope): Promise<AuthUser>;
    /** Signs a session token for the user at its current token version. */
    issueToken(user: { id: number; username: string; role: Role; tokenVersion: number }): {
      token: string;
      expiresAt: Date;
    };
    /** Ends one token (logout); a token that is not valid is ignored. */
    endToken(token: string): Promise<void>;
  }
  interface FastifyRequest {
    /** Set once the request is authenticated with a session token. */
    authToken?: RequestToken;
    /** Set once the request is authenticated with an API token. */
    apiToken?: { id: number; scopes: ApiTokenScope[] };
  }
  interface FastifyContextConfig {
    access?: Access;
    /** The API token scope this route accepts (default: `read` for GET and HEAD, none otherwise). */
    tokenScope?: TokenScope;
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenPayload;
    user: AuthUser;
  }
}
