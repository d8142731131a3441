import { resolve } from 'node:path';
import { createDb, isAppError, severitiesFrom } from '@spm/db';
import { loadAdvisoryConfig } from '../config.js';
import { importAdvisories, type ImportSummary } from '../scan/advisory-import.js';
import { runIfEntryPoint } from './run.js';

const USAGE = 'usage: advisories-import <file.json | directory | export.zip> [--force]';

/** Prints the summary, listing at most 20 rejected records. */
export function printSummary(s: ImportSummary, out: (line: string) => void): void {
  out(
    `read ${s.read} documents: ${s.written} advisories written, ${s.unchanged} unchanged, ${s.skipped} without npm packages, ${s.rejected.length} rejected`,
  );
  for (const r of s.rejected.slice(0, 20)) out(`  rejected ${r.id ?? '(no id)'} from ${r.source}: ${r.error}`);
  if (s.rejected.length > 20) out(`  … and ${s.rejected.length - 20} more`);
  const r = s.reevaluation;
  out(
    `re-evaluated against approved and published versions: ${r.newlyAffected} newly affected (${r.quarantined} quarantined), ${r.matched} matches in all, ${r.resolved} resolved`,
  );
}

/**
 * `pnpm advisories:import <path> [--force]`: imports OSV advisories from a file, a directory or a zip.
 * Exit codes: 0 done (malformed records are reported, not fatal), 1 failure, 2 usage or configuration.
 */
export async function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const force = argv.includes('--force');
  const paths = argv.filter((a) => a !== '--force');
  if (paths.length !== 1 || paths[0]!.startsWith('-')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let config;
  try {
    config = loadAdvisoryConfig(env);
  } catch (err) {
    process.stderr.write(`${isAppError(err) ? err.message : String(err)}\n`);
    return 2;
  }
  const { db } = createDb({ connectionString: config.databaseUrl, max: 2, applicationName: 'spm-advisories-import' });
  try {
    // `pnpm advisories:import ./x.zip` runs in apps/worker; a relative path means the caller's directory.
    const source = resolve(env.INIT_CWD ?? process.cwd(), paths[0]!);
    const summary = await importAdvisories(db, source, {
      force,
      quarantineSeverities: severitiesFrom(config.quarantineSeverity),
    });
    printSummary(summary, (l) => process.stdout.write(`${l}\n`));
    return 0;
  } catch (err) {
    process.stderr.write(`advisory import failed: ${(err as Error).message}\n`);
    // 42P01 undefined_table: the database exists but was never migrated.
    if ((err as { code?: unknown }).code === '42P01') {
      process.stderr.write(
        'The database has no advisories table yet: run `pnpm migrate` (with the same DATABASE_URL) first, then import again.\n',
      );
    }
    return 1;
  } finally {
    await db.destroy();
  }
}

runIfEntryPoint(import.meta.url, (argv) => main(argv));
