import { parse } from 'yaml';
import {
  Collector,
  clip,
  describe,
  entryError,
  flag,
  isExactSemver,
  isObject,
  lockfileError,
  notFromRegistry,
  own,
  registryPackage,
  splitAtName,
  stringField,
  syntaxError,
  tooDeep,
  type Obj,
} from './entry.js';
import { devOnly, type DependencyGraph } from './graph.js';
import type { ParsedLockfile } from './types.js';

/**
 * pnpm-lock.yaml, lockfileVersion 6.x (pnpm 8) and 9.x (pnpm 9 and 10), read with `yaml`.
 * `packages` holds one entry per package (6.x: `/name@version(peers)`, 9.x: `name@version`) with its
 * `resolution` (integrity, or a tarball, directory or git source); 9.x moves the dependency edges to
 * `snapshots` (keys with peer-dependency suffixes) and drops the `dev` flags, which are then derived
 * from `importers` (each workspace's dependencies, devDependencies and optionalDependencies).
 */

const SUPPORTED = new Set([6, 9]);
const DEP_FIELDS = [
  ['dependencies', { dev: false, optional: false }],
  ['optionalDependencies', { dev: false, optional: true }],
  ['devDependencies', { dev: true, optional: false }],
] as const;

/**
 * pnpm writes flow collections one or two levels deep (`resolution: {integrity: …}`, `cpu: [x64]`);
 * yaml spends seconds on a few hundred kilobytes of `[[[[…` before its stack gives out. Counted
 * without regard to quoting, which can only over-count: no real lockfile comes near the limit.
 */
const MAX_FLOW_DEPTH = 32;

function checkFlowDepth(text: string): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_FLOW_DEPTH) throw tooDeep();
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
}

export function parsePnpm(text: string): ParsedLockfile {
  checkFlowDepth(text);
  let doc: unknown;
  try {
    // No anchors or aliases (pnpm never writes them, and they are how YAML bombs work); duplicate keys are errors.
    doc = parse(text, { maxAliasCount: 0, uniqueKeys: true, logLevel: 'error', prettyErrors: true });
  } catch (err) {
    throw syntaxError('pnpm-lock.yaml', err);
  }
  if (!isObject(doc)) {
    throw lockfileError('ERR_NOT_LOCKFILE', `Expected a pnpm-lock.yaml mapping, got ${describe(doc)}.`);
  }
  const major = lockfileMajor(own(doc, 'lockfileVersion'));
  const packages = mapping(doc, 'packages', '');
  const importers = readImporters(doc);
  const ctx = new Collector();
  /** packages key (peer suffix stripped) → name@version collected, or null when skipped. */
  const packageKeys = new Map<string, string | null>();
  for (const [key, entry] of Object.entries(packages)) {
    packageKeys.set(stripPeers(key), readPackage(key, entry, major, ctx));
  }
  if (major === 9) applyV9Flags(doc, importers, packageKeys, ctx);
  for (const path of Object.keys(importers)) ctx.skip(`importers/${path}`, path === '.' ? 'root' : 'workspace');
  return {
    format: 'pnpm',
    lockfileVersion: major,
    applicationName: null,
    applicationVersion: null,
    packages: ctx.packages(),
    skipped: ctx.skipped,
  };
}

function lockfileMajor(v: unknown): number {
  const text = typeof v === 'number' || typeof v === 'string' ? String(v) : '';
  const m = /^(\d{1,3})(?:\.\d{1,3})?$/.exec(text);
  const major = m ? Number(m[1]) : NaN;
  if (!SUPPORTED.has(major)) {
    throw lockfileError(
      'ERR_LOCKFILE_UNSUPPORTED_VERSION',
      `pnpm-lock.yaml lockfileVersion ${clip(text || describe(v), 40)} is not supported: expected 6.x (pnpm 8) or 9.x (pnpm 9 and 10). Regenerate it with a newer pnpm.`,
      { lockfileVersion: clip(text || describe(v), 40) },
    );
  }
  return major;
}

function mapping(o: Obj, key: string, path: string): Obj {
  const v = own(o, key);
  if (v === undefined || v === null) return {};
  if (!isObject(v)) {
    const where = path ? `"${path}" ` : '';
    throw lockfileError('ERR_NOT_LOCKFILE', `${where}"${key}" must be a mapping, got ${describe(v)}.`);
  }
  return v;
}

/** Each workspace's dependencies; a single-project 6.x lockfile keeps them at the top level. */
function readImporters(doc: Obj): Record<string, Obj> {
  const importers = own(doc, 'importers');
  if (importers === undefined || importers === null) return { '.': doc };
  if (!isObject(importers)) {
    throw lockfileError('ERR_NOT_LOCKFILE', `"importers" must be a mapping, got ${describe(importers)}.`);
  }
  const out: Record<string, Obj> = {};
  for (const [path, importer] of Object.entries(importers)) {
    if (!isObject(importer)) throw entryError(`importers/${path}`, `expected a mapping, got ${describe(importer)}`);
    out[path] = importer;
  }
  return out;
}

/** `react-dom@18.2.0(react@18.2.0)` → `react-dom@18.2.0`; also drops 9.x's `(patch_hash=…)`. */
function stripPeers(key: string): string {
  const paren = key.indexOf('(');
  return paren < 0 ? key : key.slice(0, paren);
}

/** Reads one `packages` entry; returns the name@version collected, or null when it was skipped. */
function readPackage(key: string, entry: unknown, major: number, ctx: Collector): string | null {
  if (!isObject(entry)) throw entryError(key, `expected a mapping, got ${describe(entry)}`);
  // 6.x registry keys are `/name@version`; a key without the slash is a dependency from elsewhere.
  const registryKey = major === 9 || key.startsWith('/');
  const spec = splitAtName(stripPeers(major === 9 ? key : key.replace(/^\//, '')));
  const declaredName = stringField(key, 'name', own(entry, 'name'));
  const declaredVersion = stringField(key, 'version', own(entry, 'version'));
  const name = declaredName ?? spec?.name;
  if (!name) throw entryError(key, 'names no package (expected name@version)');
  const keyVersion = registryKey && spec ? spec.range : key;

  const resolution = own(entry, 'resolution');
  if (!isObject(resolution)) {
    throw entryError(key, `"resolution" must be a mapping, got ${describe(resolution)}`, { field: 'resolution' });
  }
  const type = own(resolution, 'type');
  if (type === 'directory') {
    ctx.skip(key, 'link');
    return null;
  }
  if (type !== undefined) {
    const repo = stringField(key, 'repo', own(resolution, 'repo')) ?? '';
    const commit = stringField(key, 'commit', own(resolution, 'commit')) ?? '';
    throw notFromRegistry(key, name, `${String(type).slice(0, 20)}:${repo}#${commit}`, { field: 'resolution' });
  }
  // A registry package is its key's exact version; a tarball or file dependency has a URL there and
  // its real version in `version`, and must then pass the registry-tarball rule like npm's `resolved`.
  const version = isExactSemver(keyVersion) ? keyVersion : (declaredVersion ?? keyVersion);
  const v6Dev = major === 6 && flag(entry, 'dev', key);
  const pkg = registryPackage(key, {
    name,
    version,
    integrity: own(resolution, 'integrity'),
    resolved: isExactSemver(keyVersion) ? own(resolution, 'tarball') : (own(resolution, 'tarball') ?? keyVersion),
    dev: v6Dev,
    optional: flag(entry, 'optional', key),
  });
  ctx.add(key, pkg);
  return `${pkg.name}@${pkg.version}`;
}

/**
 * 9.x: `optional: true` is on each snapshot; dev-only is what no importer reaches except through its
 * devDependencies (the graph over `snapshots`).
 */
function applyV9Flags(
  doc: Obj,
  importers: Record<string, Obj>,
  packageKeys: Map<string, string | null>,
  ctx: Collector,
): void {
  const snapshots = mapping(doc, 'snapshots', '');
  const graph: DependencyGraph = { roots: [], nodes: new Map(), complete: true };
  const optional = new Map<string, boolean>();
  const edge = (from: string, name: string, ref: unknown, flags: { dev: boolean; optional: boolean }) => {
    if (typeof ref !== 'string') {
      graph.complete = false;
      return;
    }
    if (ref.startsWith('link:')) return; // a workspace link: the team's own code
    const to = snapshotKey(name, ref);
    if (!Object.hasOwn(snapshots, to)) graph.complete = false;
    else graph.nodes.get(from)!.edges.push({ to, ...flags });
  };
  for (const [key, snap] of Object.entries(snapshots)) {
    if (!isObject(snap)) throw entryError(`snapshots/${key}`, `expected a mapping, got ${describe(snap)}`);
    const packageKey = packageKeys.get(stripPeers(key));
    if (packageKey === undefined) throw entryError(`snapshots/${key}`, 'has no entry in "packages"');
    graph.nodes.set(key, { packageKey, edges: [] });
    if (packageKey !== null) {
      const opt = flag(snap, 'optional', `snapshots/${key}`);
      optional.set(packageKey, (optional.get(packageKey) ?? true) && opt);
    }
  }
  for (const [key, snap] of Object.entries(snapshots)) {
    for (const [field, flags] of DEP_FIELDS.slice(0, 2)) {
      for (const [name, ref] of Object.entries(mapping(snap as Obj, field, `snapshots/${key}`))) {
        edge(key, name, ref, flags);
      }
    }
  }
  for (const [path, importer] of Object.entries(importers)) {
    const id = `importers/${path}`;
    graph.roots.push(id);
    graph.nodes.set(id, { packageKey: null, edges: [] });
    for (const [field, flags] of DEP_FIELDS) {
      for (const [name, dep] of Object.entries(mapping(importer, field, id))) {
        edge(id, name, isObject(dep) ? own(dep, 'version') : dep, flags);
      }
    }
  }
  const dev = devOnly(graph);
  for (const { pkg } of ctx.byKey.values()) {
    const key = `${pkg.name}@${pkg.version}`;
    pkg.dev = dev.has(key);
    pkg.optional = optional.get(key) ?? false;
  }
}

/** The snapshot a dependency reference points at: `1.2.3(peer@1)` under its own name, or `real@1.2.3` for an alias. */
function snapshotKey(name: string, ref: string): string {
  if (/^\d/.test(ref) || /^[a-z][a-z+]*:/.test(ref)) return `${name}@${ref}`;
  return ref;
}
