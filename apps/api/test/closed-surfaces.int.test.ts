import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '@spm/db';
import { bearer, setupApp, type TestApp } from './helpers.js';

/*
 * /metrics and /docs are open by default (a private network, a team's own tool) and can be closed:
 * METRICS_TOKEN makes /metrics need that bearer token; DOCS_PUBLIC=false makes /docs need a signed-in caller.
 */

const METRICS_TOKEN = 'scrape-secret-0123456789';

describe('defaults', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await setupApp();
  });
  afterAll(async () => t?.close());

  it('serves /metrics and /docs to anyone', async () => {
    expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/docs/json' })).statusCode).toBe(200);
  });
});

describe('METRICS_TOKEN set and DOCS_PUBLIC=false', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await setupApp({ METRICS_TOKEN, DOCS_PUBLIC: 'false' });
  });
  afterAll(async () => t?.close());

  it('answers /metrics only with the metrics token', async () => {
    for (const headers of [{}, bearer('wrong'), bearer(`${METRICS_TOKEN}x`), bearer(t.tokens.admin)]) {
      const r = await t.app.inject({ url: '/metrics', headers });
      expect(r.statusCode).toBe(401);
      expect(r.headers['www-authenticate']).toContain('Bearer');
      expect(r.json().error.code).toBe('ERR_UNAUTHORIZED');
      expect(r.body).not.toContain('spm_');
    }
    const ok = await t.app.inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('spm_queue_depth');
  });

  it('answers /docs only to a signed-in caller: session token, web cookie or an API token with read scope', async () => {
    for (const url of ['/docs/json', '/docs', '/docs/static/index.html']) {
      const r = await t.app.inject({ url });
      expect(r.statusCode, url).toBe(401);
    }
    expect((await t.app.inject({ url: '/docs/json', headers: bearer(t.tokens.user) })).statusCode).toBe(200);
    const token = async (scopes: ('read' | 'submit')[]) =>
      (
        await createApiToken(t.db, {
          userId: t.users.user.id,
          name: `docs-${scopes.join('-')}`,
          scopes,
          expiresAt: new Date(Date.now() + 60_000),
        })
      ).secret;
    expect((await t.app.inject({ url: '/docs/json', headers: bearer(await token(['read'])) })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/docs/json', headers: bearer(await token(['submit'])) })).statusCode).toBe(403);
  });
});
