import { createRequire } from 'node:module';
import { isAppError } from '@spm/db';
import { loadConfig, type WorkerConfig } from './config.js';
import { createLogger } from './logger.js';
import { PackageWorker } from './package-worker.js';
import { AdvisorySyncScheduler } from './protection/advisory-scheduler.js';
import { WebhookDispatcher } from './webhooks.js';

/**
 * The worker daemon. Exit codes: 0 after a graceful shutdown, 1 on a fatal error, 2 on invalid
 * configuration (the one-line message names every problem).
 */
async function main(): Promise<void> {
  let config: WorkerConfig;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${isAppError(err) ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger(config);
  const version = (createRequire(import.meta.url)('../package.json') as { version?: string }).version ?? null;
  const worker = new PackageWorker({ config, logger: log, version });
  const webhooks = new WebhookDispatcher(config, log.child({ component: 'webhooks' }));
  // ADVISORIES_SYNC_INTERVAL unset: no scheduled sync (imports by `pnpm advisories:import|sync` still re-evaluate).
  const advisorySync = config.advisoriesSyncIntervalSeconds
    ? new AdvisorySyncScheduler(config, log.child({ component: 'advisory-sync' }), { workerId: worker.id })
    : null;

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      void webhooks.stop();
      void advisorySync?.stop();
      void worker.shutdown(signal);
    });
  }
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception; exiting (leases expire and the packages return to their checkpoints)');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection; exiting (leases expire and the packages return to their checkpoints)');
    process.exit(1);
  });

  try {
    await worker.start();
    webhooks.start();
    advisorySync?.start();
  } catch (err) {
    log.fatal({ err }, 'the worker could not start');
    process.exit(1);
  }
  await worker.stopped;
  await Promise.all([webhooks.stop(), advisorySync?.stop()]);
  process.exit(0);
}

void main();
