import { sql } from 'kysely';
import type { DB } from '../db.js';
import type { AdvisorySyncRunsTable } from '../schema.js';
import type { Selectable } from 'kysely';

export type AdvisorySyncRun = Selectable<AdvisorySyncRunsTable>;

/** The key of the session-level advisory lock one worker holds while it syncs (any fixed number will do). */
export const ADVISORY_SYNC_LOCK_KEY = 0x5350_4d41; // 'SPMA'

/**
 * Marks runs left `running` by a worker that died as failed. Call only while holding the sync lock:
 * then no run can really be in progress.
 */
export async function failAbandonedSyncRuns(db: DB): Promise<number> {
  const r = await db
    .updateTable('advisory_sync_runs')
    .set({ outcome: 'failed', finished_at: sql`now()`, error: 'the worker stopped during the run' })
    .where('outcome', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** The newest run (any outcome), and the newest that reached the source (imported or not modified). */
export async function lastSyncRuns(db: DB): Promise<{ last: AdvisorySyncRun | null; lastOk: AdvisorySyncRun | null }> {
  const [last, lastOk] = await Promise.all([
    db.selectFrom('advisory_sync_runs').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst(),
    db
      .selectFrom('advisory_sync_runs')
      .selectAll()
      .where('outcome', 'in', ['imported', 'not_modified'])
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst(),
  ]);
  return { last: last ?? null, lastOk: lastOk ?? null };
}

export async function startSyncRun(db: DB, opts: { workerId: string | null; source: string }): Promise<number> {
  const r = await db
    .insertInto('advisory_sync_runs')
    .values({ worker_id: opts.workerId, source: opts.source })
    .returning('id')
    .executeTakeFirstOrThrow();
  return r.id;
}

export type SyncRunOutcome = Partial<
  Pick<
    AdvisorySyncRun,
    | 'http_status'
    | 'etag'
    | 'last_modified'
    | 'bytes'
    | 'read'
    | 'written'
    | 'unchanged'
    | 'skipped'
    | 'rejected'
    | 'matched'
    | 'newly_affected'
    | 'quarantined'
    | 'resolved'
    | 'error'
  >
> & { outcome: 'imported' | 'not_modified' | 'failed' };

/** Records how a run ended, with its duration. */
export async function finishSyncRun(db: DB, id: number, o: SyncRunOutcome): Promise<void> {
  await db
    .updateTable('advisory_sync_runs')
    .set({
      ...o,
      finished_at: sql`clock_timestamp()`,
      duration_ms: sql`(extract(epoch FROM clock_timestamp() - started_at) * 1000)::int`,
    })
    .where('id', '=', id)
    .execute();
}

/** Whether a sync is due: no run yet, or the newest started at least `intervalSeconds` ago (by the database's clock). */
export async function advisorySyncDue(db: DB, intervalSeconds: number): Promise<boolean> {
  const r = await db
    .selectFrom('advisory_sync_runs')
    .select(sql<boolean>`max(started_at) > now() - make_interval(secs => ${intervalSeconds})`.as('recent'))
    .executeTakeFirst();
  return !r?.recent;
}
