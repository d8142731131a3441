import { readFile, writeFile, access } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient } from './client.js';
import {
  normaliseUrl,
  readStoredConfig,
  removeStoredToken,
  resolveConnection,
  writeStoredConfig,
  type StoredConfig,
} from './config.js';
import { CliError, EXIT, usageError } from './errors.js';
import { decide, fetchPackages, parseFailOn, type FailOn } from './outcome.js';
import { progressOutput, type Writable } from './progress.js';
import { summary, table } from './report.js';
import { toSarif } from './sarif.js';

export interface Io {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: Writable;
  stderr: Writable;
  /** Reads all of standard input (for --password-stdin). */
  readStdin(): Promise<string>;
  /** Asks a question on the terminal, without echo when `secret`; undefined when there is no terminal. */
  prompt?(question: string, secret: boolean): Promise<string>;
}

/** Options every command accepts (parsed in cli.ts). */
export interface Common {
  url?: string;
  token?: string;
  json: boolean;
}

export const VERSION = '0.1.0';

const LOCKFILE_NAMES = ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml'];

async function client(io: Io, common: Common): Promise<ApiClient> {
  return new ApiClient(await resolveConnection(io.env, common));
}

function print(io: Io, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

function printJson(io: Io, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------- login

export interface LoginOptions {
  username?: string;
  passwordStdin: boolean;
  /** Keep the password sign-in's session (for `spm approve|reject`) instead of minting an API token. */
  session: boolean;
  /** The API token's scopes (default submit,read) and lifetime in days (default: the server's). */
  scopes?: string;
  days?: string;
}

const LOGIN_SCOPES = ['submit', 'read', 'registry'] as const;

function parseScopes(raw: string | undefined): string[] {
  if (raw === undefined) return ['submit', 'read'];
  const scopes = [...new Set(raw.split(',').map((s) => s.trim()))].filter(Boolean);
  const bad = scopes.find((s) => !(LOGIN_SCOPES as readonly string[]).includes(s));
  if (bad !== undefined || scopes.length === 0) {
    throw usageError(`--scopes takes a comma-separated list of ${LOGIN_SCOPES.join(', ')}, not "${raw}".`);
  }
  return scopes;
}

function parseDays(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw usageError(`--days takes a whole number of days (1 or more), not "${raw}".`);
  return n;
}

/**
 * `spm login`: signs in with a password and stores an API token made for this machine (scopes submit
 * and read unless --scopes says otherwise), ending the password session at once; a CI job would rather
 * set SPM_TOKEN. `--session` keeps the session instead: approving and rejecting need one, because the
 * server refuses API tokens there (a leaked CI token must not approve). `--token` stores a given token.
 */
export async function login(io: Io, common: Common, opts: LoginOptions): Promise<number> {
  const stored = await readStoredConfig(io.env);
  const rawUrl = common.url || io.env.SPM_URL || stored.url;
  if (!rawUrl) throw usageError('spm login needs the server: --url <server> (or SPM_URL).');
  if (common.token && (opts.session || opts.scopes || opts.days)) {
    throw usageError('--token stores the token given; --session, --scopes and --days are for a password sign-in.');
  }
  if (opts.session && (opts.scopes || opts.days)) {
    throw usageError('--scopes and --days describe an API token; --session keeps a session instead.');
  }
  const scopes = parseScopes(opts.scopes);
  const days = parseDays(opts.days);
  const url = normaliseUrl(rawUrl);
  let config: StoredConfig;
  if (common.token) {
    const api = new ApiClient({ url, token: common.token });
    const me = await api.get<{ user?: { username?: string }; username?: string }>('/api/auth/me');
    config = {
      url,
      token: common.token,
      username: me.user?.username ?? me.username,
      kind: common.token.startsWith('spm_') ? 'api-token' : 'session',
    };
  } else {
    const session = await passwordSignIn(io, url, opts);
    if (opts.session) {
      config = { url, token: session.token, username: session.username, kind: 'session', expiresAt: session.expiresAt };
    } else {
      const api = new ApiClient({ url, token: session.token });
      try {
        const made = await api.post<{ token: string; expires_at: string; scopes: string[] }>('/api/auth/tokens', {
          name: `spm login on ${hostname()}`.slice(0, 100),
          scopes,
          ...(days === undefined ? {} : { expires_in_days: days }),
        });
        config = { url, token: made.token, username: session.username, kind: 'api-token', expiresAt: made.expires_at };
      } finally {
        // The session was only needed to make the token: end it so no second credential lingers.
        await api.request('POST', '/api/auth/logout').catch(() => undefined);
      }
    }
  }
  const file = await writeStoredConfig(io.env, config);
  if (common.json) {
    printJson(io, {
      url,
      username: config.username,
      kind: config.kind,
      expires_at: config.expiresAt ?? null,
      config: file,
    });
  } else {
    const what = config.kind === 'session' ? 'a session' : 'an API token';
    const until = config.expiresAt ? ` until ${config.expiresAt}` : '';
    print(io, `Logged in to ${url} as ${config.username}: ${what}${until} is in ${file} (readable by you only).`);
    if (config.kind === 'api-token' && !opts.session && !common.token) {
      print(io, `Its scopes: ${scopes.join(', ')}. Approving needs \`spm login --session\`.`);
    }
  }
  return EXIT.allowed;
}

async function passwordSignIn(
  io: Io,
  url: string,
  opts: LoginOptions,
): Promise<{ token: string; username: string; expiresAt: string | undefined }> {
  const username = opts.username ?? (io.prompt ? await io.prompt('Username: ', false) : undefined);
  if (!username) throw usageError('Give --username (and --password-stdin when there is no terminal).');
  let password: string | undefined;
  if (opts.passwordStdin) password = (await io.readStdin()).replace(/\r?\n$/, '');
  else if (io.prompt) password = await io.prompt('Password: ', true);
  if (!password) throw usageError('No password: use --password-stdin when there is no terminal.');
  const res = await new ApiClient({ url, token: undefined }).request<{
    token: string;
    expires_in: string | number;
    user: { username: string };
  }>('POST', '/api/auth/login', {
    body: JSON.stringify({ username, password }),
    contentType: 'application/json',
    auth: false,
  });
  return { token: res.body.token, username: res.body.user.username, expiresAt: jwtExpiry(res.body.token) };
}

/** The `exp` of a session token (a JWT), as ISO 8601; undefined when it cannot be read. */
function jwtExpiry(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `spm logout`: ends the stored token on the server (an API token revokes itself; a session logs out),
 * then forgets it. When the server cannot be reached the token is still forgotten, and the answer says
 * it stays valid until it expires or is revoked elsewhere.
 */
export async function logout(io: Io, common: Common): Promise<number> {
  const stored = await readStoredConfig(io.env);
  let ended: boolean | string = false;
  if (stored.token && stored.url) {
    const api = new ApiClient({ url: normaliseUrl(stored.url), token: stored.token });
    const apiToken = stored.kind === 'api-token' || stored.token.startsWith('spm_');
    try {
      if (apiToken) await api.request('DELETE', '/api/auth/tokens/current');
      else await api.request('POST', '/api/auth/logout');
      ended = true;
    } catch (err) {
      // Already expired or revoked is as good as ended; anything else is said.
      const code = (err as CliError).code;
      ended =
        code === 'ERR_TOKEN_REVOKED' || code === 'ERR_TOKEN_EXPIRED' || code === 'ERR_UNAUTHORIZED'
          ? true
          : String((err as Error).message);
    }
  }
  const file = await removeStoredToken(io.env);
  if (common.json) printJson(io, { removed: Boolean(file), ended_on_server: ended === true });
  else if (!file) print(io, 'No stored token.');
  else if (ended === true) print(io, `Ended the token on the server and removed it from ${file}.`);
  else {
    print(io, `Removed the token from ${file}, but the server could not end it (${ended}).`);
    print(
      io,
      `It works until it expires${stored.expiresAt ? ` (${stored.expiresAt})` : ''} or is revoked in the web app.`,
    );
  }
  return EXIT.allowed;
}

// ------------------------------------------------------------------------------------ submit, status

export interface WaitOptions {
  wait: boolean;
  timeoutSeconds: number | undefined;
  intervalSeconds: number;
  failOn: FailOn;
  sarif?: string | undefined;
  all: boolean;
}

export function parseWaitOptions(v: {
  wait?: boolean;
  timeout?: string;
  interval?: string;
  'fail-on'?: string;
  sarif?: string;
  all?: boolean;
}): WaitOptions {
  const failOn = parseFailOn(v['fail-on']);
  if (typeof failOn === 'string') throw usageError(`--fail-on takes rejected, pending or none, not "${failOn}".`);
  const seconds = (name: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || n > 7 * 24 * 3600)
      throw usageError(`--${name} takes seconds (> 0), not "${raw}".`);
    return n;
  };
  return {
    wait: Boolean(v.wait),
    timeoutSeconds: seconds('timeout', v.timeout),
    intervalSeconds: seconds('interval', v.interval) ?? 2,
    failOn,
    sarif: v.sarif,
    all: Boolean(v.all),
  };
}

async function findLockfile(cwd: string, given: string | undefined): Promise<string> {
  if (given) return resolve(cwd, given);
  for (const name of LOCKFILE_NAMES) {
    const path = resolve(cwd, name);
    try {
      await access(path);
      return path;
    } catch {
      // try the next name
    }
  }
  throw usageError(`No lockfile given and none found here (${LOCKFILE_NAMES.join(', ')}).`);
}

interface UploadAnswer {
  request_id: number;
  application_name: string;
  application_version: string;
  lockfile_format: string;
  lockfile_version: number;
  package_count: number;
  new_packages: number;
  existing_packages: number;
  skipped_entries: number;
}

export async function submit(
  io: Io,
  common: Common,
  file: string | undefined,
  opts: WaitOptions & { name?: string | undefined; appVersion?: string | undefined; priority?: string | undefined },
): Promise<number> {
  const path = await findLockfile(io.cwd, file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new CliError(`Cannot read ${path}: ${(err as Error).message}`, 'ERR_USAGE');
  }
  const api = await client(io, common);
  const query = new URLSearchParams();
  if (opts.name) query.set('application_name', opts.name);
  if (opts.appVersion) query.set('application_version', opts.appVersion);
  if (opts.priority) {
    if (!['urgent', 'high', 'normal', 'low'].includes(opts.priority)) {
      throw usageError(`--priority takes urgent, high, normal or low, not "${opts.priority}".`);
    }
    query.set('priority', opts.priority);
  }
  const qs = query.size > 0 ? `?${query}` : '';
  const contentType = path.endsWith('.json') ? 'application/json' : 'text/plain';
  const up = (await api.request<UploadAnswer>('POST', `/api/packages/upload${qs}`, { body: bytes, contentType })).body;
  if (!common.json) {
    io.stderr.write(
      `Submitted ${basename(path)} (${up.lockfile_format} lockfile v${up.lockfile_version}): request ${up.request_id}, ` +
        `${up.application_name}@${up.application_version}, ${up.package_count} packages ` +
        `(${up.new_packages} new, ${up.existing_packages} already known, ${up.skipped_entries} entries skipped).\n`,
    );
  }
  return finish(io, api, up.request_id, opts, common.json, {
    path: file ?? basename(path),
    text: bytes.toString('utf8'),
  });
}

export async function status(
  io: Io,
  common: Common,
  requestArg: string | undefined,
  opts: WaitOptions,
): Promise<number> {
  if (!requestArg || !/^[1-9]\d{0,15}$/.test(requestArg)) throw usageError('spm status takes a request id (a number).');
  const api = await client(io, common);
  return finish(io, api, Number(requestArg), opts, common.json, undefined);
}

interface ProcessingSummary {
  done: boolean;
  progress_percent: number;
  summary: { total: number; settled: number; pending_approval: number; published: number; rejected: number };
}

/** Polls the small summary (with If-None-Match) until every package is settled or the timeout passes. */
async function waitForSettled(io: Io, api: ApiClient, requestId: number, opts: WaitOptions): Promise<boolean> {
  const started = Date.now();
  const deadline = opts.timeoutSeconds === undefined ? Infinity : started + opts.timeoutSeconds * 1000;
  const progress = progressOutput(io.stderr);
  let etag: string | null = null;
  let last: ProcessingSummary | undefined;
  let failures = 0;
  try {
    for (;;) {
      try {
        const res: { status: number; body: ProcessingSummary; etag: string | null } =
          await api.request<ProcessingSummary>(
            'GET',
            `/api/packages/requests/${requestId}/processing-status?summary=true`,
            { ifNoneMatch: etag },
          );
        failures = 0;
        if (res.status !== 304) {
          last = res.body;
          etag = res.etag;
        }
      } catch (err) {
        // A restarting server should not fail a long wait: five failures in a row end it.
        const code = err instanceof CliError ? err.code : '';
        if (!(code === 'ERR_CONNECTION' || code.startsWith('ERR_HTTP_5')) || ++failures >= 5) throw err;
      }
      if (last) {
        const s = last.summary;
        progress.update(
          {
            total: s.total,
            settled: s.settled,
            pending: s.pending_approval,
            rejected: s.rejected,
            published: s.published,
            percent: last.progress_percent,
          },
          (Date.now() - started) / 1000,
        );
        if (last.done) return false;
      }
      const now = Date.now();
      if (now >= deadline) return true;
      await sleep(Math.min(opts.intervalSeconds * 1000, deadline - now));
    }
  } finally {
    progress.done();
  }
}

async function finish(
  io: Io,
  api: ApiClient,
  requestId: number,
  opts: WaitOptions,
  json: boolean,
  lockfile: { path: string; text: string } | undefined,
): Promise<number> {
  const timedOut = opts.wait ? await waitForSettled(io, api, requestId, opts) : false;
  const { request, packages } = await fetchPackages(api, requestId);
  const result = decide(request, packages, opts.failOn, timedOut);
  if (opts.sarif) {
    const sarif = toSarif(result, lockfile, VERSION, api.url);
    await writeFile(resolve(io.cwd, opts.sarif), JSON.stringify(sarif, null, 2) + '\n');
  }
  if (json) printJson(io, result);
  else print(io, summary(result, { all: opts.all }));
  return result.exit_code;
}

// ------------------------------------------------------------------------------ report, approve/reject

/** A package given as `name@version` (scoped names too) or as its numeric id. */
async function resolvePackageId(api: ApiClient, spec: string): Promise<number> {
  if (/^[1-9]\d{0,15}$/.test(spec)) return Number(spec);
  const at = spec.lastIndexOf('@');
  if (at <= 0 || at === spec.length - 1) throw usageError(`"${spec}" is not name@version or a package id.`);
  const q = new URLSearchParams({ name: spec.slice(0, at), version: spec.slice(at + 1) });
  const found = await api.get<{ package_id: number }>(`/api/packages/lookup?${q}`);
  return found.package_id;
}

interface Report {
  package: { id: number; name: string; version: string; integrity: string | null };
  status: {
    status: string;
    rejection: { kind: string | null; reason: string | null } | null;
    last_error: string | null;
    approved_by: string | null;
    rejected_by: string | null;
  };
  license: { license_expression: string | null; license_tier: string | null };
  security: {
    security_score: number | null;
    scan: {
      vulnerabilities: Record<string, number>;
      findings: unknown;
      malware: boolean;
    } | null;
  };
  advisories: Array<{ id: string; severity: string | null; summary: string | null; url: string | null }>;
  requests: Array<{ id: number; application_name: string; application_version: string }>;
}

/**
 * `spm sbom REQUEST [--format cyclonedx|spdx] [--output FILE]`: the request's bill of materials
 * (CycloneDX 1.6 JSON by default, or SPDX 2.3 JSON), on stdout or into a file.
 */
export async function sbom(
  io: Io,
  common: Common,
  requestArg: string | undefined,
  opts: { format?: string; output?: string },
): Promise<number> {
  if (!requestArg || !/^[1-9]\d{0,15}$/.test(requestArg)) throw usageError('spm sbom takes a request id (a number).');
  const format = opts.format ?? 'cyclonedx';
  if (format !== 'cyclonedx' && format !== 'spdx') {
    throw usageError(`--format takes cyclonedx or spdx, not "${format}".`);
  }
  const api = await client(io, common);
  const doc = await api.get<unknown>(`/api/packages/requests/${requestArg}/sbom?format=${format}`);
  const text = JSON.stringify(doc, null, 2) + '\n';
  if (!opts.output) {
    io.stdout.write(text);
    return EXIT.allowed;
  }
  const file = resolve(io.cwd, opts.output);
  await writeFile(file, text);
  io.stderr.write(
    `Wrote the ${format === 'spdx' ? 'SPDX 2.3' : 'CycloneDX 1.6'} bill of materials of request ${requestArg} to ${file}.\n`,
  );
  return EXIT.allowed;
}

export async function report(io: Io, common: Common, spec: string | undefined): Promise<number> {
  if (!spec) throw usageError('spm report takes a package: name@version or its id.');
  const api = await client(io, common);
  const id = await resolvePackageId(api, spec);
  const rep = await api.get<Report>(`/api/packages/${id}/report`);
  if (common.json) {
    printJson(io, rep);
    return EXIT.allowed;
  }
  const s = rep.status;
  const out = [
    `${rep.package.name}@${rep.package.version} (package ${rep.package.id}): ${s.status}`,
    `  licence: ${rep.license.license_expression ?? 'unknown'} (${rep.license.license_tier ?? 'not checked'})`,
    `  integrity: ${rep.package.integrity ?? 'none in the lockfile'}`,
    `  security score: ${rep.security.security_score ?? 'not scanned'}` +
      (rep.security.scan?.malware ? ' · MALWARE' : ''),
  ];
  if (s.rejection) out.push(`  rejected (${s.rejection.kind ?? '?'}): ${s.rejection.reason ?? ''}`);
  if (s.last_error) out.push(`  last error: ${s.last_error}`);
  if (rep.advisories.length > 0) {
    out.push(
      '',
      table(
        rep.advisories.map((a) => [a.id, a.severity ?? '?', a.summary ?? '']),
        ['ADVISORY', 'SEVERITY', 'SUMMARY'],
      ),
    );
  }
  const findings = Array.isArray(rep.security.scan?.findings)
    ? (rep.security.scan!.findings as Array<Record<string, unknown>>)
    : [];
  const shown = findings.filter((f) => f.source !== 'osv').slice(0, 50);
  if (shown.length > 0) {
    out.push(
      '',
      table(
        shown.map((f) => [
          String(f.severity ?? ''),
          String(f.id ?? f.kind ?? ''),
          [f.file, f.line].filter((x) => x !== undefined && x !== null).join(':'),
          String(f.title ?? f.message ?? f.description ?? '').slice(0, 120),
        ]),
        ['SEVERITY', 'FINDING', 'WHERE', 'WHAT'],
      ),
    );
  }
  if (rep.requests.length > 0) {
    out.push(
      '',
      `In requests: ${rep.requests.map((r) => `${r.id} (${r.application_name}@${r.application_version})`).join(', ')}`,
    );
  }
  print(io, out.join('\n'));
  return EXIT.allowed;
}

interface Decision {
  package_id: number;
  outcome: 'approved' | 'rejected' | 'skipped';
  status: string;
}

export async function decideCommand(
  io: Io,
  common: Common,
  decision: 'approve' | 'reject',
  specs: string[],
  reason: string | undefined,
): Promise<number> {
  if (specs.length === 0) throw usageError(`spm ${decision} takes one or more packages (name@version or id).`);
  if (decision === 'reject' && !reason) throw usageError('spm reject needs --reason "<why>".');
  const api = await client(io, common);
  const ids: number[] = [];
  for (const spec of specs) ids.push(await resolvePackageId(api, spec));
  const res = await api.post<{ results: Decision[]; approved: number; rejected: number; skipped: number }>(
    '/api/approvals/batch',
    { package_ids: ids, decision, ...(reason ? { reason } : {}) },
  );
  if (common.json) printJson(io, res);
  else {
    print(
      io,
      table(
        res.results.map((r) => [
          String(r.package_id),
          specs[ids.indexOf(r.package_id)] ?? '',
          r.outcome,
          r.outcome === 'skipped' ? `not waiting for a person (${r.status})` : r.status,
        ]),
        ['ID', 'PACKAGE', 'OUTCOME', 'STATUS'],
      ),
    );
  }
  // Every package decided: 0. Any skipped (not waiting for a person, or not found): an error.
  if (res.skipped > 0) {
    io.stderr.write(`${res.skipped} of ${ids.length} packages were not ${decision}d (see STATUS).\n`);
    return EXIT.error;
  }
  return EXIT.allowed;
}
