import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@spm/db';
import { buildApp } from '../src/app.js';
import { bearer, generatedLockfile, setupApp, testConfig, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());

describe('operations', () => {
  it('answers /health and /ready', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ status: 'ready' });
  });

  it('answers /ready with 503 and a code when the database is unreachable', async () => {
    const { db } = createDb({ connectionString: 'postgres://postgres@127.0.0.1:1/none', max: 1 });
    const down = await buildApp(testConfig('postgres://postgres@127.0.0.1:1/none'), { db, logger: false });
    try {
      const r = await down.inject({ method: 'GET', url: '/ready' });
      expect(r.statusCode).toBe(503);
      expect(r.json().error.code).toBe('ERR_DB_UNAVAILABLE');
      // Other routes say so too, rather than a bare 500.
      const me = await down.inject({ method: 'GET', url: '/api/packages/requests', headers: bearer(t.tokens.user) });
      expect(me.statusCode).toBe(503);
      expect((await down.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await down.close();
      await db.destroy();
    }
  });

  it('serves Prometheus metrics: HTTP histogram and queue gauges', async () => {
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: bearer(t.tokens.user),
      payload: generatedLockfile(2, 'metered'),
    });
    expect(up.statusCode).toBe(202);
    await t.app.inject({ method: 'GET', url: '/health' });
    const r = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    expect(r.body).toMatch(
      /spm_http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} \d+/,
    );
    expect(r.body).toMatch(/spm_queue_depth \d+/);
    expect(r.body).toMatch(/spm_packages\{status="Requested"\} [1-9]\d*/);
    expect(r.body).toMatch(/spm_workers_alive \d+/);
  });

  it('serves the OpenAPI document and UI at /docs, with a schema for every response', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    const ops = Object.entries(
      doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>,
    ).filter(([p]) => p.startsWith('/api/'));
    expect(ops.length).toBeGreaterThan(15);
    for (const [path, methods] of ops) {
      for (const [m, op] of Object.entries(methods)) {
        expect(Object.keys(op.responses), `${m} ${path}`).toEqual(expect.arrayContaining(['500']));
        if (path !== '/api/auth/login' && path !== '/api/auth/session')
          expect(Object.keys(op.responses), `${m} ${path}`).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
    const ui = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
  });

  it('mounts the read-only npm registry under /registry/', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/registry/-/ping' });
    expect(r.statusCode).toBe(200);
  });

  it('answers unknown routes with 404 and a code', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/api/nope' });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('ERR_NOT_FOUND');
  });

  it('never leaks internals on a 500', async () => {
    const tdbUrl = t.tdb.url;
    const { db } = createDb({ connectionString: tdbUrl, max: 1 });
    const broken = await buildApp(testConfig(tdbUrl), { db, logger: false });
    try {
      // A token check passes, then the pool is gone: the handler's query throws a pg error.
      await db.selectFrom('users').select('id').execute();
      await db.destroy();
      const r = await broken.inject({ method: 'GET', url: '/api/packages/requests', headers: bearer(t.tokens.admin) });
      expect(r.statusCode).toBeGreaterThanOrEqual(500);
      expect(r.json()).toEqual({
        error: { code: r.statusCode === 503 ? 'ERR_DB_UNAVAILABLE' : 'ERR_INTERNAL', message: expect.any(String) },
      });
      expect(r.body).not.toMatch(/pool|stack|at .*\.js/i);
    } finally {
      await broken.close();
    }
  });
});
