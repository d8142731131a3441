#!/usr/bin/env node
/**
 * Regenerates the client-written lockfile fixtures in apps/api/test/fixtures/clients/: one project
 * (project/: a root package.json and one workspace) installed by every client against the registry
 * npm is configured with, the lockfile each writes, and the name@version set each client itself
 * reports for what it installed. The registry host is rewritten to registry.example.test.
 *
 * Needs the network (the registry), so it is a script, not part of the suite: the committed
 * fixtures and reported sets are what the tests check. Run: node apps/api/scripts/lockfile-fixtures.mjs
 * [client ...] (default: every client). Clients come from the registry through npx, pinned below.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = fileURLToPath(new URL('../test/fixtures/clients/', import.meta.url));
const PROJECT = join(OUT, 'project');
const NEUTRAL = 'https://registry.example.test/';

const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim().replace(/\/?$/, '/');
const registryHost = new URL(registry).host;

const run = (cwd, cmd, args, env = {}) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CI: '', npm_config_yes: 'true', ...env },
  });

/** `npx -p <spec> <bin> ...args`: the client comes from the registry, pinned. */
const npx = (cwd, spec, bin, args, env) => run(cwd, 'npx', ['-y', '-p', spec, bin, ...args], env);

/** name@version from every node of an `npm ls --json` / `pnpm ls --json` tree (aliases under their real name). */
function flattenTree(deps, out) {
  for (const [key, d] of Object.entries(deps ?? {})) {
    if (typeof d.version !== 'string' || /^(link|file|workspace):/.test(d.version)) {
      flattenTree(d.dependencies, out);
      continue;
    }
    // npm: d.name is the real name of an alias; pnpm: d.from.
    out.add(`${d.from ?? d.name ?? key}@${d.version}`);
    flattenTree(d.dependencies, out);
    flattenTree(d.optionalDependencies, out);
    flattenTree(d.devDependencies, out);
  }
}

const berryRc = (cache) =>
  [
    `npmRegistryServer: "${registry}"`,
    'enableTelemetry: false',
    'enableGlobalCache: false',
    `cacheFolder: "${cache}"`,
    'enableScripts: false',
    'nodeLinker: node-modules',
    'enableImmutableInstalls: false',
    '',
  ].join('\n');

function berry(spec) {
  return {
    lockfile: 'yarn.lock',
    install(dir, cache) {
      writeFileSync(join(dir, '.yarnrc.yml'), berryRc(cache));
      npx(dir, spec, 'yarn', ['install', '--mode=skip-build']);
      const lines = npx(dir, spec, 'yarn', ['info', '--all', '--recursive', '--json']).trim().split('\n');
      const out = new Set();
      for (const line of lines) {
        const value = JSON.parse(line).value;
        // name@npm:1.2.3; workspaces (@workspace:) and patched copies (@patch:, same name@version as their base) aside.
        const m = /^(@?[^@]+)@npm:(.+)$/.exec(value);
        if (m) out.add(`${m[1]}@${m[2]}`);
      }
      return out;
    },
  };
}

function pnpm(spec) {
  return {
    lockfile: 'pnpm-lock.yaml',
    install(dir, cache) {
      const env = {
        npm_config_store_dir: join(cache, 'store'),
        npm_config_cache_dir: join(cache, 'cache'),
        npm_config_registry: registry,
      };
      npx(dir, spec, 'pnpm', ['install', '--ignore-scripts'], env);
      const projects = JSON.parse(npx(dir, spec, 'pnpm', ['ls', '-r', '--depth', 'Infinity', '--json'], env));
      const out = new Set();
      for (const p of projects) {
        flattenTree(p.dependencies, out);
        flattenTree(p.devDependencies, out);
        flattenTree(p.optionalDependencies, out);
      }
      return out;
    },
  };
}

const CLIENTS = {
  npm: {
    lockfile: 'package-lock.json',
    install(dir, cache) {
      const args = ['--registry', registry, '--cache', cache];
      npx(dir, 'npm@11.6.2', 'npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', ...args]);
      const tree = JSON.parse(npx(dir, 'npm@11.6.2', 'npm', ['ls', '--all', '--json', ...args]));
      const out = new Set();
      flattenTree(tree.dependencies, out);
      return out;
    },
  },
  yarn1: {
    lockfile: 'yarn.lock',
    install(dir, cache) {
      const args = ['--registry', registry, '--cache-folder', cache, '--non-interactive', '--no-progress'];
      writeFileSync(join(dir, '.yarnrc'), 'disable-self-update-check true\n');
      npx(dir, 'yarn@1.22.22', 'yarn', ['install', '--ignore-scripts', ...args]);
      const tree = JSON.parse(npx(dir, 'yarn@1.22.22', 'yarn', ['list', '--json', ...args]));
      const out = new Set();
      const walk = (nodes) => {
        for (const n of nodes ?? []) {
          if (!n.shadow) out.add(n.name);
          walk(n.children);
        }
      };
      walk(tree.data.trees);
      return out;
    },
  },
  yarn3: berry('@yarnpkg/cli-dist@3.8.6'),
  yarn4: berry('@yarnpkg/cli-dist@4.18.1'),
  pnpm8: pnpm('pnpm@8.15.9'),
  pnpm9: pnpm('pnpm@9.15.9'),
  pnpm10: pnpm('pnpm@10.34.9'),
};

function neutral(text) {
  const out = text.split(registry).join(NEUTRAL);
  if (out.includes(registryHost) || /registry\.(npmjs\.org|yarnpkg\.com)/.test(out)) {
    throw new Error(`a registry host survived the rewrite`);
  }
  return out;
}

const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(CLIENTS);
for (const name of wanted) {
  const client = CLIENTS[name];
  if (!client) throw new Error(`unknown client ${name}; one of ${Object.keys(CLIENTS).join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), `spm-fixture-${name}-`));
  const cache = mkdtempSync(join(tmpdir(), `spm-fixture-cache-${name}-`));
  try {
    cpSync(PROJECT, dir, { recursive: true });
    console.error(`${name}: installing in ${dir}`);
    const reported = client.install(dir, cache);
    const text = readFileSync(join(dir, client.lockfile), 'utf8');
    writeFileSync(join(OUT, `${name}.${client.lockfile}`), neutral(text));
    writeFileSync(join(OUT, `${name}.reported.json`), `${JSON.stringify([...reported].sort(), null, 2)}\n`);
    console.error(`${name}: ${reported.size} packages reported`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
}
