import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { sql } from 'kysely';
import { claimPackages, createUser, enqueueLockfile, PRIORITIES, type LockfilePackage } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';

/*
 * Fair claiming: within one priority the claim takes turns between requestors, then between one
 * requestor's requests, so a big backlog queued first does not starve a small request queued after it;
 * a more urgent package still goes first whatever its lane.
 */

let t: TestDatabase;
let alice: number;
let bob: number;
beforeAll(async () => {
  t = await createTestDatabase();
  alice = (await createUser(t.db, { username: 'fair-alice', password: 'long enough password', role: 'user' })).id;
  bob = (await createUser(t.db, { username: 'fair-bob', password: 'long enough password', role: 'user' })).id;
});
afterAll(async () => t?.destroy());
beforeEach(async () => {
  await sql`TRUNCATE requests, packages, package_events, audit_log RESTART IDENTITY CASCADE`.execute(t.db);
});

const pkgs = (prefix: string, n: number): LockfilePackage[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `${prefix}-${String(i).padStart(3, '0')}`,
    version: '1.0.0',
    integrity: null,
    resolved: null,
    license: 'MIT',
    dev: false,
    optional: false,
  }));

const submit = (requestorId: number, prefix: string, n: number, priority?: number) =>
  enqueueLockfile(t.db, {
    applicationName: prefix,
    applicationVersion: '1.0.0',
    requestorId,
    actor: prefix,
    lockfile: {},
    lockfileVersion: 3,
    packages: pkgs(prefix, n),
    priority,
  });

const claimNames = async (limit: number) =>
  (await claimPackages(t.db, { workerId: 'w', limit, leaseSeconds: 60 })).map((p) => p.name).sort();

it("takes turns: another user's small request queued behind a big backlog gets every other slot", async () => {
  await submit(alice, 'big', 200);
  await submit(bob, 'small', 3);
  expect(await claimNames(2)).toEqual(['big-000', 'small-000']);
  expect(await claimNames(4)).toEqual(['big-001', 'big-002', 'small-001', 'small-002']);
  // Bob's request is done; the rest of the slots go to the backlog.
  expect(await claimNames(3)).toEqual(['big-003', 'big-004', 'big-005']);
});

it("takes turns between users first, then between one user's requests", async () => {
  await submit(alice, 'a1', 50);
  await submit(alice, 'a2', 50);
  await submit(bob, 'b', 50);
  // Alice's two requests share her turns; Bob alone has as many as both of hers together.
  expect(await claimNames(4)).toEqual(['a1-000', 'a2-000', 'b-000', 'b-001']);
});

it('keeps priority above fairness', async () => {
  await submit(alice, 'urgent', 5, PRIORITIES.urgent);
  await submit(bob, 'normal', 5);
  expect(await claimNames(5)).toEqual(['urgent-000', 'urgent-001', 'urgent-002', 'urgent-003', 'urgent-004']);
  expect(await claimNames(1)).toEqual(['normal-000']);
});

it('claims packages queued outside any request alongside the lanes', async () => {
  await submit(alice, 'lane', 5);
  await sql`UPDATE package_status SET request_id = NULL WHERE package_id IN (1, 2)`.execute(t.db);
  expect(await claimNames(5)).toEqual(['lane-000', 'lane-001', 'lane-002', 'lane-003', 'lane-004']);
});

it('records the request that queued a package as its lane, and keeps it when another request links it', async () => {
  const first = await submit(alice, 'shared', 2);
  await submit(bob, 'shared', 2);
  const lanes = await t.db.selectFrom('package_status').select('request_id').distinct().execute();
  expect(lanes).toEqual([{ request_id: first.requestId }]);
});
