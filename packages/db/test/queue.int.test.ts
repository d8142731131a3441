import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Kysely, PostgresDialect, sql } from 'kysely';
import {
  Status,
  claimPackages,
  completeStage,
  enqueueLockfile,
  extendLeases,
  failTransient,
  getProcessingStatus,
  rejectHeldPackage,
  releaseToCheckpoint,
  resetStuckPackages,
  retryRejected,
  decidePackages,
  type Database,
  type LockfilePackage,
} from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.destroy();
});
beforeEach(async () => {
  await sql`TRUNCATE requests, packages, package_events, audit_log RESTART IDENTITY CASCADE`.execute(t.db);
});

function pkgs(n: number, prefix = 'pkg'): LockfilePackage[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix}-${i}`,
    version: '1.0.0',
    integrity: null,
    resolved: null,
    license: 'MIT',
    dev: false,
    optional: false,
  }));
}

async function enqueue(packages: LockfilePackage[]) {
  return enqueueLockfile(t.db, {
    applicationName: 'app',
    applicationVersion: '1.0.0',
    requestorId: null,
    actor: 'tester',
    lockfile: { lockfileVersion: 3 },
    lockfileVersion: 3,
    packages,
  });
}

async function statusOf(packageId: number) {
  return t.db.selectFrom('package_status').selectAll().where('package_id', '=', packageId).executeTakeFirstOrThrow();
}

describe('enqueueLockfile', () => {
  it('queues new packages as Requested and links a known name@version as existing without re-queueing it', async () => {
    const first = await enqueue(pkgs(3));
    expect(first).toMatchObject({ packageCount: 3, newCount: 3, existingCount: 0 });
    const [claimed] = await claimPackages(t.db, { workerId: 'w1', limit: 1, leaseSeconds: 30 });
    const second = await enqueue([...pkgs(3), ...pkgs(2, 'other')]);
    expect(second).toMatchObject({ packageCount: 5, newCount: 2, existingCount: 3 });
    const links = await t.db
      .selectFrom('request_packages')
      .select(['link', (eb) => eb.fn.countAll<number>().as('n')])
      .where('request_id', '=', second.requestId)
      .groupBy('link')
      .execute();
    expect(Object.fromEntries(links.map((l) => [l.link, Number(l.n)]))).toEqual({ new: 2, existing: 3 });
    // The claimed package kept its work status: linking did not reset it.
    expect((await statusOf(claimed!.packageId)).status).toBe(Status.CheckingLicence);
    const events = await t.db
      .selectFrom('package_events')
      .select('package_id')
      .where('to_status', '=', Status.Requested)
      .execute();
    expect(events).toHaveLength(5);
  });

  it('merges duplicate name@version entries of one lockfile', async () => {
    const res = await enqueue([...pkgs(2), ...pkgs(2)]);
    expect(res).toMatchObject({ packageCount: 2, newCount: 2 });
  });

  it('records a 2,000-package lockfile in a bounded number of statements', async () => {
    const queries: string[] = [];
    const counted = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: t.pool }),
      log: (e) => {
        if (e.level === 'query') queries.push(e.query.sql);
      },
    });
    const res = await enqueueLockfile(counted, {
      applicationName: 'big',
      applicationVersion: '1.0.0',
      requestorId: null,
      actor: 'tester',
      lockfile: {},
      lockfileVersion: 3,
      packages: pkgs(2000),
    });
    expect(res.newCount).toBe(2000);
    // BEGIN, request insert, package insert+queue+events, links+counts, NOTIFY, COMMIT: whatever the size.
    expect(queries.map((q) => q.trim().split(/\s+/)[0]!.toLowerCase())).toEqual([
      'begin',
      'insert',
      'with',
      'with',
      'select',
      'commit',
    ]);
    console.log(`enqueue of 2,000 packages: ${queries.length} statements including BEGIN and COMMIT`);
  });
});

describe('claimPackages', () => {
  it('gives every package to exactly one of 8 concurrent claimers over 1,000 packages', async () => {
    await enqueue(pkgs(1000));
    const seen = new Map<number, string>();
    const dupes: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const workerId = `w${w}`;
        for (;;) {
          const got = await claimPackages(t.db, { workerId, limit: 7, leaseSeconds: 60 });
          if (got.length === 0) break;
          for (const p of got) {
            if (seen.has(p.packageId)) dupes.push(p.packageId);
            seen.set(p.packageId, workerId);
          }
        }
      }),
    );
    expect(dupes).toEqual([]);
    expect(seen.size).toBe(1000);
    const { counts } = await getProcessingStatus(t.db);
    expect(counts).toEqual({ [Status.CheckingLicence]: 1000 });
    expect(new Set(seen.values()).size).toBeGreaterThan(1);
  });

  it('claims in priority, then run_at, then id order and counts the attempt', async () => {
    await enqueue(pkgs(3));
    await sql`UPDATE package_status SET priority = -1 WHERE package_id = 3`.execute(t.db);
    await sql`UPDATE package_status SET run_at = now() - interval '1 minute' WHERE package_id = 2`.execute(t.db);
    const got = await claimPackages(t.db, { workerId: 'w', limit: 3, leaseSeconds: 30 });
    expect(got.map((p) => p.packageId)).toEqual([3, 2, 1]);
    expect(
      got.every((p) => p.attempts === 1 && p.status === Status.CheckingLicence && p.checkpoint === Status.Requested),
    ).toBe(true);
  });

  it('does not claim a package whose run_at is in the future', async () => {
    await enqueue(pkgs(2));
    await sql`UPDATE package_status SET run_at = now() + interval '1 hour' WHERE package_id = 1`.execute(t.db);
    const got = await claimPackages(t.db, { workerId: 'w', limit: 5, leaseSeconds: 30 });
    expect(got.map((p) => p.packageId)).toEqual([2]);
  });
});

describe('fenced transitions', () => {
  it('writes nothing for a worker whose lease was taken over', async () => {
    await enqueue(pkgs(1));
    const [p] = await claimPackages(t.db, { workerId: 'old', limit: 1, leaseSeconds: 30 });
    await sql`UPDATE package_status SET locked_until = now() - interval '1 second'`.execute(t.db);
    const reset = await resetStuckPackages(t.db, { stuckTimeoutMinutes: 30, maxAttempts: 5 });
    expect(reset).toEqual([
      { packageId: p!.packageId, from: Status.CheckingLicence, to: Status.Requested, why: 'lease_expired' },
    ]);
    const [again] = await claimPackages(t.db, { workerId: 'new', limit: 1, leaseSeconds: 30 });
    expect(again!.attempts).toBe(2);

    const target = { packageId: p!.packageId, workerId: 'old', work: Status.CheckingLicence };
    expect(await completeStage(t.db, { ...target, to: Status.LicenceChecked })).toBe(false);
    expect(await rejectHeldPackage(t.db, { ...target, kind: 'policy', reason: 'x' })).toBe(false);
    expect(await failTransient(t.db, { ...target, error: 'x', maxAttempts: 5, backoffBaseMs: 1000 })).toBe('lost');
    expect(await extendLeases(t.db, { workerId: 'old', packageIds: [p!.packageId], leaseSeconds: 30 })).toEqual([]);
    expect(await releaseToCheckpoint(t.db, { workerId: 'old', chargeAttempt: false, reason: 'x' })).toEqual([]);
    const row = await statusOf(p!.packageId);
    expect(row).toMatchObject({ status: Status.CheckingLicence, locked_by: 'new', stuck_resets: 1 });

    expect(
      await completeStage(t.db, {
        ...target,
        workerId: 'new',
        to: Status.LicenceChecked,
        patch: { license_tier: 'allowed', license_flags: ['x'] },
      }),
    ).toBe(true);
    expect(await statusOf(p!.packageId)).toMatchObject({
      status: Status.LicenceChecked,
      locked_by: null,
      attempts: 0,
      license_tier: 'allowed',
      license_flags: ['x'],
    });
  });

  it('extends the lease only for packages still held', async () => {
    await enqueue(pkgs(2));
    const got = await claimPackages(t.db, { workerId: 'w', limit: 2, leaseSeconds: 5 });
    const before = await statusOf(got[0]!.packageId);
    const held = await extendLeases(t.db, {
      workerId: 'w',
      packageIds: got.map((p) => p.packageId),
      leaseSeconds: 600,
    });
    expect(held.sort()).toEqual(got.map((p) => p.packageId).sort());
    const after = await statusOf(got[0]!.packageId);
    expect(after.locked_until!.getTime()).toBeGreaterThan(before.locked_until!.getTime() + 500_000);
  });

  it('records the whole path when a stage completes through intermediate statuses', async () => {
    await enqueue(pkgs(1));
    await sql`UPDATE package_status SET status = 'Downloaded'`.execute(t.db);
    const [p] = await claimPackages(t.db, { workerId: 'w', limit: 1, leaseSeconds: 30 });
    expect(p!.status).toBe(Status.SecurityScanning);
    await completeStage(t.db, {
      packageId: p!.packageId,
      workerId: 'w',
      work: p!.status,
      via: [Status.SecurityScanned],
      to: Status.PendingApproval,
      reason: 'clean',
    });
    const ev = await t.db.selectFrom('package_events').select(['from_status', 'to_status']).orderBy('id').execute();
    expect(ev.slice(-3)).toEqual([
      { from_status: Status.Downloaded, to_status: Status.SecurityScanning },
      { from_status: Status.SecurityScanning, to_status: Status.SecurityScanned },
      { from_status: Status.SecurityScanned, to_status: Status.PendingApproval },
    ]);
  });
});

describe('failures and backoff', () => {
  it('backs off exponentially and rejects with kind error after max attempts', async () => {
    await enqueue(pkgs(1));
    const runAts: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await sql`UPDATE package_status SET run_at = now()`.execute(t.db);
      const [p] = await claimPackages(t.db, { workerId: 'w', limit: 1, leaseSeconds: 30 });
      expect(p!.attempts).toBe(attempt);
      const before = Date.now();
      const r = await failTransient(t.db, {
        packageId: p!.packageId,
        workerId: 'w',
        work: p!.status,
        error: 'registry answered 503',
        maxAttempts: 3,
        backoffBaseMs: 10_000,
      });
      const row = await statusOf(p!.packageId);
      if (attempt < 3) {
        expect(r).toBe('retry');
        expect(row).toMatchObject({ status: Status.Requested, last_error: 'registry answered 503', locked_by: null });
        runAts.push(row.run_at.getTime() - before);
      } else {
        expect(r).toBe('rejected');
        expect(row).toMatchObject({
          status: Status.Rejected,
          rejection_kind: 'error',
          rejected_from: Status.Requested,
        });
        expect(row.rejection_reason).toContain('gave up after 3 attempts');
      }
    }
    // 10 s then 20 s (allowing for clock differences between test and database).
    expect(runAts[0]).toBeGreaterThan(8_000);
    expect(runAts[1]).toBeGreaterThan(18_000);
    expect(runAts[1]).toBeLessThan(22_000);
  });

  it('manual retry re-queues error rejections at their checkpoint but never human rejections', async () => {
    const req = await enqueue(pkgs(3));
    await sql`UPDATE package_status SET status = 'Downloaded'`.execute(t.db);
    const claimed = await claimPackages(t.db, { workerId: 'w', limit: 3, leaseSeconds: 30 });
    const [a, b, c] = claimed;
    await rejectHeldPackage(t.db, {
      packageId: a!.packageId,
      workerId: 'w',
      work: a!.status,
      kind: 'error',
      reason: 'scanner crashed',
    });
    await rejectHeldPackage(t.db, {
      packageId: b!.packageId,
      workerId: 'w',
      work: b!.status,
      kind: 'policy',
      reason: 'malware',
    });
    await completeStage(t.db, {
      packageId: c!.packageId,
      workerId: 'w',
      work: c!.status,
      via: [Status.SecurityScanned],
      to: Status.PendingApproval,
    });
    const [u] = await sql<{
      id: number;
    }>`INSERT INTO users (username, password_hash, role) VALUES ('ap', 'x', 'approver') RETURNING id`
      .execute(t.db)
      .then((r) => r.rows);
    const decided = await decidePackages(t.db, {
      packageIds: [c!.packageId, a!.packageId],
      decision: 'reject',
      userId: u!.id,
      username: 'ap',
      reason: 'not needed',
    });
    expect(decided.map((d) => d.outcome)).toEqual(['rejected', 'skipped']);

    expect(await retryRejected(t.db, { requestId: req.requestId, actor: 'admin' })).toEqual([a!.packageId]);
    expect((await statusOf(a!.packageId)).status).toBe(Status.Downloaded);
    expect(await retryRejected(t.db, { includePolicy: true, actor: 'admin' })).toEqual([b!.packageId]);
    expect(await statusOf(c!.packageId)).toMatchObject({ status: Status.Rejected, rejection_kind: 'approver' });
    const audit = await t.db.selectFrom('audit_log').selectAll().execute();
    expect(audit).toHaveLength(1);
  });
});

describe('stuck sweep and release', () => {
  it('resets a package stuck longer than the timeout even while its lease is being extended', async () => {
    await enqueue(pkgs(1));
    const [p] = await claimPackages(t.db, { workerId: 'hung', limit: 1, leaseSeconds: 3600 });
    expect(await resetStuckPackages(t.db, { stuckTimeoutMinutes: 30, maxAttempts: 5 })).toEqual([]);
    await sql`UPDATE package_status SET stage_started_at = now() - interval '31 minutes'`.execute(t.db);
    const reset = await resetStuckPackages(t.db, { stuckTimeoutMinutes: 30, maxAttempts: 5 });
    expect(reset).toEqual([
      { packageId: p!.packageId, from: Status.CheckingLicence, to: Status.Requested, why: 'stuck' },
    ]);
    const s = await getProcessingStatus(t.db);
    expect(s.stuckResets).toBe(1);
  });

  it('rejects a package whose worker keeps dying once it has used its attempts', async () => {
    await enqueue(pkgs(1));
    await claimPackages(t.db, { workerId: 'w', limit: 1, leaseSeconds: 30 });
    await sql`UPDATE package_status SET attempts = 5, locked_until = now() - interval '1 second'`.execute(t.db);
    const [r] = await resetStuckPackages(t.db, { stuckTimeoutMinutes: 30, maxAttempts: 5 });
    expect(r!.to).toBe(Status.Rejected);
    expect(await statusOf(1)).toMatchObject({ rejection_kind: 'error', rejected_from: Status.Requested });
  });

  it('releases held packages to their checkpoint without charging the attempt', async () => {
    await enqueue(pkgs(2));
    await claimPackages(t.db, { workerId: 'w', limit: 2, leaseSeconds: 30 });
    const released = await releaseToCheckpoint(t.db, { workerId: 'w', chargeAttempt: false, reason: 'shutdown' });
    expect(released.sort()).toEqual([1, 2]);
    expect(await statusOf(1)).toMatchObject({ status: Status.Requested, attempts: 0, locked_by: null });
  });
});
