import pino from 'pino';
import { claimPackages, completeStage, failTransient, rejectHeldPackage, Status, type DB } from '@spm/db';
import { loadConfig, type WorkerConfig } from '../../src/config.js';
import { PermanentError } from '../../src/errors.js';
import type { StageHandler } from '../../src/stages/types.js';

export const silentLog = pino({ level: 'silent' });

/** A worker configuration for tests: no real source registry is contacted by the publish stage. */
export function publishConfig(opts: {
  databaseUrl: string;
  cacheDir: string;
  targetUrl?: string;
  targetToken?: string;
}): WorkerConfig {
  return loadConfig(
    {
      DATABASE_URL: opts.databaseUrl,
      SOURCE_REGISTRY_URL: 'http://127.0.0.1:9/',
      PACKAGE_CACHE_DIR: opts.cacheDir,
      TARGET_REGISTRY_URL: opts.targetUrl,
      TARGET_REGISTRY_TOKEN: opts.targetToken,
      DOWNLOAD_TIMEOUT_SECONDS: '30',
      LOG_LEVEL: 'silent',
      LOG_FORMAT: 'json',
    },
    { npmRegistry: () => null },
  );
}

export interface RoundResult {
  packageId: number;
  outcome: 'done' | 'rejected' | 'retry' | 'lost';
  error?: string;
}

/**
 * One worker cycle for the publish stage through the real queue SQL: claim what is runnable, run the
 * stage, and record the outcome the way PackageWorker does (complete, reject, or transient failure).
 * `crashAfterStage` stops after the stage ran, leaving the package held, as a worker killed between
 * the PUT and the status write would.
 */
export async function runPublishRound(
  db: DB,
  config: WorkerConfig,
  stage: StageHandler,
  opts: { workerId?: string; crashAfterStage?: boolean } = {},
): Promise<RoundResult[]> {
  const workerId = opts.workerId ?? 'test-worker';
  const claimed = await claimPackages(db, { workerId, limit: 20, leaseSeconds: 60 });
  const results: RoundResult[] = [];
  for (const pkg of claimed) {
    if (pkg.status !== Status.Publishing)
      throw new Error(`unexpected claim of ${pkg.name}@${pkg.version} in ${pkg.status}`);
    const target = { packageId: pkg.packageId, workerId, work: pkg.status };
    try {
      const out = await stage({ pkg, signal: new AbortController().signal, log: silentLog, db, config, workerId });
      if (opts.crashAfterStage) {
        results.push({ packageId: pkg.packageId, outcome: 'lost' });
        continue;
      }
      if (out.kind === 'done') {
        await completeStage(db, {
          ...target,
          to: out.to ?? pkg.stage.done,
          via: out.via,
          patch: out.patch,
          reason: out.reason,
          details: out.details,
        });
        results.push({ packageId: pkg.packageId, outcome: 'done' });
      } else {
        await rejectHeldPackage(db, { ...target, kind: out.rejection, reason: out.reason, patch: out.patch });
        results.push({ packageId: pkg.packageId, outcome: 'rejected', error: out.reason });
      }
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof PermanentError) {
        await rejectHeldPackage(db, { ...target, kind: err.kind, reason: message });
        results.push({ packageId: pkg.packageId, outcome: 'rejected', error: message });
      } else {
        const r = await failTransient(db, {
          ...target,
          error: message,
          maxAttempts: config.maxAttempts,
          backoffBaseMs: 1000,
        });
        results.push({ packageId: pkg.packageId, outcome: r === 'rejected' ? 'rejected' : r, error: message });
      }
    }
  }
  return results;
}
