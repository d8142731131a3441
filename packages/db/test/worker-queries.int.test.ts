import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { Status, claimPackages, completeStage, enqueueLockfile, listLicenseTiers, type LockfilePackage } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.destroy();
});
beforeEach(async () => {
  await sql`TRUNCATE requests, packages, package_events RESTART IDENTITY CASCADE`.execute(t.db);
});

function pkgs(n: number): LockfilePackage[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `p-${i}`,
    version: '1.0.0',
    integrity: null,
    resolved: null,
    license: 'MIT',
    dev: false,
    optional: false,
  }));
}

async function enqueue(n: number) {
  await enqueueLockfile(t.db, {
    applicationName: 'app',
    applicationVersion: '1.0.0',
    requestorId: null,
    actor: 'tester',
    lockfile: {},
    lockfileVersion: 3,
    packages: pkgs(n),
  });
}

describe('claimPackages with a checkpoint filter', () => {
  it('claims only packages at the given checkpoints and leaves the others waiting', async () => {
    await enqueue(2);
    const [first] = await claimPackages(t.db, { workerId: 'w1', limit: 1, leaseSeconds: 30 });
    await completeStage(t.db, {
      packageId: first!.packageId,
      workerId: 'w1',
      work: first!.status,
      to: Status.Downloaded,
      via: [Status.LicenceChecked, Status.Downloading],
    });

    const claimed = await claimPackages(t.db, {
      workerId: 'w2',
      limit: 10,
      leaseSeconds: 30,
      checkpoints: [Status.Requested, Status.LicenceChecked],
    });
    expect(claimed.map((c) => c.packageId)).toEqual([2]);
    const again = await claimPackages(t.db, {
      workerId: 'w2',
      limit: 10,
      leaseSeconds: 30,
      checkpoints: [Status.Requested, Status.LicenceChecked],
    });
    expect(again).toEqual([]);
    const row = await t.db
      .selectFrom('package_status')
      .select(['status', 'locked_by'])
      .where('package_id', '=', first!.packageId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ status: Status.Downloaded, locked_by: null });

    const scan = await claimPackages(t.db, {
      workerId: 'w3',
      limit: 10,
      leaseSeconds: 30,
      checkpoints: [Status.Downloaded],
    });
    expect(scan.map((c) => [c.packageId, c.status])).toEqual([[first!.packageId, Status.SecurityScanning]]);
  });

  it('claims nothing for an empty checkpoint list, and every checkpoint without one', async () => {
    await enqueue(3);
    expect(await claimPackages(t.db, { workerId: 'w1', limit: 10, leaseSeconds: 30, checkpoints: [] })).toEqual([]);
    expect(await claimPackages(t.db, { workerId: 'w1', limit: 10, leaseSeconds: 30 })).toHaveLength(3);
  });
});

describe('listLicenseTiers', () => {
  it('returns the seeded policy and reflects an edit at once', async () => {
    const before = await listLicenseTiers(t.db);
    expect(before).toContainEqual({ spdxId: 'MIT', tier: 'always_allowed' });
    await t.db.updateTable('supported_licenses').set({ tier: 'blocked' }).where('spdx_id', '=', 'MIT').execute();
    expect(await listLicenseTiers(t.db)).toContainEqual({ spdxId: 'MIT', tier: 'blocked' });
    await t.db.updateTable('supported_licenses').set({ tier: 'always_allowed' }).where('spdx_id', '=', 'MIT').execute();
  });
});
