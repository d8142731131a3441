import { parseSyml } from '@yarnpkg/parsers';
import {
  Collector,
  MAX_NAME_LENGTH,
  clip,
  describe,
  entryError,
  isLocalFolder,
  isObject,
  lockfileError,
  notFromRegistry,
  own,
  registryPackage,
  splitAtName,
  stringField,
  syntaxError,
  type Obj,
} from './entry.js';
import { optionalOnly, type DependencyGraph } from './graph.js';
import type { ParsedLockfile } from './types.js';

/**
 * Yarn Berry's yarn.lock (Yarn 2 to 4): YAML-like, read by Yarn's own parser (@yarnpkg/parsers).
 * Each entry is keyed by the descriptors it satisfies and names its `resolution` locator
 * (`name@npm:1.2.3`, `name@workspace:.`, `name@patch:…`). Berry records no integrity of the npm
 * tarball: its `checksum` is a hash of the zip Yarn builds from it, so it is recorded and never used
 * to verify the tarball (the worker checks the registry's own integrity). Dev dependencies are not
 * told apart in this format; optional ones are (`dependenciesMeta.<name>.optional`).
 */

const MIN_METADATA_VERSION = 4; // Yarn 2.0
const CHECKSUM = /^(?:[0-9A-Za-z]{1,16}\/)?[0-9a-f]{128}$/;
const MAX_PATCH_NESTING = 3;

export function parseYarnBerry(text: string): ParsedLockfile {
  let doc: unknown;
  try {
    doc = parseSyml(text);
  } catch (err) {
    throw syntaxError('yarn.lock', err);
  }
  if (!isObject(doc)) throw lockfileError('ERR_NOT_LOCKFILE', 'The yarn.lock is not a list of entries.');
  const meta = own(doc, '__metadata');
  if (!isObject(meta)) {
    throw lockfileError('ERR_NOT_LOCKFILE', `The yarn.lock's "__metadata" must be a mapping, got ${describe(meta)}.`);
  }
  const rawVersion = own(meta, 'version');
  const version = typeof rawVersion === 'string' && /^\d{1,4}$/.test(rawVersion) ? Number(rawVersion) : NaN;
  if (!(version >= MIN_METADATA_VERSION)) {
    throw lockfileError(
      'ERR_LOCKFILE_UNSUPPORTED_VERSION',
      `yarn.lock __metadata.version ${clip(String(rawVersion), 40)} is not supported: expected ${MIN_METADATA_VERSION} or newer (Yarn 2 to 4).`,
      { lockfileVersion: clip(String(rawVersion), 40) },
    );
  }

  const ctx = new Collector();
  const graph: DependencyGraph = { roots: [], nodes: new Map(), complete: true };
  const byDescriptor = new Map<string, string>();
  let applicationName: string | null = null;
  for (const [key, entry] of Object.entries(doc)) {
    if (key === '__metadata') continue;
    if (!isObject(entry)) throw entryError(key, `expected a mapping, got ${describe(entry)}`);
    const resolution = stringField(key, 'resolution', own(entry, 'resolution'));
    if (resolution === null) throw entryError(key, 'has no "resolution"', { field: 'resolution' });
    const target = readLocator(key, resolution, entry, ctx, 0);
    for (const descriptor of key.split(/,\s*/)) byDescriptor.set(descriptor, key);
    graph.nodes.set(key, { packageKey: target.packageKey, edges: [] });
    if (target.workspace) {
      graph.roots.push(key);
      if (resolution.endsWith('@workspace:.') && target.name.length <= MAX_NAME_LENGTH) applicationName = target.name;
    }
  }
  // Edges: `dependencies` name → range is the descriptor `name@range` (Yarn 3 leaves out the default `npm:`).
  for (const [key, node] of graph.nodes) {
    const entry = doc[key] as Obj;
    const deps = own(entry, 'dependencies');
    const meta = own(entry, 'dependenciesMeta');
    if (!isObject(deps)) continue;
    for (const [name, range] of Object.entries(deps)) {
      const to =
        typeof range === 'string'
          ? (byDescriptor.get(`${name}@${range}`) ?? byDescriptor.get(`${name}@npm:${range}`))
          : undefined;
      if (to === undefined) {
        graph.complete = false;
        continue;
      }
      const m = isObject(meta) ? own(meta, name) : undefined;
      const optional = isObject(m) && (own(m, 'optional') === 'true' || own(m, 'optional') === true);
      node.edges.push({ to, optional });
    }
  }
  const optional = optionalOnly(graph);
  for (const { pkg } of ctx.byKey.values()) pkg.optional = optional.has(`${pkg.name}@${pkg.version}`);

  return {
    format: 'yarn-berry',
    lockfileVersion: version,
    applicationName,
    applicationVersion: null,
    packages: ctx.packages(),
    skipped: ctx.skipped,
  };
}

interface Target {
  name: string;
  /** name@version of the registry package this entry installs, or null (workspace, link, folder). */
  packageKey: string | null;
  workspace: boolean;
}

/** Applies the registry-only rules to one locator; a patch is skipped and its source locator read in its place. */
function readLocator(path: string, locator: string, entry: Obj, ctx: Collector, depth: number): Target {
  const loc = splitAtName(locator);
  if (!loc) throw entryError(path, `resolution "${clip(locator, 80)}" is not a name@protocol locator`);
  const { name, range } = loc;
  const protocol = range.slice(0, range.indexOf(':') + 1);
  switch (protocol) {
    case 'npm:': {
      // `::__archiveUrl=…` marks a tarball at a non-standard URL: recorded by Yarn, never fetched by us.
      const version = range.slice(4).split('::')[0]!;
      if (depth === 0) {
        const declared = own(entry, 'version');
        if (declared !== undefined && declared !== version) {
          throw entryError(
            path,
            `"version" ${clip(String(declared), 80)} differs from the resolution's ${clip(version, 80)}`,
            {
              name,
              field: 'version',
            },
          );
        }
      }
      const checksum = depth === 0 ? readChecksum(path, entry) : null;
      ctx.add(path, registryPackage(path, { name, version, yarnChecksum: checksum }));
      return { name, packageKey: `${name}@${version}`, workspace: false };
    }
    case 'workspace:':
      ctx.skip(path, 'workspace');
      return { name, packageKey: null, workspace: true };
    case 'link:':
    case 'portal:':
      ctx.skip(path, 'link');
      return { name, packageKey: null, workspace: false };
    case 'file:':
      if (isLocalFolder(range.slice(5).split('::')[0]!)) {
        ctx.skip(path, 'link');
        return { name, packageKey: null, workspace: false };
      }
      throw notFromRegistry(path, name, range, { field: 'resolution' });
    case 'patch:': {
      // `name@patch:name@npm%3A1.2.3#<patch>::…`: Yarn patches the source package at install time.
      // The package vetted is the source; the patch (Yarn's built-in compat patches, or the team's own
      // patch file) is not a registry package.
      if (depth >= MAX_PATCH_NESTING) throw entryError(path, 'patches are nested too deeply');
      const hash = range.indexOf('#');
      let source: string;
      try {
        source = decodeURIComponent(range.slice(6, hash < 0 ? undefined : hash));
      } catch {
        throw entryError(path, `the patch source in "${clip(range, 80)}" is not URL-encoded correctly`);
      }
      ctx.skip(path, 'patch');
      const inner = readLocator(path, source, entry, ctx, depth + 1);
      return { ...inner, workspace: false };
    }
    default:
      // git, http(s) tarballs, exec: (runs a script), and anything else.
      throw notFromRegistry(path, name, range, { field: 'resolution' });
  }
}

function readChecksum(path: string, entry: Obj): string | null {
  const checksum = stringField(path, 'checksum', own(entry, 'checksum'));
  if (checksum !== null && !CHECKSUM.test(checksum)) {
    throw entryError(path, '"checksum" is not a Yarn checksum (an optional cache key, a slash, 128 hex digits)', {
      field: 'checksum',
    });
  }
  return checksum;
}
