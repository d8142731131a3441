import semver from 'semver';

/**
 * The dist-tag a version is published under when it must not become `latest` (an older version, or a
 * prerelease, published after a newer one). It always names the version being published, as npm's
 * `--tag` does, and is never a semver range (registries refuse those as tag names).
 */
export const BACKFILL_TAG = 'spm-backfill';

/** The name as it appears in a registry URL path: `@scope%2fname` for scoped names. */
export function encodePackageName(name: string): string {
  if (!name.startsWith('@')) return encodeURIComponent(name);
  const [scope, rest] = name.slice(1).split('/', 2) as [string, string];
  return `@${encodeURIComponent(scope)}%2f${encodeURIComponent(rest ?? '')}`;
}

/** npm's tarball file name: the unscoped part of the name, the version, `.tgz`. */
export function tarballFileName(name: string, version: string): string {
  return `${name.split('/').pop()}-${version}.tgz`;
}

/**
 * The dist-tags sent with a publish. `latest` moves only forwards: the version becomes latest when the
 * package has none yet, or when it is a release higher than the current latest; otherwise the version
 * is tagged {@link BACKFILL_TAG} and latest is left alone.
 */
export function chooseDistTags(currentLatest: string | undefined | null, version: string): Record<string, string> {
  if (!currentLatest || !semver.valid(currentLatest)) return { latest: version };
  if (!semver.prerelease(version) && semver.gt(version, currentLatest)) return { latest: version };
  return { [BACKFILL_TAG]: version };
}

/**
 * The version `latest` should name in a packument: the highest release that is not deprecated, else the
 * highest such prerelease; undefined when every version is deprecated. After a quarantine deprecates
 * the version `latest` names, this is the newest version still served.
 */
export function latestNotDeprecated(
  versions: Record<string, Record<string, unknown> | undefined> | undefined,
): string | undefined {
  const live = Object.entries(versions ?? {})
    .filter(([v, doc]) => semver.valid(v) && !(typeof doc?.deprecated === 'string' && doc.deprecated !== ''))
    .map(([v]) => v);
  const releases = live.filter((v) => !semver.prerelease(v));
  return (releases.length ? releases : live).sort(semver.rcompare)[0];
}

export interface VersionDist {
  integrity: string;
  shasum: string;
  tarball: string;
}

/**
 * The version document published for a tarball: the tarball's own package.json with npm's
 * registry-managed fields (`_…`) removed, `name` and `version` set to the vetted ones, and `dist`
 * describing exactly the stored bytes.
 */
export function versionDocument(
  manifest: Record<string, unknown>,
  name: string,
  version: string,
  dist: VersionDist,
): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(manifest)) {
    if (!k.startsWith('_')) doc[k] = v;
  }
  return { ...doc, name, version, _id: `${name}@${version}`, dist };
}

/**
 * The body of npm's publish request (`PUT /<name>`): one version and one base64 attachment, as the npm
 * CLI sends it.
 */
export function publishBody(opts: {
  name: string;
  version: string;
  versionDoc: Record<string, unknown>;
  distTags: Record<string, string>;
  tarball: Buffer;
}): Record<string, unknown> {
  const doc = opts.versionDoc;
  return {
    _id: opts.name,
    name: opts.name,
    ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
    'dist-tags': opts.distTags,
    versions: { [opts.version]: doc },
    access: null,
    _attachments: {
      [tarballFileName(opts.name, opts.version)]: {
        content_type: 'application/octet-stream',
        data: opts.tarball.toString('base64'),
        length: opts.tarball.length,
      },
    },
  };
}

/** A registry URL as recorded (`published_to`) and logged: without user name or password. */
export function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}
