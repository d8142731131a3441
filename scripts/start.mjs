#!/usr/bin/env node
// `pnpm start`: runs the whole product on this machine, for development and evaluation.
//
// Without DATABASE_URL it starts an embedded PostgreSQL (PGlite, data in .data/pglite) on a loopback
// port; with DATABASE_URL it uses that server. Either way it then migrates and seeds the database,
// starts the API (apps/api/dist/server.js, which also serves the web app from apps/web/dist) and the
// worker (apps/worker/dist/main.js) as child processes, prefixes their output, and stops everything in order on Ctrl-C or SIGTERM: the apps first
// (the worker hands unfinished packages back to their checkpoints), the embedded database last.
//
// It runs the built code: `./scripts/dev.sh` installs and builds first. Production deployments use the
// Docker images and compose files instead (see README.md).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = resolve(process.env.SPM_DATA_DIR || join(root, '.data'));
const files = {
  api: join(root, 'apps/api/dist/server.js'),
  worker: join(root, 'apps/worker/dist/main.js'),
  migrate: join(root, 'packages/db/dist/cli/migrate.js'),
  seed: join(root, 'packages/db/dist/cli/seed.js'),
  embedded: join(root, 'packages/embedded/dist/index.js'),
  web: join(root, 'apps/web/dist/index.html'),
};

const say = (msg) => process.stdout.write(`[start] ${msg}\n`);
const fail = (msg, code = 1) => {
  process.stderr.write(`[start] ${msg}\n`);
  process.exit(code);
};

for (const [name, file] of Object.entries(files)) {
  if (!existsSync(file)) {
    fail(`${name} is not built (${file} is missing). Run ./scripts/dev.sh, or \`pnpm install && pnpm build\` first.`);
  }
}

/** Reads `file`, or writes `make()` to it (mode 600) the first time. */
function persistent(file, make) {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/** Runs a node script to completion with the given env; resolves with its exit code and stdout. */
function runNode(file, args, env, { capture = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [file, ...args], {
      env,
      cwd: root,
      stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), out }));
  });
}

/** Where the API answers (the launcher probes it over loopback even when it listens on all interfaces). */
function apiProbeUrl(env) {
  const host = !env.HOST || env.HOST === '0.0.0.0' || env.HOST === '::' ? '127.0.0.1' : env.HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${env.PORT}`;
}

const env = { ...process.env };
env.NODE_ENV ||= 'development';
env.PORT ||= '5000';
env.HOST ||= '127.0.0.1';
env.PACKAGE_CACHE_DIR = resolve(env.PACKAGE_CACHE_DIR || join(dataDir, 'packages'));
if (!env.LOG_FORMAT && process.stdout.isTTY) env.LOG_FORMAT = 'pretty';
mkdirSync(env.PACKAGE_CACHE_DIR, { recursive: true });
mkdirSync(dataDir, { recursive: true });
if (!env.JWT_SECRET)
  env.JWT_SECRET = persistent(join(dataDir, 'jwt-secret'), () => randomBytes(48).toString('base64url'));

let embedded = null;
if (!env.DATABASE_URL) {
  const { startEmbeddedDatabase } = await import(files.embedded);
  const pgliteDir = join(dataDir, 'pglite');
  const fresh = !existsSync(join(pgliteDir, 'PG_VERSION'));
  say(`no DATABASE_URL: starting the embedded database in ${pgliteDir}${fresh ? ' (first run: ~20 s)' : ''}`);
  try {
    embedded = await startEmbeddedDatabase({
      dataDir: pgliteDir,
      port: Number(env.EMBEDDED_DB_PORT || 0),
      onError: (err) => say(`embedded database: a client connection failed: ${err.message}`),
    });
  } catch (err) {
    fail(err.message);
  }
  env.DATABASE_URL = embedded.url;
  // PGlite does not deliver NOTIFY between connections: the worker polls, often.
  env.WORKER_LISTEN = 'false';
  env.WORKER_SLEEP_INTERVAL ||= '1';
  say(`embedded database: ${embedded.url}`);
} else {
  say('using DATABASE_URL');
}

const migrated = await runNode(files.migrate, [], env);
if (migrated.code !== 0) {
  await embedded?.stop();
  fail(`migration failed (exit ${migrated.code}); nothing was started`);
}

const seeded = await runNode(files.seed, ['--json'], env, { capture: true });
if (seeded.code !== 0) {
  await embedded?.stop();
  fail(`seeding failed (exit ${seeded.code}); nothing was started`);
}
// Development users get random passwords, printed once by the seed; keep them so every start shows them.
const usersFile = join(dataDir, 'dev-users.json');
const dbKey = embedded ? 'embedded' : new URL(env.DATABASE_URL).host + new URL(env.DATABASE_URL).pathname;
const known = existsSync(usersFile) ? JSON.parse(readFileSync(usersFile, 'utf8')) : {};
const created = JSON.parse(seeded.out.trim().split('\n').pop() || '{}').users ?? [];
const devUsers = created.length > 0 ? created : (known[dbKey] ?? []);
if (devUsers.length > 0) {
  // The database started last comes first: scripts/test-worker.sh takes its dev-user from there.
  const { [dbKey]: _previous, ...others } = known;
  writeFileSync(usersFile, `${JSON.stringify({ [dbKey]: devUsers, ...others }, null, 2)}\n`, { mode: 0o600 });
}

const children = new Map();
let stopping = false;
let exitCode = 0;

function startChild(name, file, childEnv) {
  // Own process group: Ctrl-C reaches only this launcher, which forwards one SIGTERM, so the worker's
  // graceful shutdown runs instead of its forced second-signal path.
  const child = spawn(process.execPath, [file], {
    env: childEnv,
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const label = name.padEnd(6);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${label} | ${line}\n`));
  }
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      say(`${name} exited unexpectedly (${signal ?? `exit ${code}`}); stopping everything`);
      exitCode = 1;
      void stop('SIGTERM');
    } else if (code !== 0 && code !== null) {
      exitCode ||= code;
    }
    if (children.size === 0) void finish();
  });
  return child;
}

let finishing = false;
async function finish() {
  if (finishing) return;
  finishing = true;
  if (embedded) {
    say('stopping the embedded database');
    await embedded.stop().catch((err) => say(`embedded database did not close cleanly: ${err.message}`));
  }
  say('stopped');
  process.exit(exitCode);
}

let lastSignalAt = 0;
function stop(signal) {
  const now = Date.now();
  // A terminal's Ctrl-C may arrive twice (from the tty and from a wrapping `pnpm`): one press, one stop.
  if (stopping && now - lastSignalAt < 1000) return;
  lastSignalAt = now;
  if (stopping) {
    say(`${signal} again: forcing the apps to stop`);
    for (const child of children.values()) child.kill('SIGTERM');
    return;
  }
  stopping = true;
  say(`${signal}: stopping the API and the worker (the worker finishes or releases its packages)`);
  for (const child of children.values()) child.kill('SIGTERM');
  if (children.size === 0) void finish();
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGHUP', () => stop('SIGHUP'));

startChild('api', files.api, env);
startChild('worker', files.worker, env);

// Wait for the API to be ready, then say how to use it.
const probe = apiProbeUrl(env);
let ready = false;
for (let i = 0; i < 120 && !stopping; i++) {
  try {
    const res = await fetch(`${probe}/ready`, { signal: AbortSignal.timeout(2000) });
    if (res.ok) {
      ready = true;
      break;
    }
  } catch {
    // not listening yet
  }
  await sleep(500);
}
if (ready) {
  const lines = [
    '',
    `Secure Package Manager is running: ${probe}  (API docs: ${probe}/docs)`,
    `  web app: ${probe}/  (sign in with a user below)`,
    `  database: ${embedded ? `embedded, ${embedded.url} (data in ${join(dataDir, 'pglite')})` : 'DATABASE_URL'}`,
    `  package cache: ${env.PACKAGE_CACHE_DIR}`,
  ];
  if (devUsers.length > 0) {
    lines.push(`  development users (kept in ${usersFile}):`);
    for (const u of devUsers) lines.push(`    ${u.role.padEnd(8)} ${u.username} / ${u.password}`);
  } else if (env.NODE_ENV !== 'development') {
    lines.push('  users: NODE_ENV is not development, so only ADMIN_USERNAME/ADMIN_PASSWORD (if set) can log in');
  }
  lines.push(`  try it: API_URL=${probe} ./scripts/test-worker.sh`, '  Ctrl-C stops everything.', '');
  process.stdout.write(`${lines.join('\n')}\n`);
} else if (!stopping) {
  say(`the API did not become ready at ${probe}/ready within 60 s; its output above says why`);
}
