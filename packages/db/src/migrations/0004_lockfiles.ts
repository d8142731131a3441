import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * Lockfiles of other package managers: which format a request's lockfile is in (the lockfile column
 * keeps npm's JSON as it is and the text formats as a JSON string), and Yarn Berry's checksum per
 * package of a request (a hash of Yarn's own zip of the package, so it depends on the lockfile's cache
 * key: recorded as the lockfile says, never used as the npm tarball's integrity).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE requests ADD COLUMN lockfile_format text NOT NULL DEFAULT 'npm'
      CHECK (lockfile_format IN ('npm', 'yarn-classic', 'yarn-berry', 'pnpm'));
    ALTER TABLE request_packages ADD COLUMN yarn_checksum text;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE request_packages DROP COLUMN yarn_checksum;
    ALTER TABLE requests DROP COLUMN lockfile_format;
  `.execute(db);
}
