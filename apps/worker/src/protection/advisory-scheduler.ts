import {
  ADVISORY_SYNC_LOCK_KEY,
  advisorySyncDue,
  createDb,
  failAbandonedSyncRuns,
  finishSyncRun,
  lastSyncRuns,
  severitiesFrom,
  startSyncRun,
  storableText,
  type DB,
} from '@spm/db';
import type { Logger } from 'pino';
import type { WorkerConfig } from '../config.js';
import { syncAdvisories } from '../scan/advisory-sync.js';

/** What one tick did. */
export type SyncTick =
  | { kind: 'busy' }
  | { kind: 'not_due' }
  | { kind: 'done'; runId: number; outcome: 'imported' | 'not_modified' | 'failed' };

/** Where the advisories come from, as recorded and shown: no credentials, no query string (it may hold a key). */
export function syncSource(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/**
 * The scheduled advisory sync (ADVISORIES_SYNC_INTERVAL): every tick, the worker that gets the
 * session-level advisory lock (one at a time, whatever the number of workers) checks whether a sync is
 * due by the newest recorded run, downloads ADVISORIES_URL conditionally (the last import's ETag and
 * Last-Modified), imports it, which re-evaluates the changed advisories against every approved and
 * published version, and records the run (counts, validators, error) in `advisory_sync_runs`.
 */
export class AdvisorySyncScheduler {
  private readonly db: DB;
  private readonly pool: ReturnType<typeof createDb>['pool'];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly abort = new AbortController();
  private stopped: Promise<void> | null = null;
  private readonly intervalSeconds: number;
  private readonly url: string;

  constructor(
    private readonly config: Pick<WorkerConfig, 'databaseUrl' | 'advisories' | 'advisoriesSyncIntervalSeconds'>,
    private readonly log: Logger,
    private readonly deps: { workerId: string | null; fetch?: typeof fetch } = { workerId: null },
  ) {
    if (!config.advisoriesSyncIntervalSeconds || !config.advisories.advisoriesUrl)
      throw new Error('the advisory sync needs ADVISORIES_SYNC_INTERVAL and ADVISORIES_URL');
    this.intervalSeconds = config.advisoriesSyncIntervalSeconds;
    this.url = config.advisories.advisoriesUrl;
    const created = createDb({ connectionString: config.databaseUrl, max: 3, applicationName: 'spm-advisory-sync' });
    this.db = created.db;
    this.pool = created.pool;
  }

  /** Ticks at once, then every interval (at most a minute apart, so a worker that did not hold the lock checks again). */
  start(): void {
    const every = Math.min(this.intervalSeconds, 60) * 1000;
    const tick = () => {
      if (this.abort.signal.aborted) return;
      this.running = this.tick()
        .catch((err) => this.log.warn({ err }, 'advisory sync tick failed; trying again at the next'))
        .finally(() => {
          this.running = null;
          if (!this.abort.signal.aborted) this.timer = setTimeout(tick, every);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Aborts a download in flight, waits for the tick to record its outcome, closes the pool. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.abort.abort();
      if (this.timer) clearTimeout(this.timer);
      await this.running;
      await this.pool.end();
    })();
    return this.stopped;
  }

  /** One tick: take the lock or leave it to the worker that has it; sync when due. */
  async tick(): Promise<SyncTick> {
    const client = await this.pool.connect();
    try {
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
        ADVISORY_SYNC_LOCK_KEY,
      ]);
      if (!got.rows[0]?.ok) return { kind: 'busy' };
      try {
        await failAbandonedSyncRuns(this.db);
        if (!(await advisorySyncDue(this.db, this.intervalSeconds))) return { kind: 'not_due' };
        return await this.sync();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_SYNC_LOCK_KEY]);
      }
    } finally {
      client.release();
    }
  }

  private async sync(): Promise<SyncTick> {
    const source = syncSource(this.url);
    const { lastOk } = await lastSyncRuns(this.db);
    const validators = lastOk?.source === source ? lastOk : null;
    const runId = await startSyncRun(this.db, { workerId: this.deps.workerId, source });
    const a = this.config.advisories;
    try {
      const r = await syncAdvisories(this.db, {
        url: this.url,
        token: a.advisoriesToken,
        maxBytes: a.advisoriesMaxBytes,
        timeoutMs: a.advisoriesTimeoutSeconds * 1000,
        signal: this.abort.signal,
        etag: validators?.etag ?? null,
        lastModified: validators?.last_modified ?? null,
        quarantineSeverities: severitiesFrom(a.quarantineSeverity),
        fetch: this.deps.fetch,
      });
      if (r.notModified) {
        await finishSyncRun(this.db, runId, {
          outcome: 'not_modified',
          http_status: r.status,
          etag: r.etag,
          last_modified: r.lastModified,
        });
        this.log.info({ runId, source }, 'advisory sync: not modified since the last import');
        return { kind: 'done', runId, outcome: 'not_modified' };
      }
      const e = r.reevaluation;
      await finishSyncRun(this.db, runId, {
        outcome: 'imported',
        http_status: r.status,
        etag: r.etag,
        last_modified: r.lastModified,
        bytes: r.bytes,
        read: r.read,
        written: r.written,
        unchanged: r.unchanged,
        skipped: r.skipped,
        rejected: r.rejected.length,
        matched: e.matched,
        newly_affected: e.newlyAffected,
        quarantined: e.quarantined,
        resolved: e.resolved,
      });
      this.log.info(
        {
          runId,
          source,
          bytes: r.bytes,
          written: r.written,
          unchanged: r.unchanged,
          rejected: r.rejected.length,
          newlyAffected: e.newlyAffected,
          quarantined: e.quarantined,
          resolved: e.resolved,
        },
        e.newlyAffected
          ? 'advisory sync: new advisories affect approved versions'
          : 'advisory sync: imported; no approved version newly affected',
      );
      return { kind: 'done', runId, outcome: 'imported' };
    } catch (err) {
      await finishSyncRun(this.db, runId, { outcome: 'failed', error: storableText((err as Error).message, 1000) });
      this.log.warn({ err, runId, source }, 'advisory sync failed; the next is due after the interval');
      return { kind: 'done', runId, outcome: 'failed' };
    }
  }
}
