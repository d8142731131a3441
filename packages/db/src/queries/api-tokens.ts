import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { DB } from '../db.js';
import type { Role } from '../schema.js';
import { AppError } from '../errors.js';

/** What an API token may do: upload lockfiles, read the API (GET), install from /registry/. */
export const API_TOKEN_SCOPES = ['submit', 'read', 'registry'] as const;
export type ApiTokenScope = (typeof API_TOKEN_SCOPES)[number];
/** Every API token starts with this, so it is told from a session token (a JWT) at a glance and by secret scanners. */
export const API_TOKEN_PREFIX = 'spm_';
/** The longest an API token may live; a token without an end is not offered. */
export const API_TOKEN_MAX_DAYS = 366;
/** Live (unrevoked) tokens one user may hold at once. */
export const API_TOKEN_MAX_PER_USER = 50;

const SECRET_SHAPE = /^spm_[A-Za-z0-9_-]{43}$/;

/** An API token as it is listed: never the secret or its hash. */
export interface ApiTokenInfo {
  id: number;
  name: string;
  scopes: ApiTokenScope[];
  /** The first characters of the secret, to tell tokens apart in a list. */
  prefix: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
}

/** SHA-256 (hex) of a token secret: what is stored and looked up. */
export function hashApiToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** True when `token` has the shape of an API token (`spm_` and 43 base64url characters). */
export function looksLikeApiToken(token: string): boolean {
  return SECRET_SHAPE.test(token);
}

type Row = {
  id: number;
  name: string;
  scopes: string[];
  prefix: string;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
};

const info = (r: Row): ApiTokenInfo => ({
  id: Number(r.id),
  name: r.name,
  scopes: r.scopes as ApiTokenScope[],
  prefix: r.prefix,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
});

/**
 * Creates an API token for `userId` (bound to the user's current token version) and returns it with its
 * secret, which is never stored or shown again. Throws AppError 409 ERR_TOKEN_NAME_EXISTS when the user
 * already has a live token of that name (case-insensitive), 409 ERR_TOO_MANY_TOKENS past
 * API_TOKEN_MAX_PER_USER, 401 ERR_UNAUTHORIZED when the user is gone or disabled.
 */
export async function createApiToken(
  db: DB,
  opts: { userId: number; name: string; scopes: readonly ApiTokenScope[]; expiresAt: Date },
): Promise<{ token: ApiTokenInfo; secret: string }> {
  const secret = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const scopes = API_TOKEN_SCOPES.filter((s) => opts.scopes.includes(s));
  return db.transaction().execute(async (trx) => {
    // The user row is locked so two creations cannot both pass the count.
    const user = await sql<{ token_version: number; live: number }>`
      SELECT u.token_version,
             (SELECT count(*)::int FROM api_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL AND t.expires_at > now()) AS live
      FROM users u WHERE u.id = ${opts.userId} AND NOT u.disabled FOR UPDATE
    `.execute(trx);
    const u = user.rows[0];
    if (!u) throw new AppError('ERR_UNAUTHORIZED', 'The account no longer exists or is disabled.', { status: 401 });
    if (u.live >= API_TOKEN_MAX_PER_USER) {
      throw new AppError(
        'ERR_TOO_MANY_TOKENS',
        `You already have ${u.live} live API tokens (at most ${API_TOKEN_MAX_PER_USER}): revoke one you no longer use.`,
        { status: 409 },
      );
    }
    const r = await sql<Row>`
      INSERT INTO api_tokens (user_id, name, scopes, token_hash, prefix, token_version, expires_at)
      VALUES (${opts.userId}, ${opts.name}, ${scopes}::text[], ${hashApiToken(secret)}, ${secret.slice(0, 12)},
              ${u.token_version}, ${opts.expiresAt})
      ON CONFLICT (user_id, lower(name)) WHERE revoked_at IS NULL DO NOTHING
      RETURNING id, name, scopes, prefix, created_at, expires_at, last_used_at
    `.execute(trx);
    if (r.rows.length === 0) {
      throw new AppError(
        'ERR_TOKEN_NAME_EXISTS',
        `You already have an API token named ${JSON.stringify(opts.name)}: choose another name or revoke that one.`,
        { status: 409 },
      );
    }
    return { token: info(r.rows[0]!), secret };
  });
}

/** The user's API tokens that still work (not revoked, not expired, not ended by a token version change), newest first. */
export async function listApiTokens(db: DB, userId: number): Promise<ApiTokenInfo[]> {
  const r = await sql<Row>`
    SELECT t.id, t.name, t.scopes, t.prefix, t.created_at, t.expires_at, t.last_used_at
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.user_id = ${userId} AND t.revoked_at IS NULL AND t.expires_at > now() AND t.token_version = u.token_version
    ORDER BY t.id DESC
  `.execute(db);
  return r.rows.map(info);
}

/** Revokes one of the user's own tokens. Returns false when the user has no live token with that id. */
export async function revokeApiToken(db: DB, userId: number, tokenId: number): Promise<boolean> {
  const r = await db
    .updateTable('api_tokens')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', tokenId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The caller behind an API token, as every request that presents one checks it. */
export interface ApiTokenCaller {
  tokenId: number;
  scopes: ApiTokenScope[];
  user: { id: number; username: string; role: Role };
  /** Why the token no longer works, or null when it does. */
  problem: 'expired' | 'revoked' | null;
}

/**
 * One statement per request: the token with this secret and its enabled user, whether it expired or was
 * ended (revoked, or the user's token version moved on), and `last_used_at` refreshed at most once a
 * minute. Undefined when no token has this secret or its user is disabled.
 */
export async function findApiTokenCaller(db: DB, secret: string): Promise<ApiTokenCaller | undefined> {
  const r = await sql<{
    id: number;
    scopes: string[];
    user_id: number;
    username: string;
    role: Role;
    expired: boolean;
    ended: boolean;
  }>`
    WITH t AS (
      SELECT t.id, t.scopes, t.last_used_at, u.id AS user_id, u.username, u.role,
             t.expires_at <= now() AS expired,
             (t.revoked_at IS NOT NULL OR t.token_version <> u.token_version) AS ended
      FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = ${hashApiToken(secret)} AND NOT u.disabled
    ), touch AS (
      UPDATE api_tokens SET last_used_at = now()
      WHERE id = (SELECT id FROM t WHERE NOT expired AND NOT ended)
        AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
    )
    SELECT id, scopes, user_id, username, role, expired, ended FROM t
  `.execute(db);
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    tokenId: Number(row.id),
    scopes: row.scopes as ApiTokenScope[],
    user: { id: row.user_id, username: row.username, role: row.role },
    problem: row.ended ? 'revoked' : row.expired ? 'expired' : null,
  };
}
