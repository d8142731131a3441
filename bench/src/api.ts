import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { buildApp, loadConfig } from '@spm/api';

export interface RunningApi {
  url: string;
  login(username: string, password: string): Promise<string>;
  upload(token: string, body: string): Promise<{ status: number; json: Record<string, unknown>; ms: number }>;
  close(): Promise<void>;
}

/**
 * The real API (buildApp) listening on loopback in this process, logging at info as in production
 * (JSON lines, discarded). Clients talk to it over real HTTP with fetch.
 */
export async function startApi(databaseUrl: string): Promise<RunningApi> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'spm-bench-api-'));
  const config = loadConfig(
    {
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      PACKAGE_CACHE_DIR: cacheDir,
      LOGIN_RATE_LIMIT: '1000',
      // The quota is checked on every upload (its cost is in the figures), but a bench user queues far more
      // than a person may.
      USER_MAX_OPEN_REQUESTS: '100000',
      USER_MAX_QUEUED_PACKAGES: '100000000',
    },
    { isTTY: false },
  );
  const app = await buildApp(config, {
    logger: { level: 'info', stream: pino.destination({ dest: '/dev/null', sync: true }) },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    url,
    async login(username, password) {
      const res = await fetch(`${url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      const json = (await res.json()) as { token?: string };
      if (res.status !== 200 || !json.token) throw new Error(`login failed: ${res.status} ${JSON.stringify(json)}`);
      return json.token;
    },
    async upload(token, body) {
      const t0 = performance.now();
      const res = await fetch(`${url}/api/packages/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      const json = (await res.json()) as Record<string, unknown>;
      return { status: res.status, json, ms: performance.now() - t0 };
    },
    async close() {
      await app.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}
