import { sql } from 'kysely';
import type { DB } from '../db.js';
import type { Role } from '../schema.js';
import { AppError } from '../errors.js';
import { hashPassword } from '../passwords.js';

/** A user as the API shows it: never the password hash. */
export interface PublicUser {
  id: number;
  username: string;
  role: Role;
  disabled: boolean;
  /** Tokens carry it; raised when they must all end (never shown to clients). */
  tokenVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

const publicColumns = ['id', 'username', 'role', 'disabled', 'token_version', 'created_at', 'updated_at'] as const;

function toPublic(r: {
  id: number;
  username: string;
  role: Role;
  disabled: boolean;
  token_version: number;
  created_at: Date;
  updated_at: Date;
}): PublicUser {
  return {
    id: r.id,
    username: r.username,
    role: r.role,
    disabled: r.disabled,
    tokenVersion: r.token_version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The row login needs (with the hash). Usernames match regardless of case (they are unique that way). */
export async function findUserForLogin(
  db: DB,
  username: string,
): Promise<
  | { id: number; username: string; role: Role; disabled: boolean; tokenVersion: number; passwordHash: string }
  | undefined
> {
  const r = await db
    .selectFrom('users')
    .select(['id', 'username', 'role', 'disabled', 'token_version', 'password_hash'])
    .where(sql`lower(username)`, '=', username.toLowerCase())
    .executeTakeFirst();
  return (
    r && {
      id: r.id,
      username: r.username,
      role: r.role,
      disabled: r.disabled,
      tokenVersion: r.token_version,
      passwordHash: r.password_hash,
    }
  );
}

export async function getUser(db: DB, id: number): Promise<PublicUser | undefined> {
  const r = await db.selectFrom('users').select(publicColumns).where('id', '=', id).executeTakeFirst();
  return r && toPublic(r);
}

export async function listUsers(db: DB): Promise<PublicUser[]> {
  const rows = await db.selectFrom('users').select(publicColumns).orderBy('id').execute();
  return rows.map(toPublic);
}

/**
 * Creates a user with a scrypt-hashed password. Throws AppError ERR_USER_EXISTS (409) when the name is taken,
 * regardless of case (`Alice` beside `alice` is refused: the unique index on lower(username) decides).
 */
export async function createUser(db: DB, u: { username: string; password: string; role: Role }): Promise<PublicUser> {
  const passwordHash = await hashPassword(u.password);
  try {
    const r = await db
      .insertInto('users')
      .values({ username: u.username, password_hash: passwordHash, role: u.role })
      .returning(publicColumns)
      .executeTakeFirstOrThrow();
    return toPublic(r);
  } catch (err) {
    if ((err as { code?: unknown }).code === '23505') {
      throw new AppError(
        'ERR_USER_EXISTS',
        `A user named "${u.username}" already exists (usernames are compared regardless of case).`,
        { status: 409 },
      );
    }
    throw err;
  }
}

/**
 * Changes a user's role, disabled flag or password. Refuses (409 ERR_LAST_ADMIN) to leave the system
 * without an enabled admin; the check and the write happen in one transaction with the admins locked.
 * A new password, disabling and a changed role raise the token version, which ends every token issued
 * before (enabling again does not lower it, so old tokens stay dead).
 */
export async function updateUser(
  db: DB,
  id: number,
  patch: { role?: Role; disabled?: boolean; password?: string },
): Promise<PublicUser | undefined> {
  const passwordHash = patch.password === undefined ? undefined : await hashPassword(patch.password);
  return db.transaction().execute(async (trx) => {
    const admins = await trx
      .selectFrom('users')
      .select(['id'])
      .where('role', '=', 'admin')
      .where('disabled', '=', false)
      .forUpdate()
      .execute();
    const current = await trx
      .selectFrom('users')
      .select(['id', 'role', 'disabled'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!current) return undefined;
    const endsTokens =
      passwordHash !== undefined ||
      (patch.disabled === true && !current.disabled) ||
      (patch.role !== undefined && patch.role !== current.role);
    const losesAdmin =
      current.role === 'admin' &&
      !current.disabled &&
      ((patch.role !== undefined && patch.role !== 'admin') || patch.disabled === true);
    if (losesAdmin && admins.length <= 1) {
      throw new AppError('ERR_LAST_ADMIN', 'This is the last enabled admin: create or enable another admin first.', {
        status: 409,
      });
    }
    const r = await trx
      .updateTable('users')
      .set((eb) => ({
        ...(patch.role !== undefined ? { role: patch.role } : {}),
        ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
        ...(passwordHash !== undefined ? { password_hash: passwordHash } : {}),
        ...(endsTokens ? { token_version: sql<number>`token_version + 1` } : {}),
        updated_at: eb.fn('now'),
      }))
      .where('id', '=', id)
      .returning(publicColumns)
      .executeTakeFirstOrThrow();
    return toPublic(r);
  });
}

/**
 * Creates the first admin when no enabled admin exists. Returns what happened; never changes an existing
 * user (an existing name is reported as 'exists', so a stale ADMIN_PASSWORD cannot reset a password).
 */
export async function ensureAdmin(
  db: DB,
  u: { username: string; password: string },
): Promise<'created' | 'admin-exists' | 'exists'> {
  const admin = await db
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .where('disabled', '=', false)
    .executeTakeFirst();
  if (admin) return 'admin-exists';
  try {
    await createUser(db, { ...u, role: 'admin' });
    return 'created';
  } catch (err) {
    if (err instanceof AppError && err.code === 'ERR_USER_EXISTS') return 'exists';
    throw err;
  }
}
