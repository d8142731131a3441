import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockfile, packages, PASSWORD, root, startStack, USERS, type Stack } from '../../../test/support/stack.js';

/*
 * The `spm` command against the real API, a real worker process and PostgreSQL, with a loopback
 * registry: every exit code, --json, SARIF validated against the SARIF 2.1.0 schema, the progress bar
 * on a pseudo-terminal (util-linux `script`) and plain lines off one, login storing the token for its
 * owner only, and the package installed on its own by the real npm from `npm pack`.
 */

const cliDir = join(root, 'packages/cli');
const bin = join(cliDir, 'bin/spm.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let stack: Stack;
let home: string;
let work: string;
const tokens: Record<string, string> = {};

function run(
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: string; tty?: boolean; cwd?: string } = {},
): Promise<Run> {
  const env = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: '',
    SPM_CONFIG: '',
    SPM_URL: '',
    SPM_TOKEN: '',
    ...opts.env,
  };
  for (const k of Object.keys(env)) if (env[k] === '' || env[k] === undefined) delete env[k];
  // On a pseudo-terminal: util-linux `script` runs the command with stdin/stdout/stderr on a pty.
  const quoted = [process.execPath, bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const [cmd, argv] = opts.tty
    ? ['script', ['-q', '-e', '-c', quoted, '/dev/null']]
    : [process.execPath, [bin, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: opts.cwd ?? work, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

const as = (role: keyof typeof USERS) => ({ SPM_URL: stack.url, SPM_TOKEN: tokens[role] });

async function loginToken(username: string): Promise<string> {
  const res = await fetch(`${stack.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

async function sarifValidator() {
  const require = createRequire(import.meta.url);
  const schemaPath = join(require.resolve('@microsoft/jest-sarif/package.json', { paths: [cliDir] }), '..');
  const schema = JSON.parse(await readFile(join(schemaPath, 'lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'));
  // The schema is JSON Schema draft-04 (its own $schema says so): ajv's draft-04 build reads it as written.
  // unicodeRegExp off: the published schema's `language` pattern has a stray `]` that only a non-unicode RegExp accepts.
  const ajv = new AjvDraft04({ strict: false, allErrors: true, validateFormats: false, unicodeRegExp: false });
  return ajv.compile(schema);
}

describe('spm, the command-line client', () => {
  beforeAll(async () => {
    if (!existsSync(join(cliDir, 'dist/main.js'))) throw new Error('run `pnpm build` before the CLI tests');
    stack = await startStack();
    [home, work] = await Promise.all([mkdtemp(join(tmpdir(), 'spm-cli-home-')), mkdtemp(join(tmpdir(), 'spm-cli-'))]);
    for (const role of Object.keys(USERS) as Array<keyof typeof USERS>) tokens[role] = await loginToken(USERS[role]);
    await writeFile(join(work, 'package-lock.json'), lockfile(stack.registry.url));
  });

  afterAll(async () => {
    await stack?.close();
    await Promise.all([home, work].filter(Boolean).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('exits 3 with a code for usage errors, an unreachable server and a bad token', async () => {
    const usage = await run(['submit', '--fail-on', 'sometimes'], { env: as('user') });
    expect(usage.code).toBe(3);
    expect(usage.stderr).toContain('ERR_USAGE');
    expect((await run(['frobnicate'])).code).toBe(3);
    expect((await run(['status'], { env: as('user') })).code).toBe(3);

    const down = await run(['status', '1'], { env: { SPM_URL: 'http://127.0.0.1:9', SPM_TOKEN: 'x' } });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('ERR_CONNECTION');

    const forged = await run(['status', '1'], { env: { SPM_URL: stack.url, SPM_TOKEN: 'not-a-token' } });
    expect(forged.code).toBe(3);
    expect(forged.stderr).toMatch(/\(ERR_[A-Z_]+\)/);
    expect(forged.stderr).toContain('spm login');

    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
  });

  it('logs in with a password on stdin, stores an API token for its owner only, and logout revokes it', async () => {
    const res = await run(['login', '--url', stack.url, '--username', USERS.user, '--password-stdin'], {
      input: `${PASSWORD}\n`,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('an API token until');
    const file = join(home, '.config/spm/config.json');
    const stored = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
    expect(stored).toMatchObject({ url: stack.url, username: USERS.user, kind: 'api-token' });
    expect(stored.token).toMatch(/^spm_/);
    expect(Date.parse(stored.expiresAt!)).toBeGreaterThan(Date.now() + 80 * 86_400_000);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const me = (token: string) => fetch(`${stack.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect((await me(stored.token!)).status).toBe(200);

    const wrong = await run(['login', '--url', stack.url, '--username', USERS.user, '--password-stdin'], {
      input: 'not-the-password\n',
    });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('(ERR_');
    const badScope = await run(['login', '--url', stack.url, '--scopes', 'submit,approve', '--username', 'x']);
    expect(badScope.code).toBe(3);
    expect(badScope.stderr).toContain('ERR_USAGE');

    // The stored login is used when SPM_URL/SPM_TOKEN are not set: request 999 is someone's 404, not a 401.
    const missing = await run(['status', '999']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('ERR_REQUEST_NOT_FOUND');
    // An API token cannot approve, and the message says what to do instead.
    const approve = await run(['approve', '1']);
    expect(approve.code).toBe(3);
    expect(approve.stderr).toContain('ERR_TOKEN_SCOPE');
    expect(approve.stderr).toContain('spm login --session');

    const out = await run(['logout']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('Ended the token on the server');
    expect(JSON.parse(await readFile(file, 'utf8')).token).toBeUndefined();
    const revoked = await me(stored.token!);
    expect(revoked.status).toBe(401);
    expect(((await revoked.json()) as { error: { code: string } }).error.code).toBe('ERR_TOKEN_REVOKED');

    // The password session used to make the token was ended at once: only the logins' audit remains.
    const events = await stack.tdb.db
      .selectFrom('audit_log')
      .select('action')
      .where(
        'actor_id',
        '=',
        (
          await stack.tdb.db
            .selectFrom('users')
            .select('id')
            .where('username', '=', USERS.user)
            .executeTakeFirstOrThrow()
        ).id,
      )
      .where('action', 'in', ['auth.login', 'token.create', 'auth.logout', 'token.revoke'])
      .orderBy('id')
      .execute();
    expect(events.map((e) => e.action).slice(-4)).toEqual([
      'auth.login',
      'token.create',
      'auth.logout',
      'token.revoke',
    ]);
  });

  it('keeps a session with --session (what approving needs), and logout ends it', async () => {
    const res = await run(
      ['login', '--session', '--url', stack.url, '--username', USERS.approver, '--password-stdin'],
      {
        input: `${PASSWORD}\n`,
      },
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('a session until');
    const file = join(home, '.config/spm/config.json');
    const stored = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
    expect(stored).toMatchObject({ username: USERS.approver, kind: 'session' });
    expect(stored.token).not.toMatch(/^spm_/);
    const me = (token: string) => fetch(`${stack.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect((await me(stored.token!)).status).toBe(200);
    expect((await run(['logout'])).code).toBe(0);
    expect((await me(stored.token!)).status).toBe(401);
  });

  let requestId: number;

  it('exits 2 when --timeout passes before the packages settle, with plain progress lines off a terminal', async () => {
    // No worker yet: nothing moves.
    const res = await run(['submit', '--wait', '--timeout', '1', '--interval', '0.2', '--json'], { env: as('user') });
    expect(res.code, res.stderr).toBe(2);
    const result = JSON.parse(res.stdout) as {
      outcome: string;
      request: { id: number };
      counts: Record<string, number>;
    };
    expect(result.outcome).toBe('timeout');
    expect(result.counts.unsettled).toBe(packages.length);
    requestId = result.request.id;
    expect(res.stderr).toMatch(/^\[0:0\d\] 0% 0\/5 settled/m);
    expect(res.stderr).not.toContain('\r');
  });

  it('waits with a progress bar on a terminal and exits 2 while packages wait for a person; SARIF validates', async () => {
    stack.startWorker();
    const res = await run(
      ['status', String(requestId), '--wait', '--timeout', '120', '--interval', '0.3', '--sarif', 'spm.sarif'],
      { env: as('user'), tty: true },
    );
    expect(res.code, res.stdout + res.stderr + stack.workerLog()).toBe(2);
    // script(1) merges the pty's output: the bar is redrawn in place, then the summary table.
    expect(res.stdout).toContain('\r\u001b[2K[');
    expect(res.stdout).toMatch(/\[[#-]{24}\] +\d+%/);
    expect(res.stdout).toContain('Waiting for a person (5)');
    expect(res.stdout).toContain('setup-helper@3.1.0');
    expect(res.stdout).toMatch(/setup-helper@3\.1\.0 +Pending Approval +.*signals: /);
    expect(res.stdout).toContain('Result: waiting for a person (exit 2).');

    const sarif = JSON.parse(await readFile(join(work, 'spm.sarif'), 'utf8')) as {
      runs: Array<{ results: Array<{ ruleId: string; level: string; locations: unknown[] }> }>;
    };
    const validate = await sarifValidator();
    expect(validate(sarif), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    expect(sarif.runs[0]!.results).toHaveLength(5);
    expect(sarif.runs[0]!.results.every((r) => r.ruleId === 'spm/pending' && r.level === 'warning')).toBe(true);
  });

  it('reports a package by name@version; a user cannot approve; an approver approves and rejects', async () => {
    const rep = await run(['report', 'setup-helper@3.1.0'], { env: as('user') });
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout).toContain('setup-helper@3.1.0');
    expect(rep.stdout).toContain('Pending Approval');

    const repJson = await run(['report', '@acme/util@0.2.1', '--json'], { env: as('user') });
    expect(repJson.code, repJson.stderr).toBe(0);
    expect((JSON.parse(repJson.stdout) as { package: { name: string } }).package.name).toBe('@acme/util');

    expect((await run(['report', 'nothing-like-this@1.0.0'], { env: as('user') })).stderr).toContain(
      'ERR_PACKAGE_NOT_FOUND',
    );

    const denied = await run(['approve', 'left-align@1.4.0'], { env: as('user') });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/\(ERR_[A-Z_]+\)/);

    const noReason = await run(['reject', 'old-parser@2.0.0'], { env: as('approver') });
    expect(noReason.code).toBe(3);

    const reject = await run(['reject', 'old-parser@2.0.0', '--reason', 'vulnerable: use 2.1.0'], {
      env: as('approver'),
    });
    expect(reject.code, reject.stdout + reject.stderr).toBe(0);
    const approve = await run(
      [
        'approve',
        'left-align@1.4.0',
        '@acme/util@0.2.1',
        'setup-helper@3.1.0',
        'weak-copyleft@1.0.0',
        '--reason',
        'ok',
      ],
      { env: as('approver') },
    );
    expect(approve.code, approve.stdout + approve.stderr).toBe(0);
    expect(approve.stdout.match(/approved/g)).toHaveLength(4);

    // Deciding again: the package no longer waits for a person.
    const again = await run(['approve', 'left-align@1.4.0'], { env: as('approver') });
    expect(again.code).toBe(3);
    expect(again.stdout).toContain('skipped');
  });

  it('exits 1 when something is rejected, 0 with --fail-on pending, and says why in --json', async () => {
    const res = await run(['status', String(requestId), '--wait', '--timeout', '120', '--interval', '0.3', '--json'], {
      env: as('user'),
    });
    expect(res.code, res.stderr).toBe(1);
    const result = JSON.parse(res.stdout) as {
      outcome: string;
      exit_code: number;
      counts: Record<string, number>;
      packages: Array<{ name: string; status: string; outcome: string; reason: string }>;
    };
    expect(result).toMatchObject({ outcome: 'rejected', exit_code: 1, counts: { allowed: 4, rejected: 1 } });
    const rejected = result.packages.find((p) => p.outcome === 'rejected')!;
    expect(rejected).toMatchObject({ name: 'old-parser', status: 'Rejected' });
    expect(rejected.reason).toContain('vulnerable: use 2.1.0');
    expect(result.packages.filter((p) => p.status === 'Published')).toHaveLength(4);

    const lenient = await run(['status', String(requestId), '--fail-on', 'pending'], { env: as('user') });
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toContain('Rejected (1)');
  });

  it('exits 0 when everything is allowed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spm-cli-ok-'));
    try {
      const onlyApproved = JSON.parse(lockfile(stack.registry.url)) as {
        packages: Record<string, unknown>;
      };
      delete onlyApproved.packages['node_modules/old-parser'];
      await writeFile(join(dir, 'shop.lock.json'), JSON.stringify(onlyApproved));
      const res = await run(['submit', 'shop.lock.json', '--wait', '--timeout', '120', '--interval', '0.3', '--all'], {
        env: as('user'),
        cwd: dir,
      });
      expect(res.code, res.stdout + res.stderr).toBe(0);
      expect(res.stdout).toContain('Allowed (4)');
      expect(res.stdout).toContain('Result: allowed.');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes the bill of materials of a request, CycloneDX or SPDX', async () => {
    const out = await run(['sbom', String(requestId), '--output', 'app.cdx.json'], { env: as('user') });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain('CycloneDX 1.6');
    const cdx = JSON.parse(await readFile(join(work, 'app.cdx.json'), 'utf8')) as {
      specVersion: string;
      components: Array<{ purl: string }>;
    };
    expect(cdx.specVersion).toBe('1.6');
    expect(cdx.components.map((c) => c.purl)).toContain('pkg:npm/%40acme/util@0.2.1');
    const spdx = await run(['sbom', String(requestId), '--format', 'spdx'], { env: as('user') });
    expect(spdx.code, spdx.stderr).toBe(0);
    expect((JSON.parse(spdx.stdout) as { spdxVersion: string }).spdxVersion).toBe('SPDX-2.3');
    const bad = await run(['sbom', String(requestId), '--format', 'xml'], { env: as('user') });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('ERR_USAGE');
  });

  it('installs on its own with npm from its packed tarball', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spm-cli-npm-'));
    try {
      const npm = (args: string[], cwd: string) =>
        new Promise<Run>((resolve, reject) => {
          const child = spawn('npm', args, {
            cwd,
            env: { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' },
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.on('error', reject);
          child.on('close', (code) => resolve({ code, stdout, stderr }));
        });
      const packed = await npm(['pack', '--json', '--pack-destination', dir], cliDir);
      expect(packed.code, packed.stderr).toBe(0);
      const [{ filename }] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
      const prefix = join(dir, 'prefix');
      const installed = await npm(['install', '--global', '--prefix', prefix, join(dir, filename)], dir);
      expect(installed.code, installed.stderr).toBe(0);
      const version = await new Promise<Run>((resolve) => {
        const child = spawn(join(prefix, 'bin/spm'), ['--version']);
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr: '' }));
      });
      expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
