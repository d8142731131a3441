import { sql } from 'kysely';
import type { DB } from '../db.js';

/**
 * Of `packageIds`, those that `userId` alone requested: every request holding the package was made by
 * that user (a request whose requestor was deleted counts as someone else's). Four eyes: such a package
 * needs another person's approval. Takes `db` or a transaction.
 */
export async function soleRequestedBy(db: DB, packageIds: number[], userId: number): Promise<Set<number>> {
  if (packageIds.length === 0) return new Set();
  const rows = await sql<{ package_id: number }>`
    SELECT rp.package_id
    FROM request_packages rp
    JOIN requests r ON r.id = rp.request_id
    WHERE rp.package_id = ANY(${packageIds}::bigint[])
    GROUP BY rp.package_id
    HAVING bool_and(r.requestor_id IS NOT DISTINCT FROM ${userId})
  `.execute(db);
  return new Set(rows.rows.map((r) => Number(r.package_id)));
}
