import { rm } from 'node:fs/promises';
import ssri from 'ssri';
import { storageKeyForHex, storageKeyForIntegrity, storeFile, tempPath, verifyCached } from '../cache.js';
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
 * lockfile's integrity and the registry's, and stored content-addressed. A copy already stored that
 * verifies is reused without downloading (a worker that crashed after storing does not fetch again).
 */
export function createDownloadStage(deps: { registry: SourceRegistry }): StageHandler {
  return async ({ pkg, signal, config, log }) => {
    const what = `${pkg.name}@${pkg.version}`;
    const doc = await deps.registry.versionDocument(pkg.name, pkg.version, signal);
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
    const knownKey = expected.map(storageKeyForIntegrity).find((k): k is string => !!k);
    let reused = false;
    let result = knownKey ? await verifyCached(config.packageCacheDir, knownKey, expected, signal) : null;
    let key = knownKey;
    if (result) {
      reused = true;
    } else {
      const tmp = await tempPath(config.packageCacheDir);
      try {
        result = await deps.registry.downloadTo(url, tmp, {
          maxBytes: config.downloadMaxBytes,
          signal,
          what,
          algorithms,
        });
        for (const [label, value] of [
          ['the lockfile', fromLockfile],
          ['the source registry', fromRegistry],
        ] as const) {
          if (value && !result.integrity.match(value)) {
            const algo = Object.keys(ssri.parse(value))[0] ?? 'sha512';
            const actual = result.integrity
              .toString()
              .split(' ')
              .find((h) => h.startsWith(`${algo}-`));
            throw new PermanentError(
              'error',
              `${what}: integrity mismatch: ${label} says ${value} but the downloaded tarball is ${actual}` +
                (fromLockfile && fromRegistry ? ` (lockfile: ${fromLockfile}; registry: ${fromRegistry})` : ''),
            );
          }
        }
        key = storageKeyForHex(Buffer.from(result.integrity.sha512![0]!.digest, 'base64').toString('hex'));
        await storeFile(config.packageCacheDir, tmp, key);
      } finally {
        await rm(tmp, { force: true });
      }
    }
    const checksum = result.integrity.sha512![0]!.toString();
    return {
      kind: 'done',
      patch: { checksum, size_bytes: result.size, storage_key: key, registry_integrity: fromRegistry },
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
