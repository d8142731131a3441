import type { DB, Role } from '@spm/db';
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

declare module 'fastify' {
  interface FastifyInstance {
    db: DB;
    config: Readonly<ApiConfig>;
    /** onRequest hook factory: 401 without a valid token of an enabled user, 403 below `role`. */
    requireRole(role: Role): (request: FastifyRequest) => Promise<void>;
    /** Signs a session token for the user at its current token version. */
    issueToken(user: { id: number; username: string; role: Role; tokenVersion: number }): {
      token: string;
      expiresAt: Date;
    };
    /** Ends one token (logout); a token that is not valid is ignored. */
    endToken(token: string): Promise<void>;
  }
  interface FastifyRequest {
    /** Set once the request is authenticated. */
    authToken?: RequestToken;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenPayload;
    user: AuthUser;
  }
}
