import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import ssri from 'ssri';
import { readTarballManifest } from '@spm/tarball';

export interface TarballInfo {
  manifest: Record<string, unknown>;
  shasum: string;
}

/**
 * The stored tarballs of published packages, read from PACKAGE_CACHE_DIR. The manifest of each tarball
 * is read once (after checking the bytes against the recorded checksum) and kept in a small LRU keyed
 * by checksum, which is content-addressed and so never goes stale.
 */
export class TarballStore {
  private readonly root: string;
  private readonly cache = new Map<string, TarballInfo>();

  constructor(
    cacheDir: string,
    private readonly maxEntries = 2000,
  ) {
    this.root = resolve(cacheDir);
  }

  /** The file of a storage key, or null when the key would leave the cache directory. */
  path(storageKey: string): string | null {
    const path = resolve(this.root, storageKey);
    const rel = relative(this.root, path);
    if (!rel || rel.startsWith('..') || isAbsolute(rel)) return null;
    return path;
  }

  /**
   * The manifest and sha1 of a stored tarball. Throws when the file is missing, does not match
   * `checksum`, or holds no readable package.json.
   */
  async describe(storageKey: string, checksum: string): Promise<TarballInfo> {
    const hit = this.cache.get(checksum);
    if (hit) {
      this.cache.delete(checksum);
      this.cache.set(checksum, hit);
      return hit;
    }
    const path = this.path(storageKey);
    if (!path) throw new Error(`storage key ${JSON.stringify(storageKey)} points outside the package cache`);
    const bytes = await readFile(path);
    if (ssri.checkData(bytes, checksum) === false)
      throw new Error(`stored tarball ${storageKey} does not match its checksum`);
    const info: TarballInfo = {
      manifest: await readTarballManifest(bytes),
      shasum: createHash('sha1').update(bytes).digest('hex'),
    };
    this.cache.set(checksum, info);
    if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    return info;
  }
}
