import type { DB } from '../db.js';
import type { LicenseTier } from '../schema.js';

/** The licence policy as the worker needs it: every SPDX id (or `X WITH Y` combination) and its tier. */
export async function listLicenseTiers(db: DB): Promise<Array<{ spdxId: string; tier: LicenseTier }>> {
  const rows = await db.selectFrom('supported_licenses').select(['spdx_id', 'tier']).execute();
  return rows.map((r) => ({ spdxId: r.spdx_id, tier: r.tier }));
}
