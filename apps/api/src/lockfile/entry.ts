import semver from 'semver';
import ssri from 'ssri';
import validateName from 'validate-npm-package-name';
import { AppError, type LockfilePackage } from '@spm/db';

/**
 * Entry validation shared by every lockfile format: whatever the format, a package we vet has a valid
 * npm name, an exact semver version, comes from a registry (not git, a file, a link or an arbitrary
 * tarball URL), and carries a well-formed SRI integrity when it carries one. Each format's module only
 * walks its own structure and hands the fields it found to `registryPackage`.
 */

export const MAX_NAME_LENGTH = 214;
export const MAX_VERSION_LENGTH = 256;
export const MAX_FIELD_LENGTH = 4096;
/** Nesting that PostgreSQL's json and our recursion handle comfortably; real lockfiles stay far below. */
export const MAX_DEPTH = 256;

/** Digest lengths of the algorithms npm itself writes (sha1 in old lockfiles, sha512 today). */
const DIGEST_BYTES: Readonly<Record<string, number>> = { sha512: 64, sha384: 48, sha256: 32, sha1: 20 };
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An own property only: inherited names such as `constructor` or `__proto__` never leak in. */
export function own(o: Obj, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

export function clip(s: string, n = 200): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** An error about one entry, which it names by the path or key its lockfile format uses. */
export function entryError(path: string, message: string, extra: Record<string, unknown> = {}): AppError {
  return new AppError('ERR_LOCKFILE_ENTRY', `Lockfile entry "${clip(path)}": ${message}`, {
    status: 400,
    details: { path: clip(path), ...extra },
  });
}

/** An error about the document as a whole (not about one entry). */
export function lockfileError(code: string, message: string, details?: Record<string, unknown>): AppError {
  return new AppError(code, message, { status: 400, ...(details ? { details } : {}) });
}

/**
 * A third-party parser failed on the text. Whatever it threw (a SyntaxError, YAMLParseError, or a
 * RangeError when hostile nesting exhausts its recursion) is the client's input problem: a 400, never a 500.
 */
export function syntaxError(file: string, err: unknown): AppError {
  if (err instanceof RangeError) return tooDeep();
  const reason = clip(err instanceof Error ? err.message : String(err), 300);
  return lockfileError('ERR_LOCKFILE_SYNTAX', `The ${file} cannot be read: ${reason}`, { reason });
}

/** `name@range` (a yarn descriptor or locator, a pnpm key) split at the `@` after the name; null when there is none. */
export function splitAtName(spec: string): { name: string; range: string } | null {
  const at = spec.indexOf('@', spec.startsWith('@') ? spec.indexOf('/') + 1 : 0);
  if (at <= 0) return null;
  return { name: spec.slice(0, at), range: spec.slice(at + 1) };
}

export function tooDeep(): AppError {
  return lockfileError(
    'ERR_NOT_LOCKFILE',
    `The document is nested more than ${MAX_DEPTH} levels deep; no real lockfile is.`,
  );
}

/** The error for a dependency that does not come from a registry (git, a file tarball, an arbitrary URL, a script). */
export function notFromRegistry(path: string, name: string, source: string, extra: Record<string, unknown> = {}) {
  return entryError(
    path,
    `${name} comes from "${clip(source, 120)}", not from a registry: only registry packages can be vetted; depend on a published version instead`,
    { name: clip(name, 80), ...extra },
  );
}

/** The fields a format found for one registry package; `registryPackage` validates them all. */
export interface EntryFields {
  name: string;
  version: unknown;
  integrity?: unknown;
  resolved?: unknown;
  license?: string | null;
  dev?: boolean;
  optional?: boolean;
  /** Yarn Berry's checksum of its own zip archive: recorded, never used to verify the npm tarball. */
  yarnChecksum?: string | null;
}

/** Validates one registry package's fields and returns it. Throws ERR_LOCKFILE_ENTRY naming `path`. */
export function registryPackage(path: string, f: EntryFields): LockfilePackage {
  const { name, version } = f;
  checkName(path, name);
  if (version === undefined || version === null || version === '') {
    throw entryError(path, 'has no "version": only packages installed from a registry can be vetted', {
      name,
      field: 'version',
    });
  }
  if (typeof version !== 'string') {
    throw entryError(path, `"version" must be a string, got ${describe(version)}`, { name, field: 'version' });
  }
  if (!isExactSemver(version)) {
    if (/^(git\+|git:|github:|gitlab:|bitbucket:|file:|https?:)/.test(version)) {
      throw notFromRegistry(path, name, version, { field: 'version' });
    }
    throw entryError(path, `"${clip(version, 80)}" is not a valid semver version`, { name, field: 'version' });
  }
  const resolved = stringField(path, 'resolved', f.resolved);
  if (resolved !== null && !isRegistryTarball(resolved)) {
    throw entryError(
      path,
      `${name}@${version} is resolved from "${clip(resolved, 120)}", not from a registry: only registry packages can be vetted; depend on a published version instead`,
      { name, version, field: 'resolved' },
    );
  }
  const integrity = stringField(path, 'integrity', f.integrity);
  if (integrity !== null) checkIntegrity(path, name, integrity);
  const pkg: LockfilePackage = {
    name,
    version,
    integrity,
    resolved,
    license: f.license ?? null,
    dev: f.dev ?? false,
    optional: f.optional ?? false,
  };
  if (f.yarnChecksum) pkg.yarnChecksum = f.yarnChecksum;
  return pkg;
}

/** A string field that may be absent (null); anything else, or an oversized string, is an entry error. */
export function stringField(path: string, key: string, v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw entryError(path, `"${key}" must be a string, got ${describe(v)}`, { field: key });
  if (v.length > MAX_FIELD_LENGTH)
    throw entryError(path, `"${key}" is longer than ${MAX_FIELD_LENGTH} characters`, { field: key });
  return v;
}

/** A boolean field; absent is false. */
export function flag(entry: Obj, key: string, path: string): boolean {
  const v = own(entry, key);
  if (v === undefined) return false;
  if (typeof v !== 'boolean')
    throw entryError(path, `"${key}" must be true or false, got ${describe(v)}`, { field: key });
  return v;
}

/** A plain semver version as a registry lists it: no `v` prefix, no surrounding spaces. */
export function isExactSemver(version: string): boolean {
  return (
    version.length <= MAX_VERSION_LENGTH &&
    /^\d/.test(version) &&
    version.trim() === version &&
    semver.parse(version) !== null
  );
}

export function checkName(path: string, name: string): void {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw entryError(path, `package name must be 1 to ${MAX_NAME_LENGTH} characters`, {
      name: clip(name, 80),
      field: 'name',
    });
  }
  let result: ReturnType<typeof validateName>;
  try {
    result = validateName(name);
  } catch {
    // encodeURIComponent throws on unpaired surrogates.
    throw entryError(path, 'package name contains characters that are not URL-safe', {
      name: clip(name, 80),
      field: 'name',
    });
  }
  // Names valid when published stay installable: legacy names with capitals (JSONStream) or the names of
  // core modules (events, util) are real packages. Scopes never allowed capitals.
  if (!result.validForOldPackages || (name.startsWith('@') && name !== name.toLowerCase())) {
    const why = result.errors?.[0] ?? result.warnings?.[0] ?? 'name is not a valid npm package name';
    throw entryError(path, `"${clip(name, 80)}" is not a valid package name (${why})`, {
      name: clip(name, 80),
      field: 'name',
    });
  }
}

/**
 * Every hash of an SRI string must be one npm writes (sha1 to sha512) with a base64 digest of that
 * algorithm's length. ssri reads each part; one it cannot read comes back without an algorithm.
 */
export function checkIntegrity(path: string, name: string, integrity: string): void {
  const trimmed = integrity.trim();
  // Each part on its own (`single`): no Integrity object per entry on the npm upload's hot path.
  const hashes = trimmed === '' ? [] : trimmed.split(/\s+/).map((part) => ssri.parse(part, { single: true }));
  const ok =
    hashes.length > 0 &&
    hashes.every(
      (h) =>
        Object.hasOwn(DIGEST_BYTES, h.algorithm) &&
        BASE64.test(h.digest) &&
        Buffer.from(h.digest, 'base64').length === DIGEST_BYTES[h.algorithm],
    );
  if (!ok) {
    throw entryError(
      path,
      `"integrity" is not a valid SRI string (expected sha512-, sha384-, sha256- or sha1- followed by a base64 digest of the right length)`,
      { name, field: 'integrity' },
    );
  }
}

/**
 * Two valid SRI strings conflict when they share an algorithm and, for the strongest one they share,
 * no digest matches (ssri's own `match`). Strings with no algorithm in common do not conflict.
 */
export function integrityConflicts(a: string, b: string): boolean {
  const sa = ssri.parse(a);
  const sb = ssri.parse(b);
  if (!sa || !sb) return false;
  const shared = Object.keys(sa).some((algo) => Object.hasOwn(sb, algo));
  return shared && sa.match(sb) === false;
}

/** sha1 hex (a yarn v1 `resolved` URL's fragment) as an SRI string. */
export function sha1HexToIntegrity(hex: string): string {
  return ssri.fromHex(hex, 'sha1').toString();
}

/**
 * A registry tarball URL: http(s) and the registry's `/<name>/-/<file>.tgz` layout (npm, Verdaccio,
 * Artifactory, Nexus and GitLab all use it). git, file and arbitrary tarball URLs are not registry packages.
 * The URL is only recorded; the worker downloads from the configured registry, never from here.
 */
export function isRegistryTarball(resolved: string): boolean {
  let u: URL;
  try {
    u = new URL(resolved);
  } catch {
    return false;
  }
  return (u.protocol === 'https:' || u.protocol === 'http:') && u.pathname.includes('/-/');
}

/** A `file:` spec naming a folder (linked or copied, the team's own code) rather than a tarball. */
export function isLocalFolder(spec: string): boolean {
  return !/\.(tgz|tar\.gz|tar)$/i.test(spec);
}

export type SkipReason = 'root' | 'link' | 'workspace' | 'bundled' | 'patch';

/** Collects registry packages, one per name@version, and the entries deliberately not vetted. */
export class Collector {
  readonly byKey = new Map<string, { pkg: LockfilePackage; path: string }>();
  readonly skipped: Array<{ path: string; reason: SkipReason }> = [];

  skip(path: string, reason: SkipReason): void {
    this.skipped.push({ path, reason });
  }

  add(path: string, pkg: LockfilePackage): void {
    const key = `${pkg.name}@${pkg.version}`;
    const prev = this.byKey.get(key);
    if (!prev) {
      this.byKey.set(key, { pkg, path });
      return;
    }
    if (prev.pkg.integrity && pkg.integrity && integrityConflicts(prev.pkg.integrity, pkg.integrity)) {
      throw entryError(path, `${key} has a different integrity than at "${clip(prev.path)}"`, {
        name: pkg.name,
        version: pkg.version,
        other_path: clip(prev.path),
      });
    }
    // Needed in production if any occurrence is; keep the strongest integrity seen.
    prev.pkg.dev = prev.pkg.dev && pkg.dev;
    prev.pkg.optional = prev.pkg.optional && pkg.optional;
    if (!prev.pkg.integrity && pkg.integrity) prev.pkg.integrity = pkg.integrity;
    if (!prev.pkg.license && pkg.license) prev.pkg.license = pkg.license;
    if (!prev.pkg.yarnChecksum && pkg.yarnChecksum) prev.pkg.yarnChecksum = pkg.yarnChecksum;
  }

  /** The packages collected; ERR_LOCKFILE_EMPTY when there are none. */
  packages(): LockfilePackage[] {
    if (this.byKey.size === 0) {
      throw lockfileError(
        'ERR_LOCKFILE_EMPTY',
        'The lockfile lists no registry packages, so there is nothing to vet.',
        {
          skipped: this.skipped.length,
        },
      );
    }
    return [...this.byKey.values()].map((e) => e.pkg);
  }
}
