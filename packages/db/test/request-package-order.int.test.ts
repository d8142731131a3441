import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createUser, enqueueLockfile, getRequestProcessing, queryRequestPackages, type LockfilePackage } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { down, up } from '../src/migrations/0022_request_package_order.js';

/*
 * Migration 0022: each request's link carries its package's name and version, so pages by name are a walk
 * of one index. What must hold: every link has the right name@version (new and already-known packages, and
 * links made before the migration), and pages by name together are every package once, in name order.
 */

let t: TestDatabase;
let first: number;
let second: number;
beforeAll(async () => {
  t = await createTestDatabase();
  const user = (await createUser(t.db, { username: 'order-user', password: 'long enough password', role: 'user' })).id;
  // Names whose order differs from the order of insertion (and so of the ids), two versions of one name.
  const pkg = (name: string, version = '1.0.0'): LockfilePackage => ({
    name,
    version,
    integrity: null,
    resolved: null,
    license: 'MIT',
    dev: false,
    optional: false,
  });
  const names = ['zeta', 'alpha', '@scope/mid', 'beta', 'alpha-two', 'omega', 'delta', 'gamma'];
  const submit = async (packages: LockfilePackage[]) =>
    (
      await enqueueLockfile(t.db, {
        applicationName: 'order',
        applicationVersion: '1.0.0',
        requestorId: user,
        actor: 'order-user',
        lockfile: {},
        lockfileVersion: 3,
        packages,
      })
    ).requestId;
  first = await submit(names.map((n) => pkg(n)));
  // The second request shares three packages with the first (linked as existing) and brings new ones.
  second = await submit([pkg('beta'), pkg('zeta'), pkg('alpha'), pkg('kappa'), pkg('alpha', '2.0.0'), pkg('eta')]);
});
afterAll(async () => t?.destroy());

const linkMismatches = async () =>
  (
    await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM request_packages rp JOIN packages p ON p.id = rp.package_id
      WHERE rp.package_name IS DISTINCT FROM p.name OR rp.package_version IS DISTINCT FROM p.version`.execute(t.db)
  ).rows[0]!.n;

it('gives every link, new or already known, its package name and version', async () => {
  const links = await t.db.selectFrom('request_packages').select(['request_id', 'link']).execute();
  expect(links.filter((l) => l.request_id === second && l.link === 'existing')).toHaveLength(3);
  expect(await linkMismatches()).toBe(0);
});

it('fills the links made before the migration', async () => {
  await down(t.db);
  await up(t.db);
  expect(await linkMismatches()).toBe(0);
  const cols = await sql<{ attnotnull: boolean }>`
    SELECT attnotnull FROM pg_attribute WHERE attrelid = 'request_packages'::regclass AND attname IN ('package_name', 'package_version')
  `.execute(t.db);
  expect(cols.rows.map((c) => c.attnotnull)).toEqual([true, true]);
});

it('pages by name: every package once, in name then version order, in both views', async () => {
  for (const requestId of [first, second]) {
    const all = (await queryRequestPackages(t.db, requestId)).packages.map((p) => `${p.name}@${p.version}`);
    const expected = (
      await sql<{ k: string }>`
        SELECT p.name || '@' || p.version AS k FROM request_packages rp JOIN packages p ON p.id = rp.package_id
        WHERE rp.request_id = ${requestId} ORDER BY p.name, p.version`.execute(t.db)
    ).rows.map((r) => r.k);
    expect(all).toEqual(expected);
    const paged: string[] = [];
    const processing: string[] = [];
    for (let offset = 0; offset < all.length + 3; offset += 3) {
      const page = await queryRequestPackages(t.db, requestId, { limit: 3, offset });
      expect(page.total).toBe(all.length);
      paged.push(...page.packages.map((p) => `${p.name}@${p.version}`));
      processing.push(
        ...(await getRequestProcessing(t.db, requestId, { limit: 3, offset })).map((p) => `${p.name}@${p.version}`),
      );
    }
    expect(paged).toEqual(all);
    expect(processing).toEqual(all);
  }
  const desc = await queryRequestPackages(t.db, second, { order: 'desc', limit: 2, offset: 0 });
  expect(desc.packages.map((p) => p.name)).toEqual(['zeta', 'kappa']);
});

it('filters by name on the link and counts what matches', async () => {
  const r = await queryRequestPackages(t.db, second, { q: 'ALPHA', limit: 10, offset: 0 });
  expect(r.total).toBe(2);
  expect(r.packages.map((p) => `${p.name}@${p.version}`)).toEqual(['alpha@1.0.0', 'alpha@2.0.0']);
  const existing = await queryRequestPackages(t.db, second, { link: 'existing', statuses: ['Requested'] });
  expect(existing.total).toBe(3);
  expect(existing.packages.map((p) => p.name)).toEqual(['alpha', 'beta', 'zeta']);
});
