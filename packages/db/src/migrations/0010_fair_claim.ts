import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

/**
 * Fair claiming: each queued package remembers the request that queued it (its lane), so the claim can
 * take turns between requests and their requestors instead of draining one backlog first. The index
 * serves both halves of the claim: the distinct lanes with runnable packages (a skip scan on its first
 * column) and the first few runnable packages of each lane in priority, run_at, id order.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE package_status ADD COLUMN request_id bigint REFERENCES requests (id) ON DELETE SET NULL;
    UPDATE package_status ps SET request_id = f.request_id
      FROM (SELECT package_id, min(request_id) AS request_id FROM request_packages GROUP BY package_id) f
      WHERE f.package_id = ps.package_id;
    CREATE INDEX package_status_lane_idx ON package_status (request_id, priority, run_at, package_id)
      WHERE status IN ('Requested', 'Licence Checked', 'Downloaded', 'Security Scanned', 'Approved');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX package_status_lane_idx;
    ALTER TABLE package_status DROP COLUMN request_id;
  `.execute(db);
}
