import semver from 'semver';
import validateName from 'validate-npm-package-name';
import { AppError, type LockfilePackage } from '@spm/db';

/**
 * Pure parsing of npm lockfiles (package-lock.json v1, v2, v3 and npm-shrinkwrap.json, which share the
 * format). Input is hostile: it is read with JSON.parse, only own properties are looked at, nothing is
 * merged into objects with a prototype, and every rejected entry is named in the error.
 */

export interface ParsedLockfile {
  lockfileVersion: 1 | 2 | 3;
  /** From the root entry (`packages[""]`) or the top-level fields; null when absent. */
  applicationName: string | null;
  applicationVersion: string | null;
  /** Registry packages, one per name@version (first occurrence wins; flags merged). */
  packages: LockfilePackage[];
  /** Entries deliberately not vetted: workspace links and folders, bundled dependencies. */
  skipped: Array<{ path: string; reason: 'root' | 'link' | 'workspace' | 'bundled' }>;
}

export const MAX_NAME_LENGTH = 214;
export const MAX_VERSION_LENGTH = 256;
export const MAX_FIELD_LENGTH = 4096;
/** JSON nesting that PostgreSQL's jsonb and our recursion handle comfortably; real v1 lockfiles stay far below. */
export const MAX_DEPTH = 256;

const ALLOWED_ALGORITHMS: Record<string, number> = { sha512: 64, sha384: 48, sha256: 32, sha1: 20 };
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An own property only: inherited names such as `constructor` or `__proto__` never leak in. */
function own(o: Obj, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function entryError(path: string, message: string, extra: Record<string, unknown> = {}): AppError {
  return new AppError('ERR_LOCKFILE_ENTRY', `Lockfile entry "${clip(path)}": ${message}`, {
    status: 400,
    details: { path: clip(path), ...extra },
  });
}

function clip(s: string, n = 200): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Parses lockfile text. Throws AppError (400) with ERR_NOT_JSON, ERR_NOT_LOCKFILE, ERR_LOCKFILE_* codes. */
export function parseLockfileText(text: string): ParsedLockfile & { document: Obj } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') {
    throw new AppError(
      'ERR_NOT_JSON',
      'The body is empty: send the contents of package-lock.json or npm-shrinkwrap.json.',
      {
        status: 400,
      },
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw new AppError('ERR_NOT_JSON', 'The lockfile is not valid JSON.', {
      status: 400,
      details: { reason: clip(err instanceof Error ? err.message : String(err)) },
    });
  }
  if (body.includes('\\u')) assertStorable(doc);
  else assertDepth(doc);
  const parsed = parseLockfile(doc);
  return { ...parsed, document: doc as Obj };
}

/**
 * Rejects values PostgreSQL cannot store in jsonb (NUL characters, unpaired surrogates) and
 * nesting deeper than MAX_DEPTH. Only escapes (`\u`) can produce the first two, so callers check
 * the raw text before paying for the walk.
 */
function assertStorable(doc: unknown): void {
  const bad = (s: string) => s.includes('\u0000') || UNPAIRED_SURROGATE.test(s);
  const walk = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) throw tooDeep();
    if (typeof v === 'string') {
      if (bad(v)) throw unstorable();
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
    } else if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (bad(k)) throw unstorable();
        walk(x, depth + 1);
      }
    }
  };
  walk(doc, 0);
}

function assertDepth(doc: unknown): void {
  const walk = (v: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) throw tooDeep();
    if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (isObject(v)) for (const k in v) if (Object.hasOwn(v, k)) walk(v[k], depth + 1);
  };
  walk(doc, 0);
}

function tooDeep(): AppError {
  return new AppError(
    'ERR_NOT_LOCKFILE',
    `The document is nested more than ${MAX_DEPTH} levels deep; no real lockfile is.`,
    {
      status: 400,
    },
  );
}

function unstorable(): AppError {
  return new AppError(
    'ERR_LOCKFILE_CONTENT',
    'The lockfile contains a NUL character or an unpaired UTF-16 surrogate escape, which cannot be stored.',
    { status: 400 },
  );
}

/** Parses an already-decoded lockfile document. Throws AppError (400) on anything that is not a usable lockfile. */
export function parseLockfile(doc: unknown): ParsedLockfile {
  if (!isObject(doc)) {
    throw new AppError('ERR_NOT_LOCKFILE', `Expected a JSON object (package-lock.json), got ${describe(doc)}.`, {
      status: 400,
    });
  }
  if (!Object.hasOwn(doc, 'lockfileVersion')) {
    const hint =
      Object.hasOwn(doc, 'dependencies') || Object.hasOwn(doc, 'devDependencies')
        ? ' This looks like a package.json: run `npm install --package-lock-only` and upload package-lock.json.'
        : '';
    throw new AppError('ERR_NOT_LOCKFILE', `Not an npm lockfile: it has no "lockfileVersion".${hint}`, { status: 400 });
  }
  const v = doc.lockfileVersion;
  if (v !== 1 && v !== 2 && v !== 3) {
    throw new AppError(
      'ERR_LOCKFILE_UNSUPPORTED_VERSION',
      `lockfileVersion ${clip(JSON.stringify(v) ?? String(v), 40)} is not supported: expected the number 1, 2 or 3 (npm 5 to 11).`,
      {
        status: 400,
        details: { lockfileVersion: typeof v === 'string' ? clip(v, 40) : typeof v === 'number' ? v : describe(v) },
      },
    );
  }
  const ctx = new Collector();
  let root: Obj | undefined;
  const packages = own(doc, 'packages');
  if (v === 1 || (v === 2 && packages === undefined)) {
    const deps = own(doc, 'dependencies');
    if (deps !== undefined && !isObject(deps)) {
      throw new AppError('ERR_NOT_LOCKFILE', `"dependencies" must be an object, got ${describe(deps)}.`, {
        status: 400,
      });
    }
    if (deps) walkV1(deps, 'node_modules/', ctx, 0);
  } else {
    if (!isObject(packages)) {
      throw new AppError(
        'ERR_NOT_LOCKFILE',
        `lockfileVersion ${v} needs a "packages" object, got ${describe(packages)}.`,
        { status: 400 },
      );
    }
    const r = own(packages, '');
    if (r !== undefined && !isObject(r)) throw entryError('', `expected an object, got ${describe(r)}`);
    root = r;
    for (const [path, entry] of Object.entries(packages)) {
      if (path === '') {
        ctx.skipped.push({ path, reason: 'root' });
        continue;
      }
      readV2Entry(path, entry, ctx);
    }
  }
  if (ctx.byKey.size === 0) {
    throw new AppError('ERR_LOCKFILE_EMPTY', 'The lockfile lists no registry packages, so there is nothing to vet.', {
      status: 400,
      details: { skipped: ctx.skipped.length },
    });
  }
  const appName = rootString(root, doc, 'name', MAX_NAME_LENGTH);
  const appVersion = rootString(root, doc, 'version', MAX_VERSION_LENGTH);
  return {
    lockfileVersion: v,
    applicationName: appName,
    applicationVersion: appVersion,
    packages: [...ctx.byKey.values()].map((e) => e.pkg),
    skipped: ctx.skipped,
  };
}

function rootString(root: Obj | undefined, doc: Obj, key: string, max: number): string | null {
  const value = (root ? own(root, key) : undefined) ?? own(doc, key);
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string')
    throw entryError('', `"${key}" must be a string, got ${describe(value)}`, { field: key });
  if (value.length > max) throw entryError('', `"${key}" is longer than ${max} characters`, { field: key });
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

class Collector {
  readonly byKey = new Map<string, { pkg: LockfilePackage; path: string }>();
  readonly skipped: ParsedLockfile['skipped'] = [];

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
  }
}

function walkV1(deps: Obj, prefix: string, ctx: Collector, depth: number): void {
  for (const [key, entry] of Object.entries(deps)) {
    const path = `${prefix}${key}`;
    if (!isObject(entry)) throw entryError(path, `expected an object, got ${describe(entry)}`);
    const version = own(entry, 'version');
    const bundled = flag(entry, 'bundled', path);
    if (bundled) ctx.skipped.push({ path, reason: 'bundled' });
    else if (typeof version === 'string' && isLocalFolder(version)) ctx.skipped.push({ path, reason: 'link' });
    else {
      let name = key;
      let ver: unknown = version;
      // npm 6 records an alias as `"alias": { "version": "npm:real-name@1.2.3" }`.
      if (typeof version === 'string' && version.startsWith('npm:')) {
        const spec = version.slice(4);
        const at = spec.lastIndexOf('@');
        if (at <= 0) throw entryError(path, `alias "${clip(version, 80)}" has no version`);
        name = spec.slice(0, at);
        ver = spec.slice(at + 1);
      }
      ctx.add(path, readPackage(path, entry, name, ver));
    }
    const nested = own(entry, 'dependencies');
    if (nested !== undefined) {
      if (!isObject(nested)) throw entryError(path, `"dependencies" must be an object, got ${describe(nested)}`);
      if (depth >= MAX_DEPTH) throw tooDeep();
      walkV1(nested, `${path}/node_modules/`, ctx, depth + 1);
    }
  }
}

function readV2Entry(path: string, entry: unknown, ctx: Collector): void {
  if (!isObject(entry)) throw entryError(path, `expected an object, got ${describe(entry)}`);
  const at = path.lastIndexOf('node_modules/');
  if (at < 0) {
    // A workspace or local folder (the target of a link entry): the team's own code, not a registry package.
    ctx.skipped.push({ path, reason: 'workspace' });
    return;
  }
  if (flag(entry, 'link', path)) {
    ctx.skipped.push({ path, reason: 'link' });
    return;
  }
  if (flag(entry, 'inBundle', path)) {
    ctx.skipped.push({ path, reason: 'bundled' });
    return;
  }
  const folderName = path.slice(at + 'node_modules/'.length);
  const declared = own(entry, 'name');
  if (declared !== undefined && typeof declared !== 'string') {
    throw entryError(path, `"name" must be a string, got ${describe(declared)}`, { field: 'name' });
  }
  // An aliased install (`"x": "npm:real@1"`) lives in node_modules/x but names the real package.
  const name = declared ?? folderName;
  ctx.add(path, readPackage(path, entry, name, own(entry, 'version')));
}

function readPackage(path: string, entry: Obj, name: string, version: unknown): LockfilePackage {
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
    const nonRegistry = /^(git\+|git:|github:|gitlab:|bitbucket:|file:|https?:)/.test(version);
    throw entryError(
      path,
      nonRegistry
        ? `${name} comes from "${clip(version, 120)}", not from a registry: only registry packages can be vetted; depend on a published version instead`
        : `"${clip(version, 80)}" is not a valid semver version`,
      { name, field: 'version' },
    );
  }
  const resolved = optionalString(entry, 'resolved', path);
  if (resolved !== null && !isRegistryTarball(resolved)) {
    throw entryError(
      path,
      `${name}@${version} is resolved from "${clip(resolved, 120)}", not from a registry: only registry packages can be vetted; depend on a published version instead`,
      { name, version, field: 'resolved' },
    );
  }
  const integrity = optionalString(entry, 'integrity', path);
  if (integrity !== null) checkIntegrity(path, name, integrity);
  const dev = flag(entry, 'dev', path);
  const optional = flag(entry, 'optional', path);
  const devOptional = flag(entry, 'devOptional', path);
  return {
    name,
    version,
    integrity,
    resolved,
    license: readLicense(path, entry),
    // devOptional: dropped only when both dev and optional dependencies are omitted.
    dev: dev || devOptional,
    optional: optional || devOptional,
  };
}

/** A plain semver version as a registry lists it: no `v` prefix, no surrounding spaces. */
function isExactSemver(version: string): boolean {
  return (
    version.length <= MAX_VERSION_LENGTH &&
    /^\d/.test(version) &&
    version.trim() === version &&
    semver.parse(version) !== null
  );
}

function checkName(path: string, name: string): void {
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

function checkIntegrity(path: string, name: string, integrity: string): void {
  const parts = integrity.trim().split(/\s+/);
  for (const part of parts) {
    const m = /^([a-z0-9]+)-([^?]+)(\?.*)?$/.exec(part);
    const algo = m?.[1];
    const digest = m?.[2];
    const len = algo !== undefined ? ALLOWED_ALGORITHMS[algo] : undefined;
    if (
      !m ||
      !digest ||
      len === undefined ||
      !Object.hasOwn(ALLOWED_ALGORITHMS, algo!) ||
      !BASE64.test(digest) ||
      Buffer.from(digest, 'base64').length !== len
    ) {
      throw entryError(
        path,
        `"integrity" is not a valid SRI string (expected sha512-, sha384-, sha256- or sha1- followed by a base64 digest of the right length)`,
        { name, field: 'integrity' },
      );
    }
  }
}

/** Two SRI strings conflict when they share an algorithm whose digests are all different. */
export function integrityConflicts(a: string, b: string): boolean {
  const digests = (s: string) => {
    const m = new Map<string, Set<string>>();
    for (const part of s.trim().split(/\s+/)) {
      const dash = part.indexOf('-');
      const algo = part.slice(0, dash);
      const digest = part.slice(dash + 1).split('?')[0]!;
      if (!m.has(algo)) m.set(algo, new Set());
      m.get(algo)!.add(digest);
    }
    return m;
  };
  const da = digests(a);
  const db = digests(b);
  for (const [algo, set] of da) {
    const other = db.get(algo);
    if (other && ![...set].some((d) => other.has(d))) return true;
  }
  return false;
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

function isLocalFolder(version: string): boolean {
  return version.startsWith('file:') && !/\.(tgz|tar\.gz|tar)$/i.test(version);
}

function optionalString(entry: Obj, key: string, path: string): string | null {
  const v = own(entry, key);
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw entryError(path, `"${key}" must be a string, got ${describe(v)}`, { field: key });
  if (v.length > MAX_FIELD_LENGTH)
    throw entryError(path, `"${key}" is longer than ${MAX_FIELD_LENGTH} characters`, { field: key });
  return v;
}

function flag(entry: Obj, key: string, path: string): boolean {
  const v = own(entry, key);
  if (v === undefined) return false;
  if (typeof v !== 'boolean')
    throw entryError(path, `"${key}" must be true or false, got ${describe(v)}`, { field: key });
  return v;
}

/** A string licence is kept as is; npm's legacy object and array forms are kept as their JSON text. */
function readLicense(path: string, entry: Obj): string | null {
  const v = own(entry, 'license') ?? own(entry, 'licenses');
  if (v === undefined || v === null) return null;
  let text: string;
  if (typeof v === 'string') text = v;
  else if (typeof v === 'object') text = JSON.stringify(v);
  else throw entryError(path, `"license" must be a string or object, got ${describe(v)}`, { field: 'license' });
  if (text.length > MAX_FIELD_LENGTH)
    throw entryError(path, `"license" is longer than ${MAX_FIELD_LENGTH} characters`, { field: 'license' });
  return text;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
