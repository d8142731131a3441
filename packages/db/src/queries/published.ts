import type { DB } from '../db.js';
import { quarantineSubquery, type QuarantiningAdvisory } from './advisory-findings.js';

/** One known version of a package, as the built-in registry sees it. */
export interface RegistryVersion {
  packageId: number;
  name: string;
  version: string;
  status: string;
  /** sha512 SRI of the stored tarball (null until downloaded). */
  checksum: string | null;
  /** Path of the stored tarball relative to PACKAGE_CACHE_DIR. */
  storageKey: string | null;
  sizeBytes: number | null;
  publishedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** The advisories holding this version in quarantine (null: not quarantined). */
  quarantinedBy: QuarantiningAdvisory[] | null;
}

function registryVersions(db: DB) {
  return db
    .selectFrom('packages as p')
    .innerJoin('package_status as ps', 'ps.package_id', 'p.id')
    .select([
      'p.id as packageId',
      'p.name',
      'p.version',
      'ps.status',
      'ps.checksum',
      'ps.storage_key as storageKey',
      'ps.size_bytes as sizeBytes',
      'ps.published_at as publishedAt',
      'p.created_at as createdAt',
      'ps.updated_at as updatedAt',
      quarantineSubquery.as('quarantinedBy'),
    ]);
}

/**
 * Every known version of `name` (any status), in insertion order. The built-in registry lists the
 * Published ones and uses the others to explain why a version is not available. Unknown name: [].
 */
export async function listRegistryVersions(db: DB, name: string): Promise<RegistryVersion[]> {
  return registryVersions(db).where('p.name', '=', name).orderBy('p.id').execute();
}

/** One version of `name`, whatever its status, or undefined when it was never submitted. */
export async function findRegistryVersion(db: DB, name: string, version: string): Promise<RegistryVersion | undefined> {
  return registryVersions(db).where('p.name', '=', name).where('p.version', '=', version).executeTakeFirst();
}
