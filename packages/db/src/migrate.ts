import { Migrator, type MigrationProvider, type Migration, type MigrationResultSet } from 'kysely';
import type { DB } from './db.js';
import * as m0001 from './migrations/0001_initial.js';
import * as m0004 from './migrations/0004_lockfiles.js';
import * as m0005 from './migrations/0005_access.js';
import * as m0006 from './migrations/0006_policy.js';
import * as m0009 from './migrations/0009_priority.js';
import * as m0010 from './migrations/0010_fair_claim.js';
import * as m0011 from './migrations/0011_api_tokens.js';
import * as m0020 from './migrations/0020_webhooks.js';
import * as m0021 from './migrations/0021_protection.js';
import * as m0022 from './migrations/0022_request_package_order.js';

const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0004_lockfiles': m0004,
  '0005_access': m0005,
  '0006_policy': m0006,
  '0009_priority': m0009,
  '0010_fair_claim': m0010,
  '0011_api_tokens': m0011,
  '0020_webhooks': m0020,
  '0021_protection': m0021,
  '0022_request_package_order': m0022,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/**
 * Applies every pending migration. Never throws; inspect `error` on the result.
 *
 * Numbers are reserved per piece of work and may land out of order (0006 before 0005): an
 * unordered migration is applied rather than refused, so a database that already ran a later number
 * still receives an earlier one that landed after it. Each migration must therefore stand on its own.
 */
export async function migrateToLatest(db: DB): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: new StaticProvider(), allowUnorderedMigrations: true });
  return migrator.migrateToLatest();
}
