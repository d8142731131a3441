import { readFile } from 'node:fs/promises';
import ssri from 'ssri';
import { cachePath } from '../cache.js';
import { PermanentError, TransientError } from '../errors.js';
import { ManifestError, readTarballManifest } from '@spm/tarball';
import { TargetRegistryClient, type FetchFn } from '../registry-target/client.js';
import { publishToTarget } from '../registry-target/publish.js';
import { withoutCredentials } from '../registry-target/protocol.js';
import type { StageContext, StageHandler } from './types.js';

/** What `published_to` says when no target registry is configured: the API's built-in registry serves it. */
export const BUILTIN_REGISTRY = 'builtin';

export interface PublishStageDeps {
  /** HTTP to the target registry (tests wrap it to count requests). */
  fetch?: FetchFn;
  now?: () => Date;
}

/** The stored tarball's path (see cache.ts); a malformed storage key is a permanent error. */
export function storedTarballPath(cacheDir: string, storageKey: string): string {
  try {
    return cachePath(cacheDir, storageKey);
  } catch (err) {
    throw new PermanentError('error', `storage key ${JSON.stringify(storageKey)} is not a valid cache key`, {
      cause: err,
    });
  }
}

async function readVerifiedTarball(ctx: StageContext): Promise<Buffer> {
  const { pkg, config, signal } = ctx;
  if (!pkg.storageKey || !pkg.checksum) {
    throw new PermanentError(
      'error',
      `${pkg.name}@${pkg.version} has no stored tarball (storage key or checksum missing); it must be downloaded again`,
    );
  }
  const path = storedTarballPath(config.packageCacheDir, pkg.storageKey);
  let bytes: Buffer;
  try {
    bytes = await readFile(path, { signal });
  } catch (err) {
    if (signal.aborted) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new PermanentError(
        'error',
        `the stored tarball of ${pkg.name}@${pkg.version} is missing from PACKAGE_CACHE_DIR (${pkg.storageKey}); ` +
          'every worker must share the same cache directory',
      );
    }
    throw new TransientError(`reading the stored tarball failed: ${(err as Error).message}`, { cause: err });
  }
  // The bytes published must be exactly the ones vetted: the stored checksum and the lockfile's integrity.
  if (ssri.checkData(bytes, pkg.checksum) === false) {
    throw new PermanentError(
      'error',
      `the stored tarball of ${pkg.name}@${pkg.version} no longer matches its checksum ${pkg.checksum}; it must be downloaded again`,
    );
  }
  if (pkg.integrity && ssri.checkData(bytes, pkg.integrity) === false) {
    throw new PermanentError(
      'error',
      `the stored tarball of ${pkg.name}@${pkg.version} does not match the lockfile integrity ${pkg.integrity}`,
    );
  }
  return bytes;
}

/**
 * Builds the publish stage (Approved → Publishing → Published). It reads the stored tarball and
 * verifies it against the recorded checksum (and the lockfile's integrity), takes the version document
 * from the tarball's own package.json, and publishes exactly those bytes to TARGET_REGISTRY_URL over
 * the npm publish protocol (see publishToTarget: idempotent, read back and verified). Without a target
 * the stage still verifies the bytes and completes: the API's built-in registry serves the package.
 */
export function createPublishStage(deps: PublishStageDeps = {}): StageHandler {
  const now = deps.now ?? (() => new Date());
  return async (ctx) => {
    const { pkg, config, log, signal } = ctx;
    const tarball = await readVerifiedTarball(ctx);
    let manifest: Record<string, unknown>;
    try {
      manifest = await readTarballManifest(tarball);
    } catch (err) {
      if (err instanceof ManifestError)
        throw new PermanentError('error', `cannot publish ${pkg.name}@${pkg.version}: ${err.message}`, { cause: err });
      throw err;
    }
    if (manifest.name !== pkg.name || manifest.version !== pkg.version) {
      log.warn(
        { tarballName: manifest.name, tarballVersion: manifest.version },
        'package.json in the tarball names another name or version; publishing under the vetted one',
      );
    }

    if (!config.targetRegistryUrl) {
      return {
        kind: 'done',
        patch: { published_at: now(), published_to: BUILTIN_REGISTRY },
        reason: 'served by the built-in registry (no TARGET_REGISTRY_URL)',
      };
    }
    const client = new TargetRegistryClient({
      url: config.targetRegistryUrl,
      token: config.targetRegistryToken,
      timeoutMs: config.downloadTimeoutSeconds * 1000,
      signal,
      fetch: deps.fetch,
    });
    const result = await publishToTarget(client, { name: pkg.name, version: pkg.version, tarball, manifest }, log);
    const target = withoutCredentials(client.url);
    return {
      kind: 'done',
      patch: { published_at: now(), published_to: target },
      reason:
        result.outcome === 'published' ? `published to ${target}` : `already in ${target} with the same integrity`,
      details: { outcome: result.outcome, integrity: result.integrity, distTags: result.distTags },
    };
  };
}

/** The publish stage with real HTTP; PackageWorker runs it for packages in Approved. */
export const publishStage: StageHandler = createPublishStage();
