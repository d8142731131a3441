import { createDb } from '../db.js';
import { migrateToLatest } from '../migrate.js';
import { seedLicenses } from '../seed.js';

/** `pnpm migrate`: applies pending migrations and the default licence policy; exits non-zero on failure. */
async function main(): Promise<number> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('Invalid environment: DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/spm)');
    return 2;
  }
  const { db } = createDb({ connectionString: url, max: 1, applicationName: 'spm-migrate' });
  try {
    const { error, results } = await migrateToLatest(db);
    for (const r of results ?? []) console.log(`migration ${r.migrationName}: ${r.status}`);
    if (error) {
      console.error('migration failed:', error);
      return 1;
    }
    const n = await seedLicenses(db);
    console.log(`licence policy: ${n} default entries added`);
    return 0;
  } catch (err) {
    console.error('migration failed:', err);
    return 1;
  } finally {
    await db.destroy();
  }
}

process.exitCode = await main();
