import { Migrator, type MigrationProvider, type Migration, type MigrationResultSet } from 'kysely';
import type { DB } from './db.js';
import * as m0001 from './migrations/0001_initial.js';
import * as m0004 from './migrations/0004_lockfiles.js';

const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0004_lockfiles': m0004,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/** Applies every pending migration. Never throws; inspect `error` on the result. */
export async function migrateToLatest(db: DB): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  return migrator.migrateToLatest();
}
