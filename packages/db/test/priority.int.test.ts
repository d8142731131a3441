import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  claimPackages,
  createUser,
  enqueueLockfile,
  PRIORITIES,
  setRequestPriority,
  type LockfilePackage,
} from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';

/*
 * Priorities: the claim takes an urgent request's packages before a large normal backlog submitted
 * earlier; a package shared by several requests runs as soon as the most urgent of them; changing a
 * request's priority re-ranks its waiting packages and leaves settled ones alone.
 */

let t: TestDatabase;
let actorId: number;
beforeAll(async () => {
  t = await createTestDatabase();
  actorId = (await createUser(t.db, { username: 'prio-admin', password: 'long enough password', role: 'admin' })).id;
});
afterAll(async () => t?.destroy());

const pkgs = (prefix: string, n: number): LockfilePackage[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `${prefix}-${i}`,
    version: '1.0.0',
    integrity: null,
    resolved: null,
    license: 'MIT',
    dev: false,
    optional: false,
  }));

const submit = (name: string, packages: LockfilePackage[], priority?: number) =>
  enqueueLockfile(t.db, {
    applicationName: name,
    applicationVersion: '1.0.0',
    requestorId: actorId,
    actor: 'prio-admin',
    lockfile: {},
    lockfileVersion: 3,
    packages,
    priority,
  });

const priorities = async (requestId: number) =>
  (
    await t.db
      .selectFrom('request_packages as rp')
      .innerJoin('package_status as ps', 'ps.package_id', 'rp.package_id')
      .innerJoin('packages as p', 'p.id', 'rp.package_id')
      .select(['p.name', 'ps.priority'])
      .where('rp.request_id', '=', requestId)
      .orderBy('p.name')
      .execute()
  ).map((r) => [r.name, r.priority]);

it('claims an urgent request submitted behind a large backlog first', async () => {
  await submit('backlog', pkgs('bulk', 40));
  const urgent = await submit('hotfix', pkgs('fix', 3), PRIORITIES.urgent);
  const claimed = await claimPackages(t.db, { workerId: 'w1', limit: 5, leaseSeconds: 60 });
  expect(
    claimed
      .slice(0, 3)
      .map((c) => c.name)
      .sort(),
  ).toEqual(['fix-0', 'fix-1', 'fix-2']);
  expect(claimed.slice(3).every((c) => c.name.startsWith('bulk-'))).toBe(true);
  expect(await priorities(urgent.requestId)).toEqual([
    ['fix-0', PRIORITIES.urgent],
    ['fix-1', PRIORITIES.urgent],
    ['fix-2', PRIORITIES.urgent],
  ]);
});

it('ranks a shared package by its most urgent request, and re-ranks on a change', async () => {
  const low = await submit('slow-lane', [...pkgs('shared', 2), ...pkgs('own', 1)], PRIORITIES.low);
  const high = await submit('fast-lane', pkgs('shared', 2), PRIORITIES.high);
  expect(high.existingCount).toBe(2);
  expect(await priorities(low.requestId)).toEqual([
    ['own-0', PRIORITIES.low],
    ['shared-0', PRIORITIES.high],
    ['shared-1', PRIORITIES.high],
  ]);

  // Lowering the fast lane: the shared packages fall back to the most urgent remaining request (low).
  const moved = await setRequestPriority(t.db, high.requestId, PRIORITIES.low, {
    actorId,
    actorUsername: 'prio-admin',
    ip: null,
    from: PRIORITIES.high,
  });
  expect(moved).toBe(2);
  expect(await priorities(low.requestId)).toEqual([
    ['own-0', PRIORITIES.low],
    ['shared-0', PRIORITIES.low],
    ['shared-1', PRIORITIES.low],
  ]);

  // Raising the slow lane: all three move up; a settled package keeps its priority.
  await t.db
    .updateTable('package_status')
    .set({ status: 'Published' })
    .where('package_id', 'in', t.db.selectFrom('packages').select('id').where('name', '=', 'own-0'))
    .execute();
  expect(
    await setRequestPriority(t.db, low.requestId, PRIORITIES.urgent, {
      actorId,
      actorUsername: 'prio-admin',
      ip: null,
      from: PRIORITIES.low,
    }),
  ).toBe(2);
  expect(await priorities(low.requestId)).toEqual([
    ['own-0', PRIORITIES.low],
    ['shared-0', PRIORITIES.urgent],
    ['shared-1', PRIORITIES.urgent],
  ]);
  const audit = await t.db
    .selectFrom('audit_log')
    .select(['action', 'target_id', 'details'])
    .where('action', '=', 'request.priority')
    .orderBy('id')
    .execute();
  expect(audit).toHaveLength(2);
  expect(audit[1]).toMatchObject({ target_id: String(low.requestId), details: { from: 10, to: -20 } });
});
