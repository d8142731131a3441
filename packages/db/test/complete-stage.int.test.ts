import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from 'kysely';
import { Status, WAKE_CHANNEL, claimPackages, completeStage, enqueueLockfile } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';

let t: TestDatabase;
let listener: pg.Client;
const notes: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  listener = new pg.Client({ connectionString: t.url });
  await listener.connect();
  listener.on('notification', (m) => notes.push(m.channel));
  await listener.query(`LISTEN "${WAKE_CHANNEL}"`);
});
afterAll(async () => {
  await listener?.end();
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
  const [p] = await claimPackages(t.db, { workerId: 'w', limit: 1, leaseSeconds: 30 });
  return p!;
}

/** Waits until the LISTEN connection has seen everything committed so far (a round trip drains it). */
async function settle() {
  await listener.query('SELECT 1');
  await new Promise((r) => setTimeout(r, 50));
}

describe('completeStage', () => {
  it('wakes listening workers when the package reaches a checkpoint, and records reason and details on the last hop', async () => {
    const p = await claimOne('a');
    await settle();
    notes.length = 0;
    expect(
      await completeStage(t.db, {
        packageId: p.packageId,
        workerId: 'w',
        work: p.status,
        to: Status.LicenceChecked,
        reason: 'MIT',
        details: { tier: 'always_allowed' },
      }),
    ).toBe(true);
    await settle();
    expect(notes).toEqual([WAKE_CHANNEL]);
    const ev = await sql<{ to_status: string; reason: string | null; details: unknown; actor: string }>`
      SELECT to_status, reason, details, actor FROM package_events WHERE package_id = ${p.packageId} ORDER BY id DESC LIMIT 1
    `.execute(t.db);
    expect(ev.rows[0]).toEqual({
      to_status: Status.LicenceChecked,
      reason: 'MIT',
      details: { tier: 'always_allowed' },
      actor: 'w',
    });
  });

  it('sends no wake-up when the package goes to a person (Pending Approval), and nothing at all when the lease is lost', async () => {
    const p = await claimOne('b');
    await sql`UPDATE package_status SET status = ${Status.SecurityScanning} WHERE package_id = ${p.packageId}`.execute(
      t.db,
    );
    await settle();
    notes.length = 0;
    const target = {
      packageId: p.packageId,
      work: Status.SecurityScanning,
      via: [Status.SecurityScanned],
      to: Status.PendingApproval,
    };
    expect(await completeStage(t.db, { ...target, workerId: 'someone-else' })).toBe(false);
    const before = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM package_events WHERE package_id = ${p.packageId}`.execute(t.db);
    expect(await completeStage(t.db, { ...target, workerId: 'w' })).toBe(true);
    const after = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM package_events WHERE package_id = ${p.packageId}`.execute(t.db);
    expect(after.rows[0]!.n - before.rows[0]!.n).toBe(2);
    await settle();
    expect(notes).toEqual([]);
  });
});

describe('completeStage without a wake-up', () => {
  it('sends no NOTIFY when the caller says it will claim the next stage itself', async () => {
    const p = await claimOne('quiet');
    await settle();
    notes.length = 0;
    const ok = await completeStage(t.db, {
      packageId: p.packageId,
      workerId: 'w',
      work: p.status,
      to: Status.LicenceChecked,
      notify: false,
    });
    expect(ok).toBe(true);
    await settle();
    expect(notes).toEqual([]);
    const [next] = await claimPackages(t.db, {
      workerId: 'w',
      limit: 1,
      leaseSeconds: 30,
      checkpoints: [Status.LicenceChecked],
    });
    expect(next).toMatchObject({ packageId: p.packageId, status: Status.Downloading });
  });
});
