import { listLicenseTiers, type DB } from '@spm/db';
import { tierTable, type TierTable } from './policy.js';

/**
 * The licence policy from `supported_licenses`, read at most once per `ttlMs` (default 5 s), so an
 * admin's edit applies to the next packages without a restart. Concurrent callers share one read.
 * A failed read is not cached and rethrows (the stage then fails transiently).
 */
export class LicencePolicyCache {
  private table: TierTable | null = null;
  private expires = 0;
  private pending: Promise<TierTable> | null = null;

  constructor(private readonly ttlMs = 5_000) {}

  async get(db: DB): Promise<TierTable> {
    if (this.table && Date.now() < this.expires) return this.table;
    this.pending ??= listLicenseTiers(db)
      .then((rows) => {
        this.table = tierTable(rows);
        this.expires = Date.now() + this.ttlMs;
        return this.table;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }
}
