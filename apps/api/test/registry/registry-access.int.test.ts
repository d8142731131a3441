import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, Status, type ApiTokenScope } from '@spm/db';
import { buildPackage } from '@spm/testkit';
import { npmInstall, removeDir, seedPackage } from '../../../worker/test/publish/helpers.js';
import { bearer, setupApp, type TestApp } from '../helpers.js';

/*
 * Who learns what from /registry/ in the real app: anonymous callers get only "not available" in a 404,
 * callers with a token the reason; REGISTRY_REQUIRE_AUTH=true serves only callers with an API token of
 * scope registry (or a session token), and npm install works with the token in .npmrc.
 */

const published = buildPackage({ name: 'acc-plain', version: '1.0.0' });
const pending = buildPackage({ name: 'acc-plain', version: '1.1.0' });
const pendingOnly = buildPackage({ name: 'acc-pending', version: '0.1.0' });
const dirs: string[] = [];

interface Served {
  t: TestApp;
  base: string;
  cacheDir: string;
  token(scopes: ApiTokenScope[]): Promise<string>;
}

async function serve(env: Record<string, string> = {}): Promise<Served> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'spm-registry-access-'));
  const t = await setupApp({ PACKAGE_CACHE_DIR: cacheDir, ...env });
  await seedPackage(t.db, cacheDir, published, Status.Published);
  await seedPackage(t.db, cacheDir, pending, Status.PendingApproval);
  await seedPackage(t.db, cacheDir, pendingOnly, Status.PendingApproval);
  const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
  let n = 0;
  return {
    t,
    cacheDir,
    base: `${address}/registry/`,
    token: async (scopes) =>
      (
        await createApiToken(t.db, {
          userId: t.users.user.id,
          name: `registry-${++n}`,
          scopes,
          expiresAt: new Date(Date.now() + 3_600_000),
        })
      ).secret,
  };
}

const close = async (s: Served | undefined) => {
  await s?.t.close();
  if (s) await rm(s.cacheDir, { recursive: true, force: true });
};

afterAll(async () => {
  await Promise.all(dirs.map(removeDir));
});

describe('default (REGISTRY_REQUIRE_AUTH=false)', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve();
  });
  afterAll(async () => close(s));

  it('serves published packages to anyone', async () => {
    expect((await fetch(`${s.base}acc-plain`)).status).toBe(200);
  });

  it('tells an anonymous caller only "not available": not which versions were submitted or their state', async () => {
    for (const [path, spec] of [
      ['acc-plain/1.1.0', 'acc-plain@1.1.0'],
      ['acc-plain/-/acc-plain-1.1.0.tgz', 'acc-plain@1.1.0'],
      ['acc-plain/7.0.0', 'acc-plain@7.0.0'],
      ['never-submitted', 'never-submitted'],
    ]) {
      const res = await fetch(`${s.base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toEqual({ error: `${spec} is not available` });
    }
  });

  it('tells a caller with a registry token, or a session token, why', async () => {
    const token = await s.token(['registry']);
    for (const auth of [token, s.t.tokens.user]) {
      const res = await fetch(`${s.base}acc-plain/1.1.0`, { headers: bearer(auth) });
      expect(await res.json()).toEqual({ error: 'acc-plain@1.1.0 is not approved for use (status: Pending Approval)' });
      const unknown = await fetch(`${s.base}never-submitted`, { headers: bearer(auth) });
      expect(((await unknown.json()) as { error: string }).error).toContain('ever submitted');
    }
  });

  it('refuses a token that is invalid or lacks the registry scope, rather than serving it as anonymous', async () => {
    const read = await s.token(['read', 'submit']);
    const scoped = await fetch(`${s.base}acc-plain`, { headers: bearer(read) });
    expect(scoped.status).toBe(403);
    expect(((await scoped.json()) as { error: string }).error).toContain('lacks the registry scope');
    const forged = await fetch(`${s.base}acc-plain`, { headers: bearer(`spm_${'x'.repeat(43)}`) });
    expect(forged.status).toBe(401);
  });

  it('gives npm the reason only when .npmrc carries a token', async () => {
    const anonymous = await npmInstall(s.base, ['acc-pending@0.1.0']);
    dirs.push(anonymous.dir);
    expect(anonymous.ok).toBe(false);
    expect(anonymous.output).toContain('acc-pending is not available');
    expect(anonymous.output).not.toContain('Pending Approval');
    const signed = await npmInstall(s.base, ['acc-pending@0.1.0'], { authToken: await s.token(['registry']) });
    dirs.push(signed.dir);
    expect(signed.ok).toBe(false);
    expect(signed.output).toContain('Pending Approval');
  });
});

describe('REGISTRY_REQUIRE_AUTH=true', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve({ REGISTRY_REQUIRE_AUTH: 'true' });
  });
  afterAll(async () => close(s));

  it('answers 401 with WWW-Authenticate to a caller without a token', async () => {
    for (const path of ['acc-plain', 'acc-plain/-/acc-plain-1.0.0.tgz', '-/ping']) {
      const res = await fetch(`${s.base}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(((await res.json()) as { error: string }).error).toContain('_authToken');
    }
  });

  it('installs with npm when .npmrc has //host/registry/:_authToken=<API token with registry scope>', async () => {
    const refused = await npmInstall(s.base, ['acc-plain']);
    dirs.push(refused.dir);
    expect(refused.ok).toBe(false);

    const install = await npmInstall(s.base, ['acc-plain'], { authToken: await s.token(['registry']) });
    dirs.push(install.dir);
    expect(install.ok, install.output).toBe(true);
    expect(install.locked['node_modules/acc-plain']).toMatchObject({
      version: '1.0.0',
      integrity: published.integrity,
    });
  });

  it('refuses the token once it is revoked, and a token without the registry scope', async () => {
    const token = await s.token(['registry']);
    expect((await fetch(`${s.base}acc-plain`, { headers: bearer(token) })).status).toBe(200);
    await s.t.db.updateTable('api_tokens').set({ revoked_at: new Date() }).execute();
    expect((await fetch(`${s.base}acc-plain`, { headers: bearer(token) })).status).toBe(401);
    expect((await fetch(`${s.base}acc-plain`, { headers: bearer(await s.token(['read'])) })).status).toBe(403);
  });
});
