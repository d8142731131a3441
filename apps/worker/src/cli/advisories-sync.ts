import { createDb, isAppError, severitiesFrom } from '@spm/db';
import { loadAdvisoryConfig } from '../config.js';
import { syncAdvisories } from '../scan/advisory-sync.js';
import { printSummary } from './advisories-import.js';
import { runIfEntryPoint } from './run.js';

/**
 * `node dist/cli/advisories-sync.js [--force]`: downloads the OSV zip at ADVISORIES_URL (there is no
 * default host: point it at the OSV npm export or a mirror) and imports it.
 * Exit codes: 0 done, 1 failure, 2 usage or configuration.
 */
export async function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const force = argv.includes('--force');
  if (argv.some((a) => a !== '--force')) {
    process.stderr.write('usage: advisories-sync [--force]   (downloads ADVISORIES_URL)\n');
    return 2;
  }
  let config;
  try {
    config = loadAdvisoryConfig(env);
    if (!config.advisoriesUrl) throw new Error('Invalid environment: ADVISORIES_URL is required for advisories-sync');
  } catch (err) {
    process.stderr.write(`${isAppError(err) || err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const { db } = createDb({ connectionString: config.databaseUrl, max: 2, applicationName: 'spm-advisories-sync' });
  try {
    const summary = await syncAdvisories(db, {
      url: config.advisoriesUrl,
      token: config.advisoriesToken,
      maxBytes: config.advisoriesMaxBytes,
      timeoutMs: config.advisoriesTimeoutSeconds * 1000,
      force,
      quarantineSeverities: severitiesFrom(config.quarantineSeverity),
    });
    if (summary.notModified) {
      process.stdout.write('not modified since the last sync\n');
      return 0;
    }
    process.stdout.write(`downloaded ${summary.bytes} bytes\n`);
    printSummary(summary, (l) => process.stdout.write(`${l}\n`));
    return 0;
  } catch (err) {
    process.stderr.write(`advisory sync failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}

runIfEntryPoint(import.meta.url, (argv) => main(argv));
