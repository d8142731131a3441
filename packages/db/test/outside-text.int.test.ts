import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimPackages,
  completeStage,
  enqueueLockfile,
  failTransient,
  insertSecurityScan,
  latestSecurityScan,
  rejectHeldPackage,
  REPLACEMENT,
  Status,
} from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';

// Issue 11, finding 6: text taken from a tarball (vite@7.1.7, iconv-lite@0.4.24, yauzl@2.10.0 hold NUL
// characters in their sources) made PostgreSQL refuse the write with 22P05 and rejected the package.
const HOSTILE = `evidence with a NUL \u0000, a lone surrogate \uD800 and a pair \u{1F600}`;
const STORED = `evidence with a NUL ${REPLACEMENT}, a lone surrogate ${REPLACEMENT} and a pair \u{1F600}`;

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.destroy();
});

async function claimOne(name: string) {
  await enqueueLockfile(t.db, {
    applicationName: 'a',
    applicationVersion: '1.0.0',
    requestorId: null,
    actor: 'test',
    lockfile: {},
    lockfileVersion: 3,
    packages: [
      { name, version: '1.0.0', integrity: null, resolved: null, license: 'MIT', dev: false, optional: false },
    ],
  });
  const claimed = await claimPackages(t.db, { workerId: 'w', limit: 10, leaseSeconds: 30 });
  return claimed.find((p) => p.name === name)!;
}

const events = (packageId: number) =>
  t.db
    .selectFrom('package_events')
    .select(['reason', 'details'])
    .where('package_id', '=', packageId)
    .orderBy('id')
    .execute();

describe('outside text is stored safely in every column the worker writes', () => {
  it('stores a finding whose evidence holds NUL and a lone surrogate in security_scans', async () => {
    const p = await claimOne('nul-finding');
    await insertSecurityScan(t.db, {
      packageId: p.packageId,
      scanners: [{ name: 'builtin', version: '1', details: { note: HOSTILE } }],
      counts: { critical: 0, high: 0, medium: 1, low: 0, info: 0 },
      findings: [{ id: 'x', evidence: HOSTILE, [`key ${HOSTILE}`]: 1 }],
      malware: false,
      score: 92,
      durationMs: 1,
    });
    const scan = await latestSecurityScan(t.db, p.packageId);
    expect(scan!.findings).toEqual([{ id: 'x', evidence: STORED, [`key ${STORED}`]: 1 }]);
  });

  it('stores reason, details and patch text of a completed stage', async () => {
    const p = await claimOne('nul-complete');
    expect(
      await completeStage(t.db, {
        packageId: p.packageId,
        workerId: 'w',
        work: p.status,
        to: Status.LicenceChecked,
        reason: HOSTILE,
        details: { licence: HOSTILE },
        patch: { license_expression: HOSTILE, license_flags: [HOSTILE] },
      }),
    ).toBe(true);
    expect((await events(p.packageId)).at(-1)).toEqual({ reason: STORED, details: { licence: STORED } });
    const row = await t.db
      .selectFrom('package_status')
      .select(['license_expression', 'license_flags'])
      .where('package_id', '=', p.packageId)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ license_expression: STORED, license_flags: [STORED] });
  });

  it('stores the reason of a rejection and of a transient failure, and cuts an over-long one', async () => {
    const a = await claimOne('nul-reject');
    expect(
      await rejectHeldPackage(t.db, {
        packageId: a.packageId,
        workerId: 'w',
        work: a.status,
        kind: 'error',
        reason: HOSTILE,
      }),
    ).toBe(true);
    const rejected = await t.db
      .selectFrom('package_status')
      .select(['rejection_reason', 'last_error'])
      .where('package_id', '=', a.packageId)
      .executeTakeFirstOrThrow();
    expect(rejected).toEqual({ rejection_reason: STORED, last_error: STORED });

    const b = await claimOne('nul-transient');
    const long = `${HOSTILE} ${'y'.repeat(50_000)}`;
    expect(
      await failTransient(t.db, {
        packageId: b.packageId,
        workerId: 'w',
        work: b.status,
        error: long,
        maxAttempts: 5,
        backoffBaseMs: 1000,
      }),
    ).toBe('retry');
    const row = await t.db
      .selectFrom('package_status')
      .select('last_error')
      .where('package_id', '=', b.packageId)
      .executeTakeFirstOrThrow();
    expect(row.last_error!.startsWith(STORED)).toBe(true);
    expect(row.last_error!.length).toBeLessThanOrEqual(10_000);
    expect(row.last_error).toMatch(/…\[cut: \d+ characters\]$/);
  });
});
