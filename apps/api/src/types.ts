import type { DB, Role } from '@spm/db';
import type { ApiConfig } from './config.js';

/** Who a request acts as: loaded from the users table on every request, so role changes and disabling apply at once. */
export interface AuthUser {
  id: number;
  username: string;
  role: Role;
}

/** The claims of an API token. `sub` is the user id. */
export interface TokenPayload {
  sub: string;
  username: string;
  role: Role;
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
