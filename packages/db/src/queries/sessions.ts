import { sql } from 'kysely';
import type { DB } from '../db.js';
import type { Role } from '../schema.js';

/** The account behind a session token, as every authenticated request checks it. */
export interface SessionUser {
  id: number;
  username: string;
  role: Role;
  /** The account's current token version: a token signed with an older one is no longer valid. */
  tokenVersion: number;
  /** The token's id was ended by logout. */
  revoked: boolean;
}

/**
 * One indexed lookup per request: the enabled user `userId` with its token version, and whether the token
 * `jti` was revoked. Undefined when the user does not exist or is disabled.
 */
export async function findSessionUser(db: DB, userId: number, jti: string): Promise<SessionUser | undefined> {
  const r = await db
    .selectFrom('users')
    .select((eb) => [
      'id',
      'username',
      'role',
      'token_version',
      eb
        .exists(
          eb
            .selectFrom('revoked_tokens')
            .select(sql`1`.as('one'))
            .where('jti', '=', jti),
        )
        .as('revoked'),
    ])
    .where('id', '=', userId)
    .where('disabled', '=', false)
    .executeTakeFirst();
  return (
    r && { id: r.id, username: r.username, role: r.role, tokenVersion: r.token_version, revoked: Boolean(r.revoked) }
  );
}

/**
 * Ends one token (logout): its id is kept until the token would have expired anyway; rows past that are
 * swept in the same call. Idempotent.
 */
export async function revokeToken(db: DB, t: { jti: string; userId: number; expiresAt: Date }): Promise<void> {
  await db
    .deleteFrom('revoked_tokens')
    .where('expires_at', '<', sql<Date>`now()`)
    .execute();
  await db
    .insertInto('revoked_tokens')
    .values({ jti: t.jti, user_id: t.userId, expires_at: t.expiresAt })
    .onConflict((oc) => oc.column('jti').doNothing())
    .execute();
}
