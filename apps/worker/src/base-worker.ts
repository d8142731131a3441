import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  STAGES,
  WAKE_CHANNEL,
  claimPackages,
  createDb,
  extendLeases,
  failTransient,
  heartbeatWorker,
  markWorkerStopped,
  registerWorker,
  releaseToCheckpoint,
  resetStuckPackages,
  type ClaimedPackage,
  type DB,
  type StageName,
} from '@spm/db';
import type { WorkerConfig } from './config.js';
import { PermanentError, permanentCause, TransientError } from './errors.js';
import { recordOutcome } from './outcome.js';
import type { StageHandler, StageOutcome } from './stages/types.js';

/** The file in PACKAGE_CACHE_DIR where a worker writes its id at start (read by the health command). */
export const WORKER_ID_FILE = '.worker-id';

export interface BaseWorkerOptions {
  config: WorkerConfig;
  logger: Logger;
  /** Recorded in `workers.version`. */
  version?: string | null;
}

/** Why a stage's AbortSignal fired. */
export class StageAbort extends Error {
  constructor(readonly why: 'shutdown' | 'lease_lost') {
    super(why === 'shutdown' ? 'aborted: the worker is shutting down' : 'aborted: the lease was lost');
    this.name = 'AbortError';
  }
}

type Pool = ReturnType<typeof createDb>['pool'];

/** The part of a pg client the LISTEN connection uses. */
interface ListenClient {
  query(text: string): Promise<unknown>;
  on(event: 'notification', fn: (msg: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  release(err?: Error | boolean): void;
}

/** The scan works the CPU; every other stage mostly waits on the network or the database. */
const CPU_STAGES: ReadonlySet<string> = new Set(['scan']);

/** The two kinds of stage, each with its checkpoints and its limit of packages in flight. */
function pools(c: WorkerConfig): Array<{ checkpoints: string[]; limit: number }> {
  const of = (cpu: boolean) => STAGES.filter((s) => CPU_STAGES.has(s.name) === cpu).map((s) => s.checkpoint);
  return [
    { checkpoints: of(true), limit: c.cpuConcurrency },
    { checkpoints: of(false), limit: c.ioConcurrency },
  ];
}

interface InFlight {
  pkg: ClaimedPackage;
  ac: AbortController;
  log: Logger;
  startedAt: number;
  /** The lease was found gone: nothing may be written for this run. */
  lost: boolean;
  /** The outcome is being written; a missing lease from now on means the write won the race. */
  settling: boolean;
  done: Promise<void>;
}

type Resolution = StageOutcome | { kind: 'transient'; error: string };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The worker daemon, minus the stages. Owns registration and heartbeat, LISTEN wake-ups with a poll
 * fallback, claiming into free slots, running packages concurrently (each with its AbortController and
 * child logger), lease extension, the stuck sweep, error classification, graceful shutdown and
 * surviving database outages. Subclasses provide the stages through {@link stageHandler}.
 */
export abstract class BaseWorker {
  readonly id: string;
  protected readonly config: WorkerConfig;
  protected readonly log: Logger;
  protected db!: DB;
  private pool!: Pool;
  private listenPool: Pool | null = null;
  private listenClient: ListenClient | null = null;
  private readonly version: string | null;
  private readonly inFlight = new Map<number, InFlight>();
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private checkpoints: string[] = [];
  private registered = false;
  private wakePending = false;
  private wakeWaiter: (() => void) | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private loopDone: Promise<void> = Promise.resolve();
  private forced = false;
  private forceNow: () => void = () => undefined;
  private readonly forcePromise = new Promise<void>((r) => (this.forceNow = r));
  private markStopped: () => void = () => undefined;
  /** Resolves when the worker has shut down completely. */
  readonly stopped = new Promise<void>((r) => (this.markStopped = r));
  private busy = { lease: false, sweep: false, heartbeat: false };

  constructor(opts: BaseWorkerOptions) {
    this.config = opts.config;
    this.id = opts.config.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.log = opts.logger.child({ workerId: this.id });
    this.version = opts.version ?? null;
  }

  /** The handler for a stage, or undefined when this worker does not run it (its checkpoint is never claimed). */
  protected abstract stageHandler(stage: StageName): StageHandler | undefined;

  /**
   * Housekeeping of the subclass's own, on the stuck sweep's schedule (after it). Errors are logged
   * with the sweep's and retried at the next one. Keep it bounded: it runs while the loop claims.
   */
  protected async maintenance(): Promise<void> {}

  /** Packages currently being worked on by this process. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Connects, registers and starts the loop and timers. Resolves once running; database errors do not stop it. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('worker already started');
    this.state = 'running';
    const c = this.config;
    this.checkpoints = STAGES.filter((s) => this.stageHandler(s.name)).map((s) => s.checkpoint);
    const created = createDb({
      connectionString: c.databaseUrl,
      max: c.maxPackagesPerCycle + 4,
      applicationName: 'spm-worker',
      onPoolError: (err) => this.log.warn({ err }, 'database connection lost; the pool replaces it'),
    });
    this.db = created.db;
    this.pool = created.pool;
    // A client that dies while checked out emits 'error' on itself; without a listener that would
    // crash the process. The failing query rejects on its own and the pool discards the client.
    this.pool.on('connect', (client) => {
      client.on('error', (err) => this.log.debug({ err }, 'database client error'));
    });

    await mkdir(c.packageCacheDir, { recursive: true });
    await writeFile(join(c.packageCacheDir, WORKER_ID_FILE), `${this.id}\n`);

    this.log.info(
      {
        checkpoints: this.checkpoints,
        maxPackagesPerCycle: c.maxPackagesPerCycle,
        ioConcurrency: c.ioConcurrency,
        cpuConcurrency: c.cpuConcurrency,
        leaseSeconds: c.leaseSeconds,
        sleepIntervalSeconds: c.sleepIntervalSeconds,
        listen: c.listen,
        sourceRegistry: c.sourceRegistryUrl,
        cacheDir: c.packageCacheDir,
      },
      'worker starting',
    );
    const missing = STAGES.filter((s) => !this.checkpoints.includes(s.checkpoint)).map((s) => s.name);
    if (missing.length)
      this.log.info({ stages: missing }, 'no handler for these stages; their packages wait at the checkpoint');

    await this.heartbeat();
    this.every(c.heartbeatSeconds * 1000, () => this.heartbeat());
    this.every((c.leaseSeconds * 1000) / 3, () => this.extendLeasesOnce());
    const sweepMs = Math.max(500, Math.min(30_000, (c.leaseSeconds * 1000) / 4));
    this.every(sweepMs, () => this.sweep());
    void this.sweep();
    if (c.listen) {
      this.listenPool = createDb({
        connectionString: c.databaseUrl,
        max: 1,
        applicationName: 'spm-worker-listen',
        onPoolError: (err) => this.log.warn({ err }, 'LISTEN connection error'),
      }).pool;
      void this.connectListener(false);
    }
    this.loopDone = this.loop();
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const t = setInterval(() => void fn(), Math.max(50, ms));
    this.timers.push(t);
  }

  /** Wakes the loop (a NOTIFY, a freed slot, shutdown). */
  private wake(): void {
    this.wakePending = true;
    const w = this.wakeWaiter;
    this.wakeWaiter = null;
    w?.();
  }

  /**
   * Waits for a wake-up or `ms`. A wake-up that arrived meanwhile is consumed here, so the loop
   * always either claims or sleeps on a timer; it can never spin on already-resolved promises
   * (which would starve I/O).
   */
  private waitForWake(ms: number): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    if (this.wakePending) {
      this.wakePending = false;
      return new Promise<void>((resolve) => setImmediate(resolve));
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wakeWaiter = null;
        resolve();
      }, ms);
      this.wakeWaiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /**
   * What to claim now: for each kind of stage (see `pools`) its checkpoints this worker runs and its free
   * slots, within the free slots of the whole worker. One claim statement per kind that has room.
   */
  private claimPlan(): Array<{ checkpoints: string[]; free: number }> {
    const c = this.config;
    const total = c.maxPackagesPerCycle - this.inFlight.size;
    if (total <= 0) return [];
    // One pool for every stage (the limits do not separate them): one claim, as before the kinds existed.
    if (c.ioConcurrency >= c.maxPackagesPerCycle && c.cpuConcurrency >= c.maxPackagesPerCycle) {
      return this.checkpoints.length ? [{ checkpoints: this.checkpoints, free: total }] : [];
    }
    const plan: Array<{ checkpoints: string[]; free: number }> = [];
    let left = total;
    for (const pool of pools(c)) {
      const checkpoints = this.checkpoints.filter((cp) => pool.checkpoints.includes(cp));
      let busy = 0;
      for (const e of this.inFlight.values()) if (pool.checkpoints.includes(e.pkg.checkpoint)) busy++;
      const free = Math.min(left, pool.limit - busy);
      if (free > 0 && checkpoints.length) {
        plan.push({ checkpoints, free });
        left -= free;
      }
    }
    return plan;
  }

  private async loop(): Promise<void> {
    let backoff = 0;
    while (this.state === 'running') {
      const plan = this.claimPlan();
      if (plan.length > 0) {
        this.wakePending = false;
        let full = false;
        try {
          for (const { checkpoints, free } of plan) {
            const claimed = await claimPackages(this.db, {
              workerId: this.id,
              limit: free,
              leaseSeconds: this.config.leaseSeconds,
              checkpoints,
            });
            for (const pkg of claimed) this.run(pkg);
            if (claimed.length === free) full = true;
          }
          if (backoff) this.log.info('database reachable again; claiming resumed');
          backoff = 0;
        } catch (err) {
          backoff = Math.min(backoff ? backoff * 2 : 250, 10_000);
          this.log.error({ err, retryInMs: backoff }, 'claiming failed; retrying with backoff');
          await this.waitForWake(backoff);
          this.wakePending = false;
          continue;
        }
        // A kind whose free slots were all taken may have more waiting: claim again at once.
        if (full) continue;
      }
      await this.waitForWake(this.config.sleepIntervalSeconds * 1000);
    }
  }

  private run(pkg: ClaimedPackage): void {
    const log = this.log.child({
      packageId: pkg.packageId,
      name: pkg.name,
      version: pkg.version,
      stage: pkg.stage.name,
    });
    const entry: InFlight = {
      pkg,
      ac: new AbortController(),
      log,
      startedAt: performance.now(),
      lost: false,
      settling: false,
      done: Promise.resolve(),
    };
    this.inFlight.set(pkg.packageId, entry);
    log.info(
      { from: pkg.checkpoint, to: pkg.status, attempt: pkg.attempts },
      `${pkg.stage.name}: ${pkg.checkpoint} → ${pkg.status}`,
    );
    entry.done = this.execute(entry)
      .catch((err: unknown) => log.error({ err }, 'unexpected error while finishing the stage'))
      .finally(() => {
        if (this.inFlight.get(pkg.packageId) === entry) this.inFlight.delete(pkg.packageId);
        this.wake();
      });
  }

  private async execute(entry: InFlight): Promise<void> {
    const { pkg, ac, log } = entry;
    let resolution: Resolution;
    try {
      const handler = this.stageHandler(pkg.stage.name);
      if (!handler) throw new Error(`no handler for stage ${pkg.stage.name}`);
      resolution = await handler({ pkg, signal: ac.signal, log, db: this.db, config: this.config, workerId: this.id });
    } catch (err) {
      if (ac.signal.aborted) {
        // Shutdown releases the package; a lost lease belongs to someone else now. Nothing to write.
        const why = ac.signal.reason instanceof StageAbort ? ac.signal.reason.why : 'aborted';
        log.warn({ outcome: 'aborted', why, duration_ms: this.elapsed(entry) }, `${pkg.stage.name} aborted (${why})`);
        return;
      }
      resolution = classify(err);
      if (!(err instanceof PermanentError) && !(err instanceof TransientError)) {
        log.warn(
          { err },
          `${pkg.stage.name} failed with an unexpected error; treating it as ${resolution.kind === 'reject' ? 'permanent' : 'transient'}`,
        );
      }
    }
    if (entry.lost) {
      log.warn(
        { outcome: 'discarded', duration_ms: this.elapsed(entry) },
        `${pkg.stage.name}: lease lost, result discarded, nothing written`,
      );
      return;
    }
    entry.settling = true;
    await this.record(entry, resolution);
  }

  /** Writes the outcome, retrying through a database outage for up to one lease (after that the sweep owns it). */
  private async record(entry: InFlight, r: Resolution): Promise<void> {
    const deadline = Date.now() + this.config.leaseSeconds * 1000;
    let fallback = false;
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        await this.write(entry, r);
        return;
      } catch (err) {
        // The outcome itself cannot be stored (a data error): retrying the same write cannot help, so
        // the package ends Rejected (error) with the reason, once; the retry endpoint re-runs it.
        const permanent = fallback ? null : permanentCause(err);
        if (permanent) {
          fallback = true;
          entry.log.error({ err }, 'the outcome could not be stored; rejecting the package instead');
          r = {
            kind: 'reject',
            rejection: 'error',
            reason: `could not record the outcome: ${permanent}`.slice(0, 2000),
          };
          continue;
        }
        if (Date.now() + delay > deadline || this.state === 'stopped') {
          entry.log.error(
            { err },
            'could not record the outcome; the lease will expire and the package returns to its checkpoint',
          );
          return;
        }
        entry.log.warn({ err, retryInMs: delay }, 'recording the outcome failed; retrying');
        await sleep(delay);
      }
    }
  }

  private async write(entry: InFlight, r: Resolution): Promise<void> {
    const { pkg, log } = entry;
    const base = { packageId: pkg.packageId, workerId: this.id, work: pkg.status };
    const stage = pkg.stage.name;
    if (r.kind === 'done') {
      const to = r.to ?? pkg.stage.done;
      const ok = await recordOutcome(this.db, pkg, this.id, r, {
        // This worker runs the next stage itself (its loop claims as soon as this slot frees), so other
        // workers need no wake-up; the poll interval covers them if this one is busy.
        notify: this.state !== 'running' || !this.checkpoints.includes(to),
      });
      if (!ok) return this.lostOnWrite(entry);
      log.info(
        { outcome: 'done', from: pkg.status, to, duration_ms: this.elapsed(entry), reason: r.reason },
        `${stage}: ${pkg.status} → ${to}`,
      );
    } else if (r.kind === 'reject') {
      const ok = await recordOutcome(this.db, pkg, this.id, r);
      if (!ok) return this.lostOnWrite(entry);
      log.warn(
        {
          outcome: 'rejected',
          kind: r.rejection,
          reason: r.reason,
          from: pkg.status,
          to: 'Rejected',
          duration_ms: this.elapsed(entry),
        },
        `${stage}: ${pkg.status} → Rejected (${r.rejection}): ${r.reason}`,
      );
    } else {
      const res = await failTransient(this.db, {
        ...base,
        error: r.error,
        maxAttempts: this.config.maxAttempts,
        backoffBaseMs: this.config.retryBaseSeconds * 1000,
      });
      if (res === 'lost') return this.lostOnWrite(entry);
      const to = res === 'retry' ? pkg.checkpoint : 'Rejected';
      log.warn(
        {
          outcome: res === 'retry' ? 'retry' : 'rejected',
          kind: res === 'retry' ? undefined : 'error',
          error: r.error,
          attempt: pkg.attempts,
          from: pkg.status,
          to,
          duration_ms: this.elapsed(entry),
        },
        res === 'retry'
          ? `${stage}: ${pkg.status} → ${to} (attempt ${pkg.attempts} failed, will retry): ${r.error}`
          : `${stage}: ${pkg.status} → Rejected (error) after ${pkg.attempts} attempts: ${r.error}`,
      );
    }
  }

  private lostOnWrite(entry: InFlight): void {
    entry.log.warn(
      { outcome: 'discarded', duration_ms: this.elapsed(entry) },
      `${entry.pkg.stage.name}: lease lost before the outcome was recorded; nothing written`,
    );
  }

  private elapsed(entry: InFlight): number {
    return Math.round(performance.now() - entry.startedAt);
  }

  private async heartbeat(): Promise<void> {
    if (this.busy.heartbeat) return;
    this.busy.heartbeat = true;
    try {
      if (!this.registered) {
        await registerWorker(this.db, { id: this.id, hostname: hostname(), pid: process.pid, version: this.version });
        this.registered = true;
        this.log.info('registered in workers');
      } else {
        await heartbeatWorker(this.db, this.id, this.inFlight.size);
      }
    } catch (err) {
      this.log.warn({ err }, 'heartbeat failed');
    } finally {
      this.busy.heartbeat = false;
    }
  }

  private async extendLeasesOnce(): Promise<void> {
    if (this.busy.lease) return;
    const snapshot = [...this.inFlight.values()];
    if (snapshot.length === 0) return;
    this.busy.lease = true;
    try {
      const held = new Set(
        await extendLeases(this.db, {
          workerId: this.id,
          packageIds: snapshot.map((e) => e.pkg.packageId),
          leaseSeconds: this.config.leaseSeconds,
        }),
      );
      for (const e of snapshot) {
        if (held.has(e.pkg.packageId) || e.settling || this.inFlight.get(e.pkg.packageId) !== e) continue;
        e.lost = true;
        e.log.warn('lease lost (reset by the sweep or claimed elsewhere); aborting the stage, writing nothing');
        e.ac.abort(new StageAbort('lease_lost'));
      }
    } catch (err) {
      this.log.warn({ err }, 'extending leases failed; will retry');
    } finally {
      this.busy.lease = false;
    }
  }

  private async sweep(): Promise<void> {
    if (this.busy.sweep || this.state !== 'running') return;
    this.busy.sweep = true;
    try {
      const resets = await resetStuckPackages(this.db, {
        stuckTimeoutMinutes: this.config.stuckTimeoutMinutes,
        maxAttempts: this.config.maxAttempts,
        actor: `sweep:${this.id}`,
      });
      for (const r of resets) {
        this.log.warn(
          { packageId: r.packageId, from: r.from, to: r.to, why: r.why },
          `stuck sweep: package ${r.packageId} ${r.from} → ${r.to} (${r.why})`,
        );
      }
      await this.maintenance();
    } catch (err) {
      this.log.warn({ err }, 'stuck sweep failed; will retry');
    } finally {
      this.busy.sweep = false;
    }
  }

  private async connectListener(reconnect: boolean): Promise<void> {
    for (let delay = 250; this.state === 'running' && this.listenPool; delay = Math.min(delay * 2, 10_000)) {
      let client: ListenClient | null = null;
      let dropped = false;
      let established = false;
      const drop = (err?: Error) => {
        if (dropped) return;
        dropped = true;
        if (this.listenClient === client) this.listenClient = null;
        try {
          client?.release(err ?? true);
        } catch {
          // already released
        }
      };
      const onLost = (err?: Error) => {
        if (dropped) return;
        drop(err);
        // While connecting, the failing query reports the loss and the loop below retries.
        if (!established || this.state !== 'running') return;
        this.log.warn({ err }, 'LISTEN connection lost; reconnecting');
        void this.connectListener(true);
      };
      try {
        client = (await this.listenPool.connect()) as ListenClient;
        client.on('notification', (msg) => {
          if (msg.channel === WAKE_CHANNEL) this.wake();
        });
        client.on('error', onLost);
        client.on('end', () => onLost());
        await client.query(`LISTEN "${WAKE_CHANNEL}"`);
        if (dropped) throw new Error('the LISTEN connection closed while it was being set up');
        established = true;
        this.listenClient = client;
        this.log.info({ channel: WAKE_CHANNEL }, reconnect ? 'LISTEN re-established' : 'listening for wake-ups');
        // Anything announced while we were not listening is picked up now.
        this.wake();
        return;
      } catch (err) {
        drop(err as Error);
        if (this.state !== 'running') return;
        this.log.warn({ err, retryInMs: delay }, 'LISTEN connection failed; retrying');
        await sleep(delay);
      }
    }
  }

  /**
   * Graceful shutdown, idempotent: stop claiming; let work in flight finish for up to
   * WORKER_SHUTDOWN_TIMEOUT_SECONDS; abort what remains and return it to its checkpoint without
   * charging an attempt; mark the worker stopped; close connections. A second call skips the wait.
   * Resolves when stopped; never throws.
   */
  async shutdown(signal = 'shutdown'): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') {
      if (!this.forced && this.state === 'stopping') {
        this.forced = true;
        this.log.warn({ signal }, 'shutdown: second signal, skipping the wait and releasing in-flight work now');
        this.forceNow();
      }
      return this.stopped;
    }
    if (this.state === 'new') {
      this.state = 'stopped';
      this.markStopped();
      return this.stopped;
    }
    this.state = 'stopping';
    this.log.info({ signal, inFlight: this.inFlight.size }, 'shutdown: stopped claiming');
    this.wake();
    await this.loopDone;

    const all = () => Promise.all([...this.inFlight.values()].map((e) => e.done)).then(() => undefined);
    if (this.inFlight.size > 0 && !this.forced) {
      const timeoutSeconds = this.config.shutdownTimeoutSeconds;
      this.log.info({ inFlight: this.inFlight.size, timeoutSeconds }, 'shutdown: waiting for in-flight work to finish');
      await Promise.race([all(), sleep(timeoutSeconds * 1000), this.forcePromise]);
    }
    if (this.inFlight.size > 0) {
      this.log.warn({ packageIds: [...this.inFlight.keys()] }, 'shutdown: aborting in-flight work');
      for (const e of this.inFlight.values()) e.ac.abort(new StageAbort('shutdown'));
      await Promise.race([all(), sleep(2_000)]);
    }
    try {
      const released = await releaseToCheckpoint(this.db, {
        workerId: this.id,
        chargeAttempt: false,
        reason: `worker shutdown (${signal})`,
      });
      if (released.length)
        this.log.info({ packageIds: released }, 'shutdown: released to checkpoint, no attempt charged');
    } catch (err) {
      this.log.error({ err }, 'shutdown: releasing failed; the leases expire and the sweep returns the packages');
    }
    for (const t of this.timers) clearInterval(t);
    try {
      await markWorkerStopped(this.db, this.id);
    } catch (err) {
      this.log.warn({ err }, 'shutdown: could not mark the worker stopped');
    }
    this.state = 'stopped';
    this.wake();
    const listen = this.listenClient;
    this.listenClient = null;
    try {
      listen?.release(true);
    } catch {
      // already released
    }
    await this.listenPool?.end().catch(() => undefined);
    await this.db.destroy().catch(() => undefined);
    this.log.info('shutdown: complete');
    this.markStopped();
  }
}

function message(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message || err.name;
  }
  return String(err);
}

/**
 * Classifies a thrown error: PermanentError → rejected with its kind; a deterministic failure
 * (PostgreSQL data or integrity error, SQLSTATE class 22 or 23; a programming error: see
 * permanentCause) → rejected at once with kind `error` and the reason (the retry endpoint re-runs it
 * after the fix); anything else (TransientError, network errors, registry 5xx) → transient, retried
 * with backoff until WORKER_MAX_ATTEMPTS.
 */
export function classify(err: unknown): StageOutcome | { kind: 'transient'; error: string } {
  if (err instanceof PermanentError) return { kind: 'reject', rejection: err.kind, reason: err.message };
  const permanent = permanentCause(err);
  if (permanent) return { kind: 'reject', rejection: 'error', reason: permanent.slice(0, 2000) };
  return { kind: 'transient', error: message(err).slice(0, 2000) };
}
