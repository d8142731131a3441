import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));

export interface Verdaccio {
  /** Base URL ending in `/`. */
  url: string;
  /** A bearer token of a user created in this instance (may publish). */
  token: string;
  /** Where Verdaccio keeps its packages (one folder per package name). */
  storage: string;
  /** Every request line Verdaccio logged (method and path), for counting PUTs. */
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts a real Verdaccio (the root devDependency, 6.8.0) on loopback with its storage in a fresh
 * temporary directory, no uplink, a raised body limit and its audit middleware off, and creates a user
 * to obtain a publish token. Stop it with `stop()`; the directory is removed.
 */
export async function startVerdaccio(): Promise<Verdaccio> {
  const dir = await mkdtemp(join(tmpdir(), 'spm-verdaccio-'));
  const storage = join(dir, 'storage');
  const port = await freePort();
  const config = [
    `storage: ${JSON.stringify(storage)}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(join(dir, 'htpasswd'))}`,
    '    max_users: 100',
    'uplinks: {}',
    'packages:',
    "  '@*/*':",
    '    access: $all',
    '    publish: $authenticated',
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    'max_body_size: 200mb',
    'middlewares:',
    '  audit:',
    '    enabled: false',
    'web:',
    '  enable: false',
    'log: { type: stdout, format: json, level: http }',
    '',
  ].join('\n');
  const cfgPath = join(dir, 'config.yaml');
  await writeFile(cfgPath, config);

  let out = '';
  const child: ChildProcess = spawn(
    process.execPath,
    [join(root, 'node_modules/verdaccio/bin/verdaccio'), '--config', cfgPath, '--listen', `127.0.0.1:${port}`],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}/`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}: ${out}`);
      const ok = await fetch(`${url}-/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`verdaccio did not start within 60 s: ${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const user = 'spm-publisher';
    const res = await fetch(`${url}-/user/org.couchdb.user:${user}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        _id: `org.couchdb.user:${user}`,
        name: user,
        password: 'publisher-secret-1',
        type: 'user',
        roles: [],
      }),
    });
    const body = (await res.json()) as { token?: string };
    if (!res.ok || !body.token)
      throw new Error(`creating the verdaccio user failed: ${res.status} ${JSON.stringify(body)}`);
    return { url, token: body.token, storage, output: () => out, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
