#!/usr/bin/env node
// Continuous protection, shown against a running product (docs/continuous-protection.md):
//
//   1. two versions of a small public package are submitted, vetted, approved and published;
//   2. an OSV export with a new advisory for the newer version appears at ADVISORIES_URL, which this
//      script serves on loopback; the worker's scheduled sync picks it up by itself;
//   3. `npm install <pkg>@<new>` from /registry/ fails with npm printing the advisory, `latest` is the
//      older version again, the impact endpoint names the request, and the `package.newly_affected`
//      webhook arrives (signed) at this script;
//   4. the advisory is withdrawn (a newer export), the quarantine ends, and the install works again.
//
// Start the product so its worker syncs from this script and may call it back:
//
//   ADVISORIES_URL=http://127.0.0.1:4999/osv/all.zip ADVISORIES_SYNC_INTERVAL=5 WEBHOOK_ALLOW_PRIVATE=true \
//     pnpm start
//   node scripts/demo-quarantine.mjs            (in a second terminal; `pnpm build` first)
//
// Environment: API_URL (default http://127.0.0.1:5000), DEMO_FEED_PORT (4999), DEMO_PACKAGE (is-number),
// DEMO_OLD / DEMO_NEW (6.0.0 / 7.0.0), SPM_DATA_DIR (.data, for the development users), TIMEOUT (s, 300).
// The versions come from the source registry the product downloads from (npm's configured registry).
// Exit codes: 0 shown; 1 a step failed (the message says which); 2 usage or setup.
import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const API = (process.env.API_URL || 'http://127.0.0.1:5000').replace(/\/+$/, '');
const PORT = Number(process.env.DEMO_FEED_PORT || 4999);
const PKG = process.env.DEMO_PACKAGE || 'is-number';
const OLD = process.env.DEMO_OLD || '6.0.0';
const NEW = process.env.DEMO_NEW || '7.0.0';
const TIMEOUT_MS = Number(process.env.TIMEOUT || 300) * 1000;
const ADVISORY = 'GHSA-demo-spm0-0017';

const say = (s) => process.stdout.write(`${s}\n`);
const fail = (s, code = 1) => {
  process.stderr.write(`demo-quarantine: ${s}\n`);
  process.exit(code);
};

let zip;
try {
  ({ zip } = await import(join(root, 'packages/testkit/dist/zip.js')));
} catch {
  fail('packages/testkit is not built: run `pnpm build` first', 2);
}

// ---- the advisory feed and the webhook receiver, on loopback --------------------------------------
const record = (over = {}) => ({
  id: ADVISORY,
  modified: new Date().toISOString(),
  summary: `Demonstration advisory for ${PKG}@${NEW} (scripts/demo-quarantine.mjs)`,
  database_specific: { severity: 'HIGH' },
  affected: [{ package: { ecosystem: 'npm', name: PKG }, versions: [NEW] }],
  ...over,
});
const exportOf = (records) => zip(records.map((r) => ({ name: `${r.id}.json`, data: Buffer.from(JSON.stringify(r)) })));
let feed = { etag: '"demo-0"', body: exportOf([]) };
const hooks = [];
const server = createServer((req, res) => {
  if (req.method === 'POST') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        hooks.push({ headers: req.headers, body: JSON.parse(body) });
      } catch {
        // not ours
      }
      res.writeHead(204).end();
    });
    return;
  }
  if (req.headers['if-none-match'] === feed.etag) return res.writeHead(304, { etag: feed.etag }).end();
  res.writeHead(200, { 'content-type': 'application/zip', etag: feed.etag }).end(feed.body);
});
await new Promise((ok, ko) => server.once('error', ko).listen(PORT, '127.0.0.1', ok)).catch((err) =>
  fail(`cannot listen on 127.0.0.1:${PORT} (${err.code}); set DEMO_FEED_PORT`, 2),
);

// ---- the API -------------------------------------------------------------------------------------
async function call(method, path, token, body) {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  }).catch((err) => fail(`${API} does not answer (${err.cause?.code ?? err.message}); start it with pnpm start`, 2));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
async function waitFor(what, fn) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 1000));
  }
  fail(`timed out waiting for ${what}`);
}

const usersFile = join(resolve(process.env.SPM_DATA_DIR || join(root, '.data')), 'dev-users.json');
const users = JSON.parse(
  await readFile(usersFile, 'utf8').catch(() => fail(`no ${usersFile}: start with pnpm start`, 2)),
);
// `pnpm start` keeps the users per database, the one started last first.
const pw = (name) => (Object.values(users)[0] ?? []).find((u) => u.username === name)?.password;
async function login(name) {
  const r = await call('POST', '/api/auth/login', null, { username: name, password: pw(name) });
  if (r.status !== 200) fail(`login as ${name}: ${r.status} ${JSON.stringify(r.body)}`, 2);
  return r.body.token;
}
const [admin, approver, dev] = [await login('dev-admin'), await login('dev-approver'), await login('dev-user')];

async function npm(args, cwd) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k)));
  try {
    const { stdout, stderr } = await run('npm', args, { cwd, env, timeout: 120_000 });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}
async function install(spec) {
  const dir = await mkdtemp(join(tmpdir(), 'spm-demo-'));
  await writeFile(join(dir, 'package.json'), '{"name":"demo-probe","version":"1.0.0","private":true}');
  await writeFile(join(dir, '.npmrc-empty'), '');
  const r = await npm(
    [
      'install',
      spec,
      '--registry',
      `${API}/registry/`,
      '--userconfig',
      join(dir, '.npmrc-empty'),
      '--cache',
      join(dir, '.cache'),
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-online',
    ],
    dir,
  );
  const installed = r.ok
    ? JSON.parse(await readFile(join(dir, 'node_modules', PKG, 'package.json'), 'utf8')).version
    : null;
  await rm(dir, { recursive: true, force: true });
  return { ...r, installed };
}

try {
  say(`1. Webhook for package.newly_affected → http://127.0.0.1:${PORT}/hook`);
  const hook = await call('POST', '/api/admin/webhooks', admin, {
    url: `http://127.0.0.1:${PORT}/hook`,
    events: ['package.newly_affected'],
    description: 'scripts/demo-quarantine.mjs',
  });
  if (hook.status !== 201)
    fail(
      `registering the webhook: ${hook.status} ${hook.body?.error?.message} (start with WEBHOOK_ALLOW_PRIVATE=true)`,
      2,
    );

  say(`2. Submitting ${PKG}@${OLD} (demo-shop) and ${PKG}@${NEW} (demo-billing), vetting and publishing them`);
  const requests = [];
  for (const [version, app] of [
    [OLD, 'demo-shop'],
    [NEW, 'demo-billing'],
  ]) {
    const view = await npm(['view', `${PKG}@${version}`, 'dist.integrity', '--json'], tmpdir());
    if (!view.ok) fail(`npm view ${PKG}@${version}: ${view.output}`, 2);
    const integrity = JSON.parse(view.output);
    const up = await call('POST', '/api/packages/upload', dev, {
      name: app,
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: app, version: '1.0.0', dependencies: { [PKG]: version } },
        [`node_modules/${PKG}`]: { version, integrity, license: 'MIT' },
      },
    });
    if (up.status !== 202) fail(`upload: ${up.status} ${JSON.stringify(up.body)}`);
    requests.push(up.body.request_id);
  }
  const ids = [];
  for (const r of requests) {
    const s = await waitFor(`request ${r} to settle`, async () => {
      const res = await call('GET', `/api/packages/requests/${r}/processing-status`, approver);
      const p = res.body.packages[0];
      if (p?.status === 'Rejected') fail(`${PKG} was rejected: ${JSON.stringify(p)}`);
      return ['Pending Approval', 'Approved', 'Publishing', 'Published'].includes(p?.status) && p;
    });
    ids.push(s.package_id);
    if (s.status === 'Pending Approval') {
      const a = await call('POST', `/api/approvals/${s.package_id}/approve`, approver, { reason: 'demo' });
      if (a.status !== 200) fail(`approve: ${a.status} ${JSON.stringify(a.body)}`);
    }
  }
  for (const r of requests)
    await waitFor(`request ${r} to be published`, async () => {
      const res = await call('GET', `/api/packages/requests/${r}/processing-status`, approver);
      return res.body.packages[0]?.status === 'Published';
    });
  const before = await install(PKG);
  if (before.installed !== NEW) fail(`expected npm install ${PKG} to give ${NEW}: ${before.output}`);
  say(`   npm install ${PKG} from /registry/ → ${before.installed}`);

  say(`3. A new export at ADVISORIES_URL: ${ADVISORY} (high) affects ${PKG}@${NEW}; waiting for the worker's sync`);
  feed = { etag: '"demo-1"', body: exportOf([record()]) };
  const runRow = await waitFor('the scheduled sync to import it', async () => {
    const s = await call('GET', '/api/packages/processing/status', admin);
    const last = s.body.advisory_sync?.last_success;
    return (
      last?.outcome === 'imported' &&
      last.written > 0 &&
      new Date(last.started_at) > new Date(Date.now() - TIMEOUT_MS) &&
      last
    );
  });
  say(
    `   sync run ${runRow.id}: ${runRow.written} written, ${runRow.newly_affected} newly affected, ${runRow.quarantined} quarantined`,
  );

  const blocked = await install(`${PKG}@${NEW}`);
  if (blocked.ok || !blocked.output.includes(ADVISORY))
    fail(`npm install ${PKG}@${NEW} should fail naming ${ADVISORY}: ${blocked.output}`);
  say(`4. npm install ${PKG}@${NEW} fails:`);
  for (const l of blocked.output.split('\n').filter((l) => /451|quarantined/.test(l))) say(`   ${l}`);
  const fallback = await install(PKG);
  const tags = (await (await fetch(`${API}/registry/${PKG}`)).json())['dist-tags'];
  if (fallback.installed !== OLD || tags.latest !== OLD) fail(`latest should be ${OLD}: ${JSON.stringify(tags)}`);
  say(`   npm install ${PKG} → ${fallback.installed}; dist-tags ${JSON.stringify(tags)}`);

  const impact = await call('GET', `/api/impact/advisories/${ADVISORY}`, approver);
  say('5. GET /api/impact/advisories/' + ADVISORY);
  for (const r of impact.body.requests)
    say(`   request ${r.id}: ${r.application_name}@${r.application_version}, requested by ${r.requestor}`);
  if (!impact.body.requests.some((r) => r.id === requests[1])) fail('the impact endpoint does not list the request');

  const event = await waitFor('the webhook', async () => hooks.find((h) => h.body?.type === 'package.newly_affected'));
  say(
    `6. Webhook ${event.headers['x-spm-event']} (${event.headers['x-spm-delivery']}, signed ${String(event.headers['x-spm-signature']).slice(0, 14)}…):`,
  );
  say(`   ${JSON.stringify(event.body.data)}`);

  say('7. The advisory is withdrawn (a newer export): the quarantine ends');
  feed = { etag: '"demo-2"', body: exportOf([record({ withdrawn: new Date().toISOString() })]) };
  const again = await waitFor('the version to be served again', async () => {
    const r = await fetch(`${API}/registry/${PKG}/${NEW}`);
    return r.status === 200;
  });
  if (again) say(`   ${PKG}@${NEW} is served again`);
  await call('DELETE', `/api/admin/webhooks/${hook.body.id}`, admin);
  say('Shown.');
} finally {
  server.close();
}
