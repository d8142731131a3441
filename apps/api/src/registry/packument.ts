import semver from 'semver';

/** A published version as the built-in registry serves it. */
export interface ServedVersion {
  version: string;
  /** sha512 SRI of the stored tarball. */
  integrity: string;
  /** Hex sha1 of the stored tarball. */
  shasum: string;
  /** The tarball's own package.json. */
  manifest: Record<string, unknown>;
  publishedAt: Date;
  /**
   * Set when the version is quarantined (an advisory arrived after its approval): the message naming
   * the advisory. It stays listed, deprecated with this message, so npm prefers other versions of a range
   * and an exact install reaches the tarball's 451 that says why; dist-tags never point at it.
   */
  quarantine?: string | null;
}

/** The content type npm asks for when it only needs what an install needs. */
export const ABBREVIATED_CONTENT_TYPE = 'application/vnd.npm.install-v1+json';

/** Fields of a version document kept in the abbreviated ("corgi") packument, as the npm registry does. */
const ABBREVIATED_FIELDS = [
  'name',
  'version',
  'deprecated',
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'acceptDependencies',
  'bin',
  'directories',
  'engines',
  'os',
  'cpu',
  'libc',
  'funding',
  '_hasShrinkwrap',
  'hasInstallScript',
  'dist',
] as const;

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

/** npm's tarball file name: the unscoped part of the name, the version, `.tgz`. */
export function tarballFileName(name: string, version: string): string {
  return `${name.split('/').pop()}-${version}.tgz`;
}

/**
 * The version a tarball file name asks for (`lodash-4.17.21.tgz` → `4.17.21`), or null when the file
 * name does not belong to `name`.
 */
export function versionFromFileName(name: string, file: string): string | null {
  const prefix = `${name.split('/').pop()}-`;
  if (!file.startsWith(prefix) || !file.endsWith('.tgz')) return null;
  const version = file.slice(prefix.length, -'.tgz'.length);
  return version || null;
}

/** `latest`: the highest published release, or the highest prerelease when there is no release. */
export function latestVersion(versions: string[]): string | undefined {
  const valid = versions.filter((v) => semver.valid(v));
  const releases = valid.filter((v) => !semver.prerelease(v));
  const pool = releases.length ? releases : valid;
  return pool.sort(semver.rcompare)[0] ?? versions[versions.length - 1];
}

function versionDocument(name: string, v: ServedVersion, tarballUrl: string): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v.manifest)) {
    if (!k.startsWith('_')) doc[k] = val;
  }
  const scripts = (v.manifest.scripts ?? {}) as Record<string, unknown>;
  const hasInstallScript = typeof scripts === 'object' && INSTALL_SCRIPTS.some((s) => typeof scripts[s] === 'string');
  return {
    ...doc,
    name,
    version: v.version,
    _id: `${name}@${v.version}`,
    ...(hasInstallScript ? { hasInstallScript: true } : {}),
    ...(v.quarantine ? { deprecated: v.quarantine } : {}),
    dist: { integrity: v.integrity, shasum: v.shasum, tarball: tarballUrl },
  };
}

/**
 * The full packument of `name` listing exactly `versions`, with `dist.tarball` built by `tarballUrl`
 * and `dist-tags.latest` from {@link latestVersion} of the versions not quarantined (none: no `latest`).
 */
export function buildPackument(
  name: string,
  versions: ServedVersion[],
  tarballUrl: (version: string) => string,
): Record<string, unknown> {
  const sorted = [...versions].sort((a, b) =>
    semver.valid(a.version) && semver.valid(b.version) ? semver.compare(a.version, b.version) : 0,
  );
  const docs: Record<string, unknown> = {};
  const time: Record<string, string> = {};
  let created: Date | undefined;
  let modified: Date | undefined;
  for (const v of sorted) {
    docs[v.version] = versionDocument(name, v, tarballUrl(v.version));
    time[v.version] = v.publishedAt.toISOString();
    if (!created || v.publishedAt < created) created = v.publishedAt;
    if (!modified || v.publishedAt > modified) modified = v.publishedAt;
  }
  const latest = latestVersion(sorted.filter((v) => !v.quarantine).map((v) => v.version));
  const newest = latest ? (docs[latest] as Record<string, unknown>) : {};
  return {
    _id: name,
    name,
    ...(typeof newest.description === 'string' ? { description: newest.description } : {}),
    'dist-tags': latest ? { latest } : {},
    versions: docs,
    time: {
      created: (created ?? new Date(0)).toISOString(),
      modified: (modified ?? new Date(0)).toISOString(),
      ...time,
    },
    ...(newest.license !== undefined ? { license: newest.license } : {}),
    ...(typeof newest.readme === 'string' ? { readme: newest.readme } : {}),
  };
}

/** The abbreviated packument npm requests with `Accept: application/vnd.npm.install-v1+json`. */
export function abbreviatePackument(full: Record<string, unknown>): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [v, doc] of Object.entries(full.versions as Record<string, Record<string, unknown>>)) {
    const small: Record<string, unknown> = {};
    for (const f of ABBREVIATED_FIELDS) if (doc[f] !== undefined) small[f] = doc[f];
    versions[v] = small;
  }
  return {
    name: full.name,
    modified: (full.time as Record<string, string>).modified,
    'dist-tags': full['dist-tags'],
    versions,
  };
}
