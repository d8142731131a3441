import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import semver from 'semver';
import ssri from 'ssri';
import { PermanentError, TransientError } from '../errors.js';
import type { Packument, TargetRegistryClient } from './client.js';
import { chooseDistTags, publishBody, tarballFileName, versionDocument } from './protocol.js';

export interface PublishInput {
  name: string;
  version: string;
  /** The exact, already verified bytes to publish. */
  tarball: Buffer;
  /** The tarball's own package.json. */
  manifest: Record<string, unknown>;
}

export interface PublishResult {
  /** `published` when this call's PUT created the version, `already-present` when it was there with our bytes. */
  outcome: 'published' | 'already-present';
  /** How many publish requests were sent (0 or 1). */
  puts: number;
  integrity: string;
  shasum: string;
  /** The registry's dist-tags after publishing. */
  distTags: Record<string, string>;
}

type Dist = { integrity?: string; shasum?: string; tarball?: string } | undefined;

/** Whether the registry's `dist` describes exactly `bytes` (every hash it gives must match; at least one must exist). */
export function distMatches(dist: Dist, bytes: Buffer, shasum: string): boolean {
  if (!dist) return false;
  const checks: boolean[] = [];
  if (dist.integrity) checks.push(ssri.checkData(bytes, dist.integrity) !== false);
  if (dist.shasum) checks.push(dist.shasum.toLowerCase() === shasum);
  return checks.length > 0 && checks.every(Boolean);
}

function describeDist(dist: Dist): string {
  return dist?.integrity ?? (dist?.shasum ? `sha1 ${dist.shasum}` : 'no integrity');
}

/**
 * Publishes one version to the target registry, idempotently: when the version is already there with
 * the same bytes nothing is sent; when it is there with other bytes this is a PermanentError (a
 * registry never lets a version be published over, and installing it would break lockfile integrity).
 * A refused publish (400/403/409) counts as success only if the packument then shows our integrity.
 * Afterwards the packument and the tarball are read back and verified byte for byte, and `latest` is
 * moved forward if a concurrent publish of an older version left it behind.
 */
export async function publishToTarget(
  client: TargetRegistryClient,
  input: PublishInput,
  log: Logger,
): Promise<PublishResult> {
  const { name, version, tarball } = input;
  const integrity = ssri.fromData(tarball, { algorithms: ['sha512'] }).toString();
  const shasum = createHash('sha1').update(tarball).digest('hex');
  const fileName = tarballFileName(name, version);
  const conflict = (theirs: Dist) =>
    new PermanentError(
      'error',
      `${name}@${version} already exists in the target registry with different contents (${describeDist(theirs)}, ours ${integrity}); ` +
        'a registry never accepts a version twice: remove it from the target registry, then retry',
    );

  let outcome: PublishResult['outcome'];
  let puts = 0;
  const before = await client.getPackument(name);
  const existing = before?.versions?.[version];
  const distTags = chooseDistTags(before?.['dist-tags']?.latest, version);
  if (existing) {
    if (!distMatches(existing.dist, tarball, shasum)) throw conflict(existing.dist);
    log.info(
      { target: client.url },
      'version already in the target registry with the same integrity; not publishing again',
    );
    outcome = 'already-present';
  } else {
    const versionDoc = versionDocument(input.manifest, name, version, {
      integrity,
      shasum,
      tarball: `${client.url}${name}/-/${fileName}`,
    });
    puts++;
    const res = await client.publish(name, publishBody({ name, version, versionDoc, distTags, tarball }));
    if (res.ok) {
      outcome = 'published';
      log.info({ target: client.url, distTags }, 'published to the target registry');
    } else {
      // "Already exists" comes as 409 (CouchDB, Verdaccio), 403 (npm: cannot publish over) or 400 (Nexus:
      // redeploy disabled): only the packument tells whether it is our version.
      const now = (await client.getPackument(name))?.versions?.[version];
      if (!now) {
        throw new PermanentError(
          'error',
          `publishing ${name}: the target registry answered ${res.status} (${res.message})`,
        );
      }
      if (!distMatches(now.dist, tarball, shasum)) throw conflict(now.dist);
      log.info(
        { target: client.url, status: res.status, message: res.message },
        'target registry already had this version with the same integrity',
      );
      outcome = 'already-present';
    }
  }

  const after: Packument | null = await client.getPackument(name);
  const published = after?.versions?.[version];
  if (!published) {
    // Some registries (and CDNs in front of them) show a new version only after a moment.
    throw new TransientError(`${name}@${version} was published but the target registry does not list it yet`);
  }
  if (!distMatches(published.dist, tarball, shasum)) throw conflict(published.dist);
  const served = await client.getTarball(name, fileName, published.dist?.tarball);
  if (ssri.checkData(served, integrity) === false) {
    throw new PermanentError(
      'error',
      `the target registry serves different bytes for ${name}@${version} than were published (${ssri.fromData(served, { algorithms: ['sha512'] }).toString()}, expected ${integrity})`,
    );
  }

  const tags = { ...(after?.['dist-tags'] ?? {}) };
  const latest = tags.latest;
  if (
    distTags.latest === version &&
    latest !== version &&
    (!latest || !semver.valid(latest) || semver.gt(version, latest))
  ) {
    try {
      await client.setDistTag(name, 'latest', version);
      tags.latest = version;
    } catch (err) {
      if (err instanceof PermanentError || err instanceof TransientError) {
        log.warn({ err, latest }, 'could not move dist-tag latest forward; the version is published');
      } else throw err;
    }
  }
  return { outcome, puts, integrity, shasum, distTags: tags };
}
