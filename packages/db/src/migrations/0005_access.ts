import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * Revocable sessions and usernames unique regardless of case.
 *
 * - `users.token_version`: every token carries the version it was signed with; a password change,
 *   disabling and a role change raise it, so every earlier token stops working (re-enabling does not
 *   lower it again).
 * - `revoked_tokens`: the ids (`jti`) of tokens ended by logout, kept until they would have expired.
 * - `lower(username)` is unique. Look-alikes already present (`Alice` beside `alice`) are resolved here:
 *   the oldest account (lowest id) keeps its name, each later one is renamed `<name>-<id>`, its tokens are
 *   ended, and the rename is written to the audit log so an admin can tell the person.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;

    WITH ranked AS (
      SELECT id, username, row_number() OVER (PARTITION BY lower(username) ORDER BY id) AS n FROM users
    ), renamed AS (
      UPDATE users u
         SET username = left(ranked.username, 88) || '-' || u.id,
             token_version = u.token_version + 1,
             updated_at = now()
        FROM ranked
       WHERE ranked.id = u.id AND ranked.n > 1
      RETURNING u.id, ranked.username AS old_name, u.username AS new_name
    )
    INSERT INTO audit_log (action, target_type, target_id, details)
    SELECT 'user.renamed', 'user', id::text,
           jsonb_build_object('from', old_name, 'to', new_name,
                              'reason', 'usernames are unique regardless of case (migration 0005)')
      FROM renamed;

    CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

    CREATE TABLE revoked_tokens (
      jti uuid PRIMARY KEY,
      user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      expires_at timestamptz NOT NULL
    );
    CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE revoked_tokens;
    DROP INDEX users_username_lower_key;
    ALTER TABLE users DROP COLUMN token_version;
  `.execute(db);
}
