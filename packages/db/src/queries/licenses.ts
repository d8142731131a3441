import { sql } from 'kysely';
import type { DB } from '../db.js';
import type { LicenseTier, SupportedLicense } from '../schema.js';
import { AppError } from '../errors.js';

export async function listLicenses(db: DB): Promise<SupportedLicense[]> {
  return db.selectFrom('supported_licenses').selectAll().orderBy('spdx_id').execute();
}

/** Case-insensitive lookup by SPDX id (SPDX ids are case-insensitive). */
export async function getLicense(db: DB, spdxId: string): Promise<SupportedLicense | undefined> {
  return db
    .selectFrom('supported_licenses')
    .selectAll()
    .where(sql<string>`lower(spdx_id)`, '=', spdxId.toLowerCase())
    .executeTakeFirst();
}

/** Adds a licence to the policy. Throws ERR_LICENSE_EXISTS (409) when the id (in any case) is already there. */
export async function createLicense(
  db: DB,
  l: { spdxId: string; name: string; tier: LicenseTier; notes: string | null },
): Promise<SupportedLicense> {
  if (await getLicense(db, l.spdxId)) {
    throw new AppError('ERR_LICENSE_EXISTS', `${l.spdxId} is already in the licence policy: edit it instead.`, {
      status: 409,
    });
  }
  const r = await db
    .insertInto('supported_licenses')
    .values({ spdx_id: l.spdxId, name: l.name, tier: l.tier, notes: l.notes })
    .onConflict((oc) => oc.column('spdx_id').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!r)
    throw new AppError('ERR_LICENSE_EXISTS', `${l.spdxId} is already in the licence policy: edit it instead.`, {
      status: 409,
    });
  return r;
}

export async function updateLicense(
  db: DB,
  spdxId: string,
  patch: { name?: string; tier?: LicenseTier; notes?: string | null },
): Promise<SupportedLicense | undefined> {
  return db
    .updateTable('supported_licenses')
    .set((eb) => ({
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.tier !== undefined ? { tier: patch.tier } : {}),
      ...(patch.notes !== undefined ? { notes: patch.notes } : {}),
      updated_at: eb.fn('now'),
    }))
    .where(sql<string>`lower(spdx_id)`, '=', spdxId.toLowerCase())
    .returningAll()
    .executeTakeFirst();
}

/**
 * How many packages reference the licence id: in their evaluated licence expression, or (not yet
 * evaluated) in the declared licence. Matches whole ids, case-insensitively; `GPL-2.0+` references `GPL-2.0`.
 */
export async function countLicenseUsage(db: DB, spdxId: string): Promise<number> {
  const escaped = spdxId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = `(^|[^A-Za-z0-9.-])${escaped}($|[^A-Za-z0-9.-])`;
  const r = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM package_status ps JOIN packages p ON p.id = ps.package_id
    WHERE ps.license_expression ~* ${pattern}
       OR (ps.license_expression IS NULL AND p.declared_license ~* ${pattern})
  `.execute(db);
  return r.rows[0]!.n;
}

/**
 * Removes a licence from the policy. Unless `force`, refuses with ERR_LICENSE_IN_USE (409) when packages
 * reference it. Returns false when there was no such licence.
 */
export async function deleteLicense(
  db: DB,
  spdxId: string,
  opts: { force: boolean },
): Promise<{ deleted: boolean; usage: number }> {
  const usage = await countLicenseUsage(db, spdxId);
  if (usage > 0 && !opts.force) {
    throw new AppError(
      'ERR_LICENSE_IN_USE',
      `${usage} package(s) use ${spdxId}: change its tier instead, or delete with ?force=true.`,
      { status: 409, details: { packages: usage } },
    );
  }
  const r = await db
    .deleteFrom('supported_licenses')
    .where(sql<string>`lower(spdx_id)`, '=', spdxId.toLowerCase())
    .executeTakeFirst();
  return { deleted: Number(r.numDeletedRows) > 0, usage };
}
