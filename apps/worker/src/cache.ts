import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import ssri from 'ssri';

/**
 * The content-addressed tarball cache under PACKAGE_CACHE_DIR. A tarball is stored once, under the
 * sha512 of its bytes, at `sha512/<hex[0:2]>/<hex>.tgz`; that relative path is the `storage_key`
 * recorded in package_status. Files appear by atomic rename, so a reader never sees a partial file.
 */

const KEY_RE = /^sha512\/[0-9a-f]{2}\/[0-9a-f]{128}\.tgz$/;

/** The storage key for a tarball whose sha512 hex digest is `hex`. */
export function storageKeyForHex(hex: string): string {
  const h = hex.toLowerCase();
  if (!/^[0-9a-f]{128}$/.test(h)) throw new Error(`not a sha512 hex digest: ${hex}`);
  return `sha512/${h.slice(0, 2)}/${h}.tgz`;
}

/** The storage key for an SRI string, when it carries a sha512 hash; otherwise null. */
export function storageKeyForIntegrity(integrity: string | null | undefined): string | null {
  if (!integrity) return null;
  const parsed = ssri.parse(integrity);
  const hash = parsed?.sha512?.[0];
  if (!hash) return null;
  const hex = Buffer.from(hash.digest, 'base64').toString('hex');
  return hex.length === 128 ? storageKeyForHex(hex) : null;
}

/**
 * The absolute path of a stored key. Throws for anything that is not a well-formed key, so a key read
 * from the database can never point outside the cache directory.
 */
export function cachePath(cacheDir: string, key: string): string {
  if (!KEY_RE.test(key)) throw new Error(`not a storage key: ${key}`);
  const p = resolve(cacheDir, key);
  const rel = relative(resolve(cacheDir), p);
  if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..'))
    throw new Error(`storage key escapes the cache: ${key}`);
  return p;
}

/** A fresh path for a download in progress (same filesystem as the cache, so rename is atomic). */
export async function tempPath(cacheDir: string): Promise<string> {
  const dir = join(cacheDir, 'tmp');
  await mkdir(dir, { recursive: true });
  return join(dir, `${Date.now()}-${randomBytes(6).toString('hex')}.part`);
}

/**
 * Moves a verified file into the cache under `key`, the sha512 of its bytes (atomic: a reader sees the
 * old file or the new one; replacing a copy with the same bytes, or a corrupt one, is harmless).
 */
export async function storeFile(cacheDir: string, tmpFile: string, key: string): Promise<string> {
  const dest = cachePath(cacheDir, key);
  await mkdir(dirname(dest), { recursive: true });
  await rename(tmpFile, dest);
  return dest;
}

/** Opens a stored tarball for streaming (for publishing or scanning). Throws ENOENT when absent. */
export function openCached(cacheDir: string, key: string): ReadStream {
  return createReadStream(cachePath(cacheDir, key));
}

/** Reads a stored tarball into memory. */
export function readCached(cacheDir: string, key: string): Promise<Buffer> {
  return readFile(cachePath(cacheDir, key));
}

/** Size in bytes of a stored tarball, or null when it is not stored. */
export async function cachedSize(cacheDir: string, key: string): Promise<number | null> {
  try {
    return (await stat(cachePath(cacheDir, key))).size;
  } catch {
    return null;
  }
}

/**
 * Hashes a stored file with every algorithm npm uses (sha512 and sha1, plus any in `also`).
 * Returns null when it is not stored.
 */
export async function hashCached(
  cacheDir: string,
  key: string,
  opts: { signal?: AbortSignal; also?: string[] } = {},
): Promise<{ integrity: ssri.IntegrityMap; size: number } | null> {
  const path = cachePath(cacheDir, key);
  try {
    await stat(path);
  } catch {
    return null;
  }
  const hasher = new MultiHasher(opts.also);
  const stream = createReadStream(path, { signal: opts.signal });
  for await (const chunk of stream) hasher.update(chunk as Buffer);
  return hasher.digest();
}

/** Hashes a byte stream with sha512, sha1 and any extra algorithms at once, counting bytes. */
export class MultiHasher {
  private readonly hashes: Map<string, ReturnType<typeof createHash>>;
  size = 0;

  constructor(also: string[] = []) {
    const algos = new Set([
      'sha512',
      'sha1',
      ...also.filter((a) => ['sha256', 'sha384', 'sha512', 'sha1'].includes(a)),
    ]);
    this.hashes = new Map([...algos].map((a) => [a, createHash(a)]));
  }

  update(chunk: Buffer): void {
    this.size += chunk.length;
    for (const h of this.hashes.values()) h.update(chunk);
  }

  digest(): { integrity: ssri.IntegrityMap; size: number } {
    const sri = [...this.hashes].map(([a, h]) => `${a}-${h.digest('base64')}`).join(' ');
    return { integrity: ssri.parse(sri), size: this.size };
  }
}
