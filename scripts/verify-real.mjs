#!/usr/bin/env node
// The real-world check of the gate (`pnpm verify:real [lockfile]`): runs the whole product on this
// machine against a fresh database, submits a lockfile whose packages come from the registry npm is
// configured with (`npm config get registry`, or SOURCE_REGISTRY_URL), waits until every package has
// settled, and prints the table of outcomes: every rejection with its kind and reason, why the rest wait
// for a person, and any error-level log line of the API or the worker.
//
// It fails (exit 1) when a package is rejected with kind `error`, when one is rejected for its size
// alone (a SCAN_MAX_* or DOWNLOAD_MAX_BYTES limit), when the API or the worker logged an error, or when
// the packages do not settle in time. Network; not part of the test suite. Needs `pnpm build`.
//
//   pnpm verify:real                                    # scripts/sample/real-extremes/package-lock.json
//   pnpm verify:real path/to/package-lock.json --timeout 1800 --json outcome.json --keep
//
// With DATABASE_URL it creates a fresh database on that server (dropped afterwards unless --keep);
// without it, the embedded database in a temporary folder.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !['--timeout', '--json'].includes(args[i - 1]));
const lockfile = resolve(positional[0] ?? join(root, 'scripts/sample/real-extremes/package-lock.json'));
const timeoutSeconds = Number(opt('--timeout', '1800'));
const jsonOut = opt('--json', null);
const keep = flag('--keep');

const say = (msg) => process.stderr.write(`[verify:real] ${msg}\n`);
if (flag('--help') || !existsSync(lockfile) || !(timeoutSeconds > 0)) {
  say('usage: pnpm verify:real [lockfile] [--timeout SECONDS] [--json FILE] [--keep]');
  if (!existsSync(lockfile)) say(`no such lockfile: ${lockfile}`);
  process.exit(flag('--help') ? 0 : 3);
}
for (const built of ['apps/api/dist/server.js', 'apps/worker/dist/main.js', 'packages/cli/dist/main.js']) {
  if (!existsSync(join(root, built))) {
    say(`${built} is missing: run \`pnpm build\` first`);
    process.exit(3);
  }
}

const registry =
  process.env.SOURCE_REGISTRY_URL ||
  spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).stdout.trim() ||
  undefined;
const work = mkdtempSync(join(tmpdir(), 'spm-verify-real-'));
const logFile = join(work, 'product.log');

/** A free loopback port. */
function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Runs SQL on the server of DATABASE_URL (maintenance database), for creating and dropping ours. */
async function adminSql(sql) {
  const pg = createRequire(join(root, 'packages/db/package.json'))('pg');
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let databaseUrl;
let databaseName;
if (process.env.DATABASE_URL) {
  databaseName = `spm_verify_${Date.now().toString(36)}`;
  await adminSql(`CREATE DATABASE ${databaseName}`);
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = `/${databaseName}`;
  databaseUrl = url.toString();
  say(`database: ${databaseName} on the DATABASE_URL server${keep ? ' (kept)' : ''}`);
} else {
  say('database: embedded, in a temporary folder');
}

const port = await freePort();
const api = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  NODE_ENV: 'development',
  PORT: String(port),
  HOST: '127.0.0.1',
  SPM_DATA_DIR: join(work, 'data'),
  LOG_FORMAT: 'json',
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: '' }),
  ...(registry ? { SOURCE_REGISTRY_URL: registry } : {}),
};
if (!databaseUrl) delete env.DATABASE_URL;

// The product writes straight to the log file: this script blocks while the CLI waits.
const log = openSync(logFile, 'a');
const product = spawn(process.execPath, [join(root, 'scripts/start.mjs')], {
  env,
  cwd: root,
  stdio: ['ignore', log, log],
});
const exited = new Promise((res) => product.on('exit', (code) => res(code)));
let productExit = null;
void exited.then((code) => (productExit = code));

async function stopProduct() {
  if (productExit === null) {
    product.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
    if (productExit === null) product.kill('SIGKILL');
  }
  if (databaseName && !keep) {
    await sleep(500);
    await adminSql(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch((err) =>
      say(`could not drop ${databaseName}: ${err.message}`),
    );
  }
}

async function fail(msg) {
  say(msg);
  say(`product log: ${logFile}`);
  await stopProduct();
  process.exit(3);
}

// Ready?
const started = Date.now();
for (;;) {
  if (productExit !== null) await fail(`the product exited (${productExit}) before it was ready`);
  const ok = await fetch(`${api}/ready`).then(
    (r) => r.ok,
    () => false,
  );
  if (ok) break;
  if (Date.now() - started > 180_000) await fail('the API was not ready after 180 s');
  await sleep(500);
}
say(`product ready at ${api} (registry: ${registry ?? 'the worker default'})`);

const users = JSON.parse(readFileSync(join(work, 'data', 'dev-users.json'), 'utf8'));
const admin = Object.values(users)[0].find((u) => u.role === 'admin');
const login = await fetch(`${api}/api/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: admin.username, password: admin.password }),
});
if (!login.ok) await fail(`login failed: ${login.status} ${await login.text()}`);
const { token } = await login.json();

// The CLI submits, waits and reports (its JSON result has every package with its outcome and reason).
const submitStarted = Date.now();
const cli = spawnSync(
  process.execPath,
  [
    join(root, 'packages/cli/bin/spm.js'),
    'submit',
    lockfile,
    '--wait',
    '--json',
    '--timeout',
    String(timeoutSeconds),
    '--fail-on',
    'rejected',
  ],
  {
    env: { ...process.env, SPM_URL: api, SPM_TOKEN: token, SPM_CONFIG: join(work, 'spm.json') },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const seconds = (Date.now() - submitStarted) / 1000;
let result;
try {
  result = JSON.parse(cli.stdout);
} catch {
  await fail(`spm submit did not print a result (exit ${cli.status}): ${cli.stdout.slice(0, 2000)}`);
}
await stopProduct();

// Error-level lines of the API and the worker (pino level 50 and above).
const errorLines = readFileSync(logFile, 'utf8')
  .split('\n')
  .filter((line) => /"level":(5\d|60)\b/.test(line));

const SIZE_LIMIT = /SCAN_MAX_|DOWNLOAD_MAX_BYTES|too large|compression ratio|more than \d+ entries/i;
const rejected = result.packages.filter((p) => p.outcome === 'rejected');
const withErrorKind = rejected.filter((p) => /^error:/.test(p.reason));
const forSize = rejected.filter((p) => SIZE_LIMIT.test(p.reason));
const pending = result.packages.filter((p) => p.outcome === 'pending');
const unsettled = result.packages.filter((p) => p.outcome === 'unsettled');
const byStatus = {};
for (const p of result.packages) byStatus[p.status] = (byStatus[p.status] ?? 0) + 1;
// Why packages wait: the policy's rule when a policy decided, else what the scan found.
const pendingReasons = {};
const countReason = (k) => (pendingReasons[k] = (pendingReasons[k] ?? 0) + 1);
for (const p of pending) {
  const rule = /(hold|wait) rule \d+ \(([^)]+)\)/.exec(p.reason);
  if (/\(cooldown\)/.test(p.reason)) countReason('release cooldown (decided by itself when of age)');
  else if (rule) countReason(`policy rule ${rule[2]}`);
  else
    for (const part of p.reason.split('; '))
      for (const k of part.startsWith('signals: ')
        ? part
            .slice(9)
            .split(', ')
            .map((x) => `signal ${x}`)
        : [part])
        countReason(k);
}
const cooling = pending.filter((p) => /\(cooldown\)/.test(p.reason)).length;
const withoutPerson = result.packages.length - pending.length + cooling - unsettled.length;

const out = [];
out.push(`# verify:real — ${lockfile.replace(`${root}/`, '')}`);
out.push('');
out.push(
  `${result.packages.length} packages; settled in ${seconds.toFixed(1)} s after the upload${result.outcome === 'timeout' ? ' (TIMED OUT)' : ''}`,
);
out.push('');
out.push('| status | packages |');
out.push('| --- | ---: |');
for (const [s, n] of Object.entries(byStatus).sort((a, b) => b[1] - a[1])) out.push(`| ${s} | ${n} |`);
out.push('');
out.push(`Rejected: ${rejected.length} (kind error: ${withErrorKind.length}; for size alone: ${forSize.length})`);
for (const p of rejected) out.push(`- ${p.name}@${p.version}: ${p.reason}`);
out.push('');
out.push(
  `Decided without a person: ${withoutPerson} of ${result.packages.length} (${((100 * withoutPerson) / Math.max(1, result.packages.length)).toFixed(1)} %), counting ${cooling} in cooldown`,
);
out.push('');
out.push(`Waiting: ${pending.length}, because of`);
for (const [r, n] of Object.entries(pendingReasons).sort((a, b) => b[1] - a[1])) out.push(`- ${r}: ${n}`);
if (unsettled.length > 0) {
  out.push('');
  out.push(`Not settled: ${unsettled.map((p) => `${p.name}@${p.version} (${p.status})`).join(', ')}`);
}
out.push('');
out.push(`Error-level log lines of the API and the worker: ${errorLines.length}`);
for (const line of errorLines.slice(0, 20)) out.push(`  ${line.slice(0, 400)}`);
process.stdout.write(`${out.join('\n')}\n`);

if (jsonOut) {
  writeFileSync(
    jsonOut,
    `${JSON.stringify({ lockfile, seconds, by_status: byStatus, result, error_log_lines: errorLines }, null, 2)}\n`,
  );
}
const ok = withErrorKind.length === 0 && forSize.length === 0 && errorLines.length === 0 && unsettled.length === 0;
if (ok && !keep) rmSync(work, { recursive: true, force: true });
else say(`kept ${work} (product log: ${logFile})`);
process.exit(ok ? 0 : 1);
