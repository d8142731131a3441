import { rm } from 'node:fs/promises';
import ssri from 'ssri';
import { hashCached, storageKeyForHex, storageKeyForIntegrity, storeFile, tempPath } from '../cache.js';
import { PermanentError } from '../errors.js';
import type { SourceRegistry, VersionDocument } from '../registry/source.js';
import type { StageHandler } from './types.js';

/** The registry's integrity for a version: `dist.integrity`, else `dist.shasum` as a sha1 SRI. */
export function registryIntegrity(doc: VersionDocument): string | null {
  const integrity = doc.dist?.integrity;
  if (typeof integrity === 'string' && ssri.parse(integrity) && Object.keys(ssri.parse(integrity)).length)
    return integrity;
  const shasum = doc.dist?.shasum;
  if (typeof shasum === 'string' && /^[0-9a-f]{40}$/i.test(shasum)) {
    return `sha1-${Buffer.from(shasum, 'hex').toString('base64')}`;
  }
  return null;
}

const NPM_ALGORITHMS = ['sha1', 'sha256', 'sha384', 'sha512'];

/** An SRI value npm could have written: only sha1/sha256/sha384/sha512 hashes, at least one. */
function validSri(value: string): boolean {
  const parsed = ssri.parse(value);
  const algos = parsed ? Object.keys(parsed) : [];
  return algos.length > 0 && algos.every((a) => NPM_ALGORITHMS.includes(a));
}

/**
 * The download stage. Only the source registry is trusted for bytes: the tarball URL comes from its
 * version document and must be on its origin (the lockfile's `resolved` is user input and is never
 * fetched). The tarball is streamed to a temp file with a size cap and timeout, verified against the
 * lockfile's integrity and the registry's, and stored under the sha512 of the bytes received. A stored
 * copy is reused without downloading only when the registry's own sha512 names it (so a worker that
 * crashed after storing does not fetch again); a registry entry with only a sha1 `shasum`, or none, is
 * always downloaded and hashed. A shared stored file is never deleted by this stage.
 */
export function createDownloadStage(deps: { registry: SourceRegistry }): StageHandler {
  return async ({ pkg, signal, config, log }) => {
    const what = `${pkg.name}@${pkg.version}`;
    const { doc, publishedAt, deprecated } = await deps.registry.versionFacts(pkg.name, pkg.version, signal);
    const fromRegistry = registryIntegrity(doc);
    const fromLockfile = pkg.integrity?.trim() || null;
    if (fromLockfile && !validSri(fromLockfile)) {
      throw new PermanentError(
        'error',
        `${what}: the lockfile's integrity "${fromLockfile.slice(0, 200)}" is not a valid SRI value`,
      );
    }
    const expected = [fromLockfile, fromRegistry].filter((x): x is string => !!x);
    if (expected.length === 0) {
      throw new PermanentError(
        'error',
        `${what}: nothing to verify the tarball against (no integrity in the lockfile and none in the source registry)`,
      );
    }
    // Two SRI values with a common algorithm must agree before anything is downloaded.
    if (fromLockfile && fromRegistry) {
      const l = ssri.parse(fromLockfile);
      const r = ssri.parse(fromRegistry);
      const common = Object.keys(l).filter((a) => a in r);
      if (common.length && !l.match(r)) {
        throw new PermanentError(
          'error',
          `${what}: integrity mismatch: the lockfile says ${fromLockfile} but the source registry says ${fromRegistry}`,
        );
      }
    }

    const tarball = typeof doc.dist?.tarball === 'string' ? doc.dist.tarball : null;
    if (!tarball)
      throw new PermanentError('error', `${what}: the source registry's version document has no dist.tarball`);
    let url: URL;
    try {
      url = new URL(tarball, deps.registry.base);
    } catch {
      throw new PermanentError('policy', `${what}: the registry's tarball URL "${tarball.slice(0, 200)}" is not a URL`);
    }
    if (!deps.registry.isOnOrigin(url)) {
      throw new PermanentError(
        'policy',
        `${what}: the tarball URL ${url.href} is not on the source registry's origin ${deps.registry.base.origin}; refusing to fetch it`,
      );
    }
    if (pkg.resolved && !deps.registry.isOnOrigin(pkg.resolved)) {
      log.info({ resolved: pkg.resolved }, 'the lockfile resolves this package elsewhere; recorded, not fetched');
    }

    const algorithms = expected.flatMap((e) => Object.keys(ssri.parse(e)));
    /** Throws a PermanentError unless the bytes match the lockfile's and the registry's integrity. */
    const verify = (got: ssri.IntegrityMap, source: string) => {
      for (const [label, value] of [
        ['the lockfile', fromLockfile],
        ['the source registry', fromRegistry],
      ] as const) {
        if (value && !got.match(value)) {
          const algo = Object.keys(ssri.parse(value))[0] ?? 'sha512';
          const actual = got
            .toString()
            .split(' ')
            .find((h) => h.startsWith(`${algo}-`));
          throw new PermanentError(
            'error',
            `${what}: integrity mismatch: ${label} says ${value} but ${source} is ${actual}` +
              (fromLockfile && fromRegistry ? ` (lockfile: ${fromLockfile}; registry: ${fromRegistry})` : ''),
          );
        }
      }
    };

    // A stored copy is reused only when the registry names its sha512: the cache is keyed by the
    // sha512 of verified bytes, and nothing the lockfile says picks which stored bytes are used. A
    // stored file is never deleted here (other packages may share it); a corrupt one is replaced
    // atomically by verified bytes under the same key.
    const registryKey = storageKeyForIntegrity(fromRegistry);
    let result: { integrity: ssri.IntegrityMap; size: number } | null = null;
    let key: string | null = null;
    if (registryKey) {
      const stored = await hashCached(config.packageCacheDir, registryKey, { signal, also: algorithms });
      if (stored && stored.integrity.match(fromRegistry!)) {
        verify(stored.integrity, 'the copy the registry names');
        result = stored;
        key = registryKey;
      }
    }
    const reused = result !== null;
    if (!result) {
      const tmp = await tempPath(config.packageCacheDir);
      try {
        result = await deps.registry.downloadTo(url, tmp, {
          maxBytes: config.downloadMaxBytes,
          signal,
          what,
          algorithms,
        });
        verify(result.integrity, 'the downloaded tarball');
        key = storageKeyForHex(Buffer.from(result.integrity.sha512![0]!.digest, 'base64').toString('hex'));
        await storeFile(config.packageCacheDir, tmp, key);
      } finally {
        await rm(tmp, { force: true });
      }
    }
    const checksum = result.integrity.sha512![0]!.toString();
    return {
      kind: 'done',
      // The registry's facts the policy reads later (age, deprecation) are kept with the bytes they describe.
      patch: {
        checksum,
        size_bytes: result.size,
        storage_key: key,
        registry_integrity: fromRegistry,
        registry_published_at: publishedAt,
        registry_deprecated: deprecated,
      },
      reason: reused
        ? 'verified copy already stored; not downloaded again'
        : `downloaded ${result.size} bytes, integrity verified`,
      details: {
        size: result.size,
        storageKey: key,
        reused,
        verifiedAgainst: { lockfile: !!fromLockfile, registry: !!fromRegistry },
      },
    };
  };
}
