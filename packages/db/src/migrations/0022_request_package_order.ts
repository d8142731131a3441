import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * A request's packages in name order without sorting the whole request: each link carries the package's
 * name and version (`package_name`, `package_version`: not `name`, which would make every query that joins
 * packages and selects an unqualified `name` ambiguous) (a package's name@version never changes, so the copy cannot go stale), and one index
 * walks a request's links by name. A page of 500 of a 20,000-package request then reads about 500 index
 * entries past its offset instead of joining and sorting all 20,000 (issue 19, bench B6); the name filter
 * and the unfiltered count need no join at all.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE request_packages ADD COLUMN package_name text, ADD COLUMN package_version text;
    UPDATE request_packages rp SET package_name = p.name, package_version = p.version FROM packages p WHERE p.id = rp.package_id;
    ALTER TABLE request_packages ALTER COLUMN package_name SET NOT NULL, ALTER COLUMN package_version SET NOT NULL;
    CREATE INDEX request_packages_name_idx ON request_packages (request_id, package_name, package_version, package_id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX request_packages_name_idx;
    ALTER TABLE request_packages DROP COLUMN package_name, DROP COLUMN package_version;
  `.execute(db);
}
