import { sql } from 'kysely';
import type { DB } from '../db.js';

/** Registers (or re-registers) a worker instance. */
export async function registerWorker(
  db: DB,
  w: { id: string; hostname: string; pid: number; version: string | null },
): Promise<void> {
  await db
    .insertInto('workers')
    .values({ id: w.id, hostname: w.hostname, pid: w.pid, version: w.version })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({ last_heartbeat: new Date(), stopped_at: null, hostname: w.hostname, pid: w.pid }),
    )
    .execute();
}

/** Refreshes a worker's heartbeat and its count of packages in flight. */
export async function heartbeatWorker(db: DB, id: string, inFlight: number): Promise<void> {
  await db
    .updateTable('workers')
    .set((eb) => ({ last_heartbeat: eb.fn('now'), in_flight: inFlight }))
    .where('id', '=', id)
    .execute();
}

export async function markWorkerStopped(db: DB, id: string): Promise<void> {
  await db
    .updateTable('workers')
    .set((eb) => ({ stopped_at: eb.fn('now'), in_flight: 0 }))
    .where('id', '=', id)
    .execute();
}

/** Seconds since the worker's last heartbeat (by the database clock), or null when unknown or stopped. */
export async function workerHeartbeatAge(db: DB, id: string): Promise<number | null> {
  const res = await sql<{ age: number; stopped: boolean }>`
    SELECT extract(epoch FROM now() - last_heartbeat)::float8 AS age, stopped_at IS NOT NULL AS stopped
    FROM workers WHERE id = ${id}
  `.execute(db);
  const row = res.rows[0];
  if (!row || row.stopped) return null;
  return Number(row.age);
}
