import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppPath } from '../src/plugins/web.js';
import { setupApp, type TestApp } from './helpers.js';

/** The API serves the built web app on `/` and keeps its own paths. */

let t: TestApp;
let root: string;
const INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-1a2b.js"></script></head></html>';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spm-web-root-'));
  await mkdir(join(root, 'assets'));
  await writeFile(join(root, 'index.html'), INDEX);
  await writeFile(join(root, 'assets/app-1a2b.js'), 'console.log("app")');
  await writeFile(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(join(root, '.secret'), 'not served');
  t = await setupApp({ WEB_ROOT: root });
});
afterAll(async () => {
  await t?.close();
  await rm(root, { recursive: true, force: true });
});

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers });

describe('the web app on /', () => {
  it('answers / and every route of the app with index.html, revalidated, under a strict CSP', async () => {
    for (const url of ['/', '/requests', '/requests/12', '/packages/3?tab=findings', '/admin/users']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.body).toBe(INDEX);
      expect(res.headers['cache-control']).toBe('no-cache');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  it('serves hashed assets for a year and other files revalidated', async () => {
    const js = await get('/assets/app-1a2b.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toContain('javascript');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const icon = await get('/favicon.svg');
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('answers a missing file or a dot file with 404, not the page', async () => {
    for (const url of ['/assets/gone-9z.js', '/robots.txt', '/.secret', '/assets/../.secret']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain('not served');
    }
  });

  it('leaves the API paths to the API: unknown ones are JSON 404s', async () => {
    for (const url of ['/api', '/api/nothing', '/registry/-/nothing/here/at/all', '/metrics/x']) {
      const res = await get(url, { accept: 'text/html' });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code).toBe('ERR_NOT_FOUND');
    }
    expect((await get('/health')).json()).toEqual({ status: 'ok' });
    expect((await get('/docs/json')).json().openapi).toMatch(/^3\./);
    expect((await get('/api/packages/requests')).statusCode).toBe(401);
  });

  it('answers HEAD like GET', async () => {
    const res = await t.app.inject({ method: 'HEAD', url: '/requests/1' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBeDefined();
  });
});

describe('without a build', () => {
  it('runs the API and leaves / unanswered', async () => {
    const bare = await setupApp({ WEB_ROOT: join(root, 'missing') });
    try {
      expect((await bare.app.inject({ method: 'GET', url: '/' })).statusCode).toBe(404);
      expect((await bare.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    } finally {
      await bare.close();
    }
  });
});

describe('isAppPath', () => {
  it('keeps every API prefix and files out of the app', () => {
    for (const p of ['/api', '/api/x', '/registry/a', '/docs', '/docs/json', '/health', '/ready', '/metrics', '/a.js'])
      expect(isAppPath(p), p).toBe(false);
    for (const p of ['/', '/requests', '/requests/3', '/apix', '/registryish', '/admin/audit'])
      expect(isAppPath(p), p).toBe(true);
  });
});
