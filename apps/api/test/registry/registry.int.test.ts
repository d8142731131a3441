import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status, type DB } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage } from '@spm/testkit';
import registryRoutes from '../../src/routes/registry.js';
import { npmInstall, removeDir, seedPackage } from '../../../worker/test/publish/helpers.js';

// The routes are tested on a bare Fastify instance with the plugin mounted at /registry, as app.ts mounts it.
let tdb: TestDatabase;
let db: DB;
let app: FastifyInstance;
let base: string;
let cacheDir: string;
const dirs: string[] = [];

const plain1 = buildPackage({ name: 'reg-plain', version: '1.0.0', manifest: { description: 'first' } });
const plain2 = buildPackage({
  name: 'reg-plain',
  version: '1.1.0',
  manifest: { description: 'second', scripts: { postinstall: 'node x.js' } },
});
const plainPre = buildPackage({ name: 'reg-plain', version: '2.0.0-beta.1' });
const plainPending = buildPackage({ name: 'reg-plain', version: '1.2.0' });
const scoped = buildPackage({
  name: '@corp/reg-scoped',
  version: '3.1.4',
  manifest: { dependencies: { 'reg-plain': '^1.0.0' } },
});
const pendingOnly = buildPackage({ name: 'reg-pending', version: '0.1.0' });
const rejected = buildPackage({ name: 'reg-rejected', version: '9.9.9' });

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.db;
  cacheDir = await mkdtemp(join(tmpdir(), 'spm-registry-cache-'));
  const t0 = Date.UTC(2025, 0, 1);
  await seedPackage(db, cacheDir, plain1, Status.Published, { publishedAt: new Date(t0) });
  await seedPackage(db, cacheDir, plain2, Status.Published, { publishedAt: new Date(t0 + 60_000) });
  await seedPackage(db, cacheDir, plainPre, Status.Published, { publishedAt: new Date(t0 + 120_000) });
  await seedPackage(db, cacheDir, plainPending, Status.PendingApproval);
  await seedPackage(db, cacheDir, scoped, Status.Published);
  await seedPackage(db, cacheDir, pendingOnly, Status.PendingApproval);
  await seedPackage(db, cacheDir, rejected, Status.Rejected);

  app = Fastify({ logger: false });
  await app.register(registryRoutes, { prefix: '/registry', db, config: { packageCacheDir: cacheDir } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}/registry/`;
});

afterAll(async () => {
  await app?.close();
  await tdb?.destroy();
  await rm(cacheDir, { recursive: true, force: true });
  await Promise.all(dirs.map(removeDir));
});

describe('built-in registry', () => {
  it('serves a packument of only the published versions, with latest the highest release', async () => {
    const res = await fetch(`${base}reg-plain`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(Object.keys(doc.versions).sort()).toEqual(['1.0.0', '1.1.0', '2.0.0-beta.1']);
    expect(doc['dist-tags']).toEqual({ latest: '1.1.0' });
    expect(doc.versions['1.1.0']).toMatchObject({
      name: 'reg-plain',
      version: '1.1.0',
      description: 'second',
      hasInstallScript: true,
      dist: { integrity: plain2.integrity, shasum: plain2.shasum, tarball: `${base}reg-plain/-/reg-plain-1.1.0.tgz` },
    });
    expect(doc.time['1.0.0']).toBe('2025-01-01T00:00:00.000Z');
  });

  it('serves the abbreviated packument npm asks for', async () => {
    const res = await fetch(`${base}reg-plain`, {
      headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*' },
    });
    expect(res.headers.get('content-type')).toContain('application/vnd.npm.install-v1+json');
    const doc = (await res.json()) as any;
    expect(doc.modified).toBe('2025-01-01T00:02:00.000Z');
    expect(doc.versions['1.0.0']).toEqual({
      name: 'reg-plain',
      version: '1.0.0',
      dist: expect.objectContaining({ integrity: plain1.integrity }),
    });
    expect(doc.versions['1.0.0']).not.toHaveProperty('description');
  });

  it('answers scoped names in both encodings, and points tarballs at PUBLIC_URL when set', async () => {
    for (const path of ['@corp%2freg-scoped', '@corp%2Freg-scoped', '@corp/reg-scoped']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      const doc = (await res.json()) as any;
      expect(doc.versions['3.1.4'].dist.tarball).toBe(`${base}@corp/reg-scoped/-/reg-scoped-3.1.4.tgz`);
    }
    const other = Fastify();
    await other.register(registryRoutes, {
      prefix: '/registry',
      db,
      config: { packageCacheDir: cacheDir, publicUrl: 'https://spm.example.test/' },
    });
    const res = await other.inject({ url: '/registry/@corp%2freg-scoped' });
    expect(res.json().versions['3.1.4'].dist.tarball).toBe(
      'https://spm.example.test/registry/@corp/reg-scoped/-/reg-scoped-3.1.4.tgz',
    );
    await other.close();
  });

  it('streams the exact stored tarball of a published version', async () => {
    for (const url of [
      `${base}@corp/reg-scoped/-/reg-scoped-3.1.4.tgz`,
      `${base}@corp%2freg-scoped/-/reg-scoped-3.1.4.tgz`,
    ]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(scoped.tarball)).toBe(true);
    }
  });

  it('tells an anonymous caller only that a version is not available (the reason needs a token)', async () => {
    const tgz = await fetch(`${base}reg-plain/-/reg-plain-1.2.0.tgz`);
    expect(tgz.status).toBe(404);
    expect(await tgz.json()).toEqual({ error: 'reg-plain@1.2.0 is not available' });

    const pending = await fetch(`${base}reg-pending`);
    expect(pending.status).toBe(404);
    expect(await pending.json()).toEqual({ error: 'reg-pending is not available' });

    const version = await fetch(`${base}reg-rejected/9.9.9`);
    expect(await version.json()).toEqual({ error: 'reg-rejected@9.9.9 is not available' });

    const unknown = await fetch(`${base}never-submitted`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'never-submitted is not available' });

    const bad = await fetch(`${base}..%2f..%2fetc`);
    expect(bad.status).toBe(400);
  });

  it('serves one version document', async () => {
    const res = await fetch(`${base}@corp/reg-scoped/3.1.4`);
    expect(await res.json()).toMatchObject({
      name: '@corp/reg-scoped',
      version: '3.1.4',
      dist: { integrity: scoped.integrity },
    });
  });

  it('refuses every write with 405', async () => {
    for (const [method, path] of [
      ['PUT', 'reg-plain'],
      ['PUT', '-/user/org.couchdb.user:someone'],
      ['DELETE', 'reg-plain/-/reg-plain-1.0.0.tgz/-rev/1'],
      ['POST', '-/npm/v1/security/advisories/bulk'],
    ] as const) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(((await res.json()) as { error: string }).error).toContain('read-only');
    }
    // A publish body larger than any body limit still gets the 405, not a 413.
    const big = await fetch(`${base}reg-plain`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ _attachments: { 'x.tgz': { data: 'A'.repeat(3 * 1024 * 1024) } } }),
    });
    expect(big.status).toBe(405);
  });

  it('installs scoped and unscoped packages with npm, keeping the original integrity', async () => {
    const install = await npmInstall(base, ['@corp/reg-scoped@3.1.4', 'reg-plain']);
    dirs.push(install.dir);
    expect(install.ok, install.output).toBe(true);
    expect(install.locked['node_modules/@corp/reg-scoped']).toMatchObject({
      version: '3.1.4',
      integrity: scoped.integrity,
    });
    expect(install.locked['node_modules/reg-plain']).toMatchObject({ version: '1.1.0', integrity: plain2.integrity });
    expect(install.locked['node_modules/reg-plain']?.resolved).toBe(`${base}reg-plain/-/reg-plain-1.1.0.tgz`);
  });

  it('fails npm install of an unapproved package', async () => {
    const install = await npmInstall(base, ['reg-pending@0.1.0']);
    dirs.push(install.dir);
    expect(install.ok).toBe(false);
    expect(install.output).toContain('reg-pending is not available');
  });

  it('fails npm ci of a lockfile naming an unapproved version', async () => {
    const lockfile = {
      name: 'install-probe',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'install-probe', version: '1.0.0', dependencies: { 'reg-plain': '1.2.0' } },
        'node_modules/reg-plain': {
          version: '1.2.0',
          resolved: `${base}reg-plain/-/reg-plain-1.2.0.tgz`,
          integrity: plainPending.integrity,
        },
      },
    };
    const install = await npmInstall(base, [], { lockfile, dependencies: { 'reg-plain': '1.2.0' } });
    dirs.push(install.dir);
    expect(install.ok).toBe(false);
    expect(install.output).toContain('reg-plain@1.2.0 is not available');
  });
});
