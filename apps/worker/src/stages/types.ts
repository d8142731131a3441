import type { Logger } from 'pino';
import type { ClaimedPackage, DB, NewSecurityScan, StagePatch } from '@spm/db';
import type { WorkerConfig } from '../config.js';

/** What a stage gets: the claimed package, its cancel signal and child logger, and shared services. */
export interface StageContext {
  pkg: ClaimedPackage;
  /** Aborted on shutdown deadline or when the lease is lost. Stages must pass it to every I/O call. */
  signal: AbortSignal;
  log: Logger;
  db: DB;
  config: WorkerConfig;
  workerId: string;
}

/**
 * How a stage ended, when it did not throw. `done` moves the package to the stage's `done` checkpoint
 * (or `to`, passing through `via`); `reject` ends it Rejected. Transient failures are thrown as
 * TransientError, permanent ones as PermanentError (see ../errors.ts). A stage writes nothing itself:
 * everything it has to record (`patch`, `details`, a `scan`) is written by the worker in the fenced,
 * lease-checked completion, so a worker that lost its lease writes nothing at all.
 */
export type StageOutcome =
  | {
      kind: 'done';
      patch?: StagePatch;
      reason?: string;
      details?: unknown;
      to?: string;
      via?: string[];
      scan?: NewSecurityScan;
      /** The earliest next claim when `to` is a checkpoint (a cooldown); default now. */
      runAt?: Date;
    }
  | {
      kind: 'reject';
      rejection: 'policy' | 'error';
      reason: string;
      patch?: StagePatch;
      details?: unknown;
      scan?: NewSecurityScan;
    };

export type StageHandler = (ctx: StageContext) => Promise<StageOutcome>;
