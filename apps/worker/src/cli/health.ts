import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDb, isAppError, workerHeartbeatAge } from '@spm/db';
import { WORKER_ID_FILE } from '../base-worker.js';
import { loadHealthConfig } from '../config.js';

/**
 * Container health check: exits 0 when the worker (WORKER_ID, or the id it wrote to
 * PACKAGE_CACHE_DIR/.worker-id) has a heartbeat younger than HEALTH_MAX_AGE_SECONDS, else 1 with
 * the reason on stderr; 2 on invalid configuration.
 */
async function main(): Promise<number> {
  let config;
  try {
    config = loadHealthConfig();
  } catch (err) {
    process.stderr.write(`${isAppError(err) ? err.message : String(err)}\n`);
    return 2;
  }
  let id = config.workerId;
  if (!id) {
    try {
      id = (await readFile(join(config.packageCacheDir, WORKER_ID_FILE), 'utf8')).trim() || null;
    } catch {
      id = null;
    }
  }
  if (!id) {
    process.stderr.write(
      `unhealthy: no WORKER_ID and no ${WORKER_ID_FILE} in ${config.packageCacheDir} (has the worker started?)\n`,
    );
    return 1;
  }
  const { db } = createDb({ connectionString: config.databaseUrl, max: 1, applicationName: 'spm-worker-health' });
  try {
    const age = await workerHeartbeatAge(db, id);
    if (age === null) {
      process.stderr.write(`unhealthy: worker ${id} is not registered or has stopped\n`);
      return 1;
    }
    if (age > config.maxAgeSeconds) {
      process.stderr.write(
        `unhealthy: worker ${id} last heartbeat ${age.toFixed(1)} s ago (limit ${config.maxAgeSeconds} s)\n`,
      );
      return 1;
    }
    process.stdout.write(`healthy: worker ${id} heartbeat ${age.toFixed(1)} s ago\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`unhealthy: cannot read the heartbeat: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

process.exitCode = await main();
