import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * API tokens for machines (CI jobs, npm's `.npmrc`): created by a user for themselves, named, scoped
 * (`submit`, `read`, `registry`), expiring, shown once and stored only as the SHA-256 of the secret (the
 * secret is 256 random bits, so a plain hash is enough: nothing to brute-force). A token carries the
 * user's token version at creation: a password change, disabling or a role change raises the version and
 * so ends every API token too, as it ends session tokens.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE api_tokens (
      id bigserial PRIMARY KEY,
      user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
      scopes text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['submit', 'read', 'registry']),
      token_hash text NOT NULL UNIQUE,
      prefix text NOT NULL,
      token_version integer NOT NULL,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, id DESC);
    CREATE UNIQUE INDEX api_tokens_live_name_key ON api_tokens (user_id, lower(name)) WHERE revoked_at IS NULL;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE api_tokens;`.execute(db);
}
