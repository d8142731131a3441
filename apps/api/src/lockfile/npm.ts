import {
  Collector,
  MAX_DEPTH,
  MAX_FIELD_LENGTH,
  MAX_NAME_LENGTH,
  MAX_VERSION_LENGTH,
  clip,
  describe,
  entryError,
  flag,
  isLocalFolder,
  isObject,
  lockfileError,
  own,
  registryPackage,
  tooDeep,
  type Obj,
} from './entry.js';
import type { ParsedLockfile } from './types.js';

/**
 * npm's package-lock.json v1, v2 and v3 and npm-shrinkwrap.json (the same format). Input is hostile:
 * it is read with JSON.parse, only own properties are looked at, nothing is merged into objects with a
 * prototype, and every rejected entry is named by its node_modules path.
 */

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Parses package-lock JSON text. Throws AppError (400) with ERR_NOT_JSON, ERR_NOT_LOCKFILE, ERR_LOCKFILE_* codes. */
export function parseNpmText(body: string): ParsedLockfile {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    const looksJson = /^\s*[[{]/.test(body);
    throw lockfileError(
      'ERR_NOT_JSON',
      looksJson
        ? 'The lockfile is not valid JSON.'
        : 'The body is not a lockfile: neither JSON (package-lock.json, npm-shrinkwrap.json) nor a yarn.lock or pnpm-lock.yaml.',
      { reason: clip(err instanceof Error ? err.message : String(err)) },
    );
  }
  if (body.includes('\\u')) assertStorable(doc);
  else assertDepth(doc);
  return parseNpmLockfile(doc);
}

/**
 * Rejects values PostgreSQL cannot store in json (NUL characters, unpaired surrogates) and nesting
 * deeper than MAX_DEPTH. Only escapes (`\u`) can produce the first two, so callers check the raw text
 * before paying for the walk.
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

export function unstorable(): ReturnType<typeof lockfileError> {
  return lockfileError(
    'ERR_LOCKFILE_CONTENT',
    'The lockfile contains a NUL character or an unpaired UTF-16 surrogate escape, which cannot be stored.',
  );
}

/** Parses an already-decoded package-lock document. Throws AppError (400) on anything that is not a usable lockfile. */
export function parseNpmLockfile(doc: unknown): ParsedLockfile {
  if (!isObject(doc)) {
    throw lockfileError('ERR_NOT_LOCKFILE', `Expected a JSON object (package-lock.json), got ${describe(doc)}.`);
  }
  if (!Object.hasOwn(doc, 'lockfileVersion')) {
    const hint =
      Object.hasOwn(doc, 'dependencies') || Object.hasOwn(doc, 'devDependencies')
        ? ' This looks like a package.json: run `npm install --package-lock-only` and upload package-lock.json.'
        : '';
    throw lockfileError('ERR_NOT_LOCKFILE', `Not an npm lockfile: it has no "lockfileVersion".${hint}`);
  }
  const v = doc.lockfileVersion;
  if (v !== 1 && v !== 2 && v !== 3) {
    throw lockfileError(
      'ERR_LOCKFILE_UNSUPPORTED_VERSION',
      `lockfileVersion ${clip(JSON.stringify(v) ?? String(v), 40)} is not supported: expected the number 1, 2 or 3 (npm 5 to 11).`,
      { lockfileVersion: typeof v === 'string' ? clip(v, 40) : typeof v === 'number' ? v : describe(v) },
    );
  }
  const ctx = new Collector();
  let root: Obj | undefined;
  const packages = own(doc, 'packages');
  if (v === 1 || (v === 2 && packages === undefined)) {
    const deps = own(doc, 'dependencies');
    if (deps !== undefined && !isObject(deps)) {
      throw lockfileError('ERR_NOT_LOCKFILE', `"dependencies" must be an object, got ${describe(deps)}.`);
    }
    if (deps) walkV1(deps, 'node_modules/', ctx, 0);
  } else {
    if (!isObject(packages)) {
      throw lockfileError(
        'ERR_NOT_LOCKFILE',
        `lockfileVersion ${v} needs a "packages" object, got ${describe(packages)}.`,
      );
    }
    const r = own(packages, '');
    if (r !== undefined && !isObject(r)) throw entryError('', `expected an object, got ${describe(r)}`);
    root = r;
    for (const [path, entry] of Object.entries(packages)) {
      if (path === '') ctx.skip(path, 'root');
      else readV2Entry(path, entry, ctx);
    }
  }
  const pkgs = ctx.packages();
  return {
    format: 'npm',
    lockfileVersion: v,
    applicationName: rootString(root, doc, 'name', MAX_NAME_LENGTH),
    applicationVersion: rootString(root, doc, 'version', MAX_VERSION_LENGTH),
    packages: pkgs,
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

function walkV1(deps: Obj, prefix: string, ctx: Collector, depth: number): void {
  for (const [key, entry] of Object.entries(deps)) {
    const path = `${prefix}${key}`;
    if (!isObject(entry)) throw entryError(path, `expected an object, got ${describe(entry)}`);
    const version = own(entry, 'version');
    const bundled = flag(entry, 'bundled', path);
    if (bundled) ctx.skip(path, 'bundled');
    else if (typeof version === 'string' && version.startsWith('file:') && isLocalFolder(version)) {
      ctx.skip(path, 'link');
    } else {
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
    ctx.skip(path, 'workspace');
    return;
  }
  if (flag(entry, 'link', path)) {
    ctx.skip(path, 'link');
    return;
  }
  if (flag(entry, 'inBundle', path)) {
    ctx.skip(path, 'bundled');
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

function readPackage(path: string, entry: Obj, name: string, version: unknown) {
  const dev = flag(entry, 'dev', path);
  const optional = flag(entry, 'optional', path);
  const devOptional = flag(entry, 'devOptional', path);
  return registryPackage(path, {
    name,
    version,
    resolved: own(entry, 'resolved'),
    integrity: own(entry, 'integrity'),
    license: readLicense(path, entry),
    // devOptional: dropped only when both dev and optional dependencies are omitted.
    dev: dev || devOptional,
    optional: optional || devOptional,
  });
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
