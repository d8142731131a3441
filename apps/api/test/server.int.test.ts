import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdmin, findUserForLogin, verifyPassword } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { JWT_SECRET } from './helpers.js';

// These run the built server and CLI (`pnpm --filter @spm/api build`), as an operator would.
const dist = (p: string) => fileURLToPath(new URL(`../dist/${p}`, import.meta.url));

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => tdb?.destroy());

function run(
  script: string,
  env: Record<string, string>,
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [dist(script), ...(env.ARGS ? env.ARGS.split(' ') : [])], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('ensureAdmin (start-up bootstrap)', () => {
  it('creates the first admin only when no enabled admin exists, and never changes an existing user', async () => {
    expect(await ensureAdmin(tdb.db, { username: 'root', password: 'first password' })).toBe('created');
    expect(await ensureAdmin(tdb.db, { username: 'root', password: 'other password' })).toBe('admin-exists');
    const root = await findUserForLogin(tdb.db, 'root');
    expect(root?.role).toBe('admin');
    expect(await verifyPassword('first password', root!.passwordHash)).toBe(true);
  });
});

describe('create-user CLI', () => {
  it('creates a user with the password from SPM_PASSWORD or stdin', async () => {
    const a = await run('cli/create-user.js', {
      DATABASE_URL: tdb.url,
      SPM_PASSWORD: 'cli password 1',
      ARGS: '--username cli-approver --role approver',
    });
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('created approver cli-approver');
    const b = await run(
      'cli/create-user.js',
      { DATABASE_URL: tdb.url, ARGS: '--username cli-user' },
      'cli password 2\n',
    );
    expect(b.code, b.stderr).toBe(0);
    const u = await findUserForLogin(tdb.db, 'cli-user');
    expect(u?.role).toBe('user');
    expect(await verifyPassword('cli password 2', u!.passwordHash)).toBe(true);
    expect(b.stdout + b.stderr).not.toContain('cli password 2');
  });

  it('refuses a taken username, a bad role and a short password with distinct exit codes', async () => {
    expect(
      (
        await run('cli/create-user.js', {
          DATABASE_URL: tdb.url,
          SPM_PASSWORD: 'cli password 1',
          ARGS: '--username cli-user',
        })
      ).code,
    ).toBe(65);
    expect(
      (
        await run('cli/create-user.js', {
          DATABASE_URL: tdb.url,
          SPM_PASSWORD: 'cli password 1',
          ARGS: '--username x --role root',
        })
      ).code,
    ).toBe(64);
    expect(
      (await run('cli/create-user.js', { DATABASE_URL: tdb.url, SPM_PASSWORD: 'short', ARGS: '--username y' })).code,
    ).toBe(65);
  });
});

describe('server', () => {
  it('refuses to start with an invalid environment, naming every problem', async () => {
    const r = await run('server.js', { PORT: 'x', NODE_ENV: 'production' });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/Invalid environment: .*DATABASE_URL.*JWT_SECRET.*PORT=x/);
  });

  it('bootstraps the admin, serves, and exits 0 on SIGTERM', async () => {
    const fresh = await createTestDatabase();
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [dist('server.js')], {
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: fresh.url,
          JWT_SECRET,
          PORT: '0',
          HOST: '127.0.0.1',
          ADMIN_USERNAME: 'boot-admin',
          ADMIN_PASSWORD: 'boot password',
          LOG_FORMAT: 'json',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const address = await new Promise<string>((resolve, reject) => {
        child!.stdout!.on('data', (d: Buffer) => {
          out += d;
          const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child!.on('exit', () => reject(new Error(`server exited: ${out}`)));
      });
      const login = await fetch(`${address}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'boot-admin', password: 'boot password' }),
      });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      expect(out).toContain('created the first admin');
      // No secret reaches the log.
      expect(out).not.toContain('boot password');
      expect(out).not.toContain(token);
      expect((await fetch(`${address}/ready`)).status).toBe(200);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(out).toContain('shutting down');
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      await fresh.destroy();
    }
  });
});
