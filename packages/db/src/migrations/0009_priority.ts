import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * A request's priority (lower runs sooner, as package_status.priority: urgent -20, high -10, normal 0,
 * low 10). A package's own priority is the most urgent of the unsettled requests that hold it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE requests ADD COLUMN priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -100 AND 100);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE requests DROP COLUMN priority;`.execute(db);
}
