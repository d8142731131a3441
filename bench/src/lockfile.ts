import { createHash } from 'node:crypto';
import { rng } from './stats.js';

/** The neutral host every generated `resolved` URL points at (never fetched by the product). */
export const NEUTRAL_REGISTRY = 'https://registry.example.test/';

const WORDS = (
  'fast json parse stream util core data tiny deep merge clone color string array object path glob ' +
  'minimatch yaml toml http fetch retry cache lru event emitter async queue signal abort buffer ' +
  'base64 hash crypto uuid date time format locale intl number bytes size chalk ansi style term ' +
  'log debug trace error stack source map babel plugin preset loader webpack rollup vite esbuild ' +
  'postcss css sass less html dom react vue svelte hooks state store redux router link form input ' +
  'validate schema ajv zod types config env dotenv args cli prompt spinner progress table tree walk ' +
  'fs extra graceful mkdirp rimraf tmp which spawn exec cross shell open browser mime content type ' +
  'cookie session jwt auth oauth token crc zlib gzip tar zip semver compare range resolve pkg'
).split(' ');
const SCOPES = [
  'acme',
  'types',
  'babel',
  'vitejs',
  'rollup',
  'esbuild',
  'sinclair',
  'fastify',
  'eslint',
  'jest',
  'octokit',
  'aws-sdk',
  'smithy',
  'opentelemetry',
  'emotion',
  'mui',
  'radix-ui',
  'floating-ui',
  'tanstack',
  'swc',
  'napi-rs',
  'parcel',
  'sentry',
  'graphql-tools',
  'apollo',
  'nestjs',
  'angular',
  'storybook',
  'testing-library',
  'commitlint',
];
/** All in the default policy's always_allowed tier, so a gated run ends Published rather than Rejected. */
const LICENCES: Array<[string, number]> = [
  ['MIT', 0.62],
  ['ISC', 0.15],
  ['Apache-2.0', 0.1],
  ['BSD-3-Clause', 0.05],
  ['BSD-2-Clause', 0.04],
  ['(MIT OR Apache-2.0)', 0.03],
  ['0BSD', 0.01],
];

export interface PlannedEntry {
  /** Location in the tree, e.g. `node_modules/a/node_modules/@s/b`. */
  path: string;
  name: string;
  version: string;
  license: string;
  /** name → range, as the package's manifest and lockfile entry declare it. */
  dependencies: Record<string, string>;
  dev: boolean;
  /** Gzipped tarball size to aim for (only used when real tarballs are built). */
  targetBytes: number;
}

export interface LockfilePlan {
  appName: string;
  appVersion: string;
  rootDependencies: Record<string, string>;
  rootDevDependencies: Record<string, string>;
  entries: PlannedEntry[];
}

/** Distinct name@version pairs of a plan (a name@version may sit at several paths). */
export function distinctPackages(plan: LockfilePlan): PlannedEntry[] {
  const seen = new Map<string, PlannedEntry>();
  for (const e of plan.entries) if (!seen.has(`${e.name}@${e.version}`)) seen.set(`${e.name}@${e.version}`, e);
  return [...seen.values()];
}

function pickWeighted<T>(r: () => number, items: Array<[T, number]>): T {
  let x = r();
  for (const [v, w] of items) {
    if ((x -= w) < 0) return v;
  }
  return items[items.length - 1]![0];
}

function sizeFor(r: () => number): number {
  // Most npm tarballs are small; a few (compilers, icon sets, bundled binaries' JS) are large.
  const x = r();
  const logUniform = (lo: number, hi: number) =>
    Math.round(Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo))));
  if (x < 0.88) return logUniform(5_000, 50_000);
  if (x < 0.96) return logUniform(50_000, 500_000);
  return logUniform(500_000, 2_000_000);
}

/**
 * Plans a realistic npm v3 lockfile tree of `count` entries (excluding the root): about 85 % hoisted at
 * `node_modules/<name>`, a quarter of them scoped; the rest nested one or two levels deep
 * (`node_modules/a/node_modules/b`) at another major version than the hoisted copy, some of them the
 * same name@version under several parents (duplicates a parser must merge). Every entry is reachable
 * from the root, so `npm ci` installs all of them; `dev` is computed by reachability like npm does.
 * Deterministic for a given seed. `majorOffset` shifts every version so a second plan with the same
 * seed has the same shape but only new name@versions.
 */
export function planLockfile(opts: {
  count: number;
  seed: number;
  majorOffset?: number;
  appName?: string;
}): LockfilePlan {
  const r = rng(opts.seed);
  const off = opts.majorOffset ?? 0;
  const topCount = Math.max(2, Math.round(opts.count * 0.85));
  const nestedCount = opts.count - topCount;

  const names = new Set<string>();
  while (names.size < topCount) {
    const w = () => WORDS[Math.floor(r() * WORDS.length)]!;
    const base = r() < 0.5 ? `${w()}-${w()}` : r() < 0.5 ? w() : `${w()}-${w()}-${w()}`;
    const name = r() < 0.25 ? `@${SCOPES[Math.floor(r() * SCOPES.length)]}/${base}` : base;
    names.add(name);
  }
  const top: PlannedEntry[] = [...names].map((name) => ({
    path: `node_modules/${name}`,
    name,
    version: `${off + Math.floor(r() * 6)}.${Math.floor(r() * 30)}.${Math.floor(r() * 12)}`,
    license: pickWeighted(r, LICENCES),
    dependencies: {},
    dev: false,
    targetBytes: sizeFor(r),
  }));
  const direct = Math.max(2, Math.round(topCount * 0.06));
  const prodDirect = Math.max(1, Math.round(direct * 0.7));
  const rootDependencies: Record<string, string> = {};
  const rootDevDependencies: Record<string, string> = {};
  for (let i = 0; i < direct; i++) {
    const e = top[i]!;
    (i < prodDirect ? rootDependencies : rootDevDependencies)[e.name] = `^${e.version}`;
  }
  // A DAG over the hoisted packages: each non-direct package has at least one dependent before it.
  for (let j = direct; j < topCount; j++) {
    const i = Math.floor(r() * j);
    top[i]!.dependencies[top[j]!.name] = `^${top[j]!.version}`;
  }
  for (let i = 0; i < topCount; i++) {
    const extra = Math.floor(r() * 3);
    for (let k = 0; k < extra; k++) {
      const j = i + 1 + Math.floor(r() * (topCount - i - 1));
      if (j < topCount) top[i]!.dependencies[top[j]!.name] = `^${top[j]!.version}`;
    }
  }

  const byPath = new Map<string, PlannedEntry>(top.map((e) => [e.path, e]));
  const nested: PlannedEntry[] = [];
  let guard = 0;
  while (nested.length < nestedCount && guard++ < nestedCount * 50) {
    const deep = nested.length > 0 && r() < 0.12;
    const parent = deep ? nested[Math.floor(r() * nested.length)]! : top[Math.floor(r() * topCount)]!;
    let child: PlannedEntry;
    const reuse = nested.length > 0 && r() < 0.25;
    if (reuse) {
      const prev = nested[Math.floor(r() * nested.length)]!;
      child = { ...prev, dependencies: {} };
    } else {
      const hoisted = top[Math.floor(r() * topCount)]!;
      const major = Number(hoisted.version.split('.')[0]) + 1 + Math.floor(r() * 3);
      child = {
        path: '',
        name: hoisted.name,
        version: `${major}.${Math.floor(r() * 20)}.${Math.floor(r() * 10)}`,
        license: pickWeighted(r, LICENCES),
        dependencies: {},
        dev: false,
        targetBytes: sizeFor(r),
      };
    }
    if (child.name === parent.name || parent.dependencies[child.name]) continue;
    const path = `${parent.path}/node_modules/${child.name}`;
    if (byPath.has(path)) continue;
    child.path = path;
    parent.dependencies[child.name] = `^${child.version}`;
    byPath.set(path, child);
    nested.push(child);
  }

  const entries = [...top, ...nested];
  // dev = reachable only through devDependencies (npm resolves a dependency from the nearest node_modules up).
  const resolve = (from: string, name: string): PlannedEntry | undefined => {
    let base = from;
    for (;;) {
      const hit = byPath.get(`${base ? `${base}/` : ''}node_modules/${name}`);
      if (hit) return hit;
      if (!base) return undefined;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  const prodReached = new Set<string>();
  const queue = Object.keys(rootDependencies).map((n) => resolve('', n)!);
  while (queue.length) {
    const e = queue.pop()!;
    if (prodReached.has(e.path)) continue;
    prodReached.add(e.path);
    for (const dep of Object.keys(e.dependencies)) {
      const d = resolve(e.path, dep);
      if (d && !prodReached.has(d.path)) queue.push(d);
    }
  }
  for (const e of entries) e.dev = !prodReached.has(e.path);

  return {
    appName: opts.appName ?? 'bench-app',
    appVersion: `${off + 1}.0.0`,
    rootDependencies,
    rootDevDependencies,
    entries,
  };
}

/** A stand-in SRI value for lockfiles whose tarballs are never built (B1, B2, B3). */
export function fakeIntegrity(name: string, version: string): string {
  return `sha512-${createHash('sha512').update(`${name}@${version}`).digest('base64')}`;
}

export function tarballUrl(registry: string, name: string, version: string): string {
  return `${registry}${name}/-/${name.split('/').pop()}-${version}.tgz`;
}

/** Renders a plan as package-lock.json v3 (the shape npm 9+ writes). */
export function renderLockfile(
  plan: LockfilePlan,
  opts: { registry?: string; integrity?: (name: string, version: string) => string } = {},
): Record<string, unknown> {
  const registry = opts.registry ?? NEUTRAL_REGISTRY;
  const integrity = opts.integrity ?? fakeIntegrity;
  const packages: Record<string, unknown> = {
    '': {
      name: plan.appName,
      version: plan.appVersion,
      license: 'UNLICENSED',
      dependencies: plan.rootDependencies,
      devDependencies: plan.rootDevDependencies,
    },
  };
  for (const e of plan.entries) {
    packages[e.path] = {
      version: e.version,
      resolved: tarballUrl(registry, e.name, e.version),
      integrity: integrity(e.name, e.version),
      ...(e.dev ? { dev: true } : {}),
      license: e.license,
      ...(Object.keys(e.dependencies).length ? { dependencies: e.dependencies } : {}),
      engines: { node: '>=14' },
    };
  }
  return { name: plan.appName, version: plan.appVersion, lockfileVersion: 3, requires: true, packages };
}

/** The package.json that goes beside the lockfile (for `npm ci`). */
export function renderPackageJson(plan: LockfilePlan): Record<string, unknown> {
  return {
    name: plan.appName,
    version: plan.appVersion,
    private: true,
    license: 'UNLICENSED',
    dependencies: plan.rootDependencies,
    devDependencies: plan.rootDevDependencies,
  };
}
