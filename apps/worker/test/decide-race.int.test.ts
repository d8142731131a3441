import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPROVE_ALL_POLICY,
  createPolicyVersion,
  createUser,
  currentPolicy,
  evaluatePolicy,
  listPolicyVersions,
  policyInputs,
  statusForOutcome,
  Status,
  type PolicyDocument,
} from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { loadConfig } from '../src/config.js';
import { PackageWorker } from '../src/package-worker.js';
import { atScanned, hoursBefore } from './support/policy.js';
import { waitFor } from './support/worker.js';

const HOLD_ALL: PolicyDocument = {
  rules: [{ id: 'everything', action: 'hold', when: {} }],
  default_action: 'hold',
  cooldown: { minimum_age_hours: 0, exceptions: [] },
};

let t: TestDatabase;
let worker: PackageWorker;
let adminId: number;

beforeAll(async () => {
  t = await createTestDatabase();
  adminId = (await createUser(t.db, { username: 'root', password: 'correct horse battery', role: 'admin' })).id;
  await currentPolicy(t.db);
  const config = loadConfig(
    {
      DATABASE_URL: t.url,
      SOURCE_REGISTRY_URL: 'http://registry.example.test/',
      WORKER_STAGES: 'decide',
      WORKER_SLEEP_INTERVAL: '0.1',
      WORKER_MAX_PACKAGES_PER_CYCLE: '4',
      LOG_LEVEL: 'silent',
      LOG_FORMAT: 'json',
    },
    { npmRegistry: () => null },
  );
  worker = new PackageWorker({ config, logger: pino({ level: 'silent' }) });
  await worker.start();
});

afterAll(async () => {
  await worker?.shutdown();
  await t?.destroy();
});

async function decidedCount(ids: number[]): Promise<number> {
  const r = await t.db
    .selectFrom('package_status')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('package_id', 'in', ids)
    .where('policy_version', 'is not', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('policy changes while packages are being decided', () => {
  it('decides each package once, by one version, with that version’s verdict', async () => {
    const all: number[] = [];
    const published = hoursBefore(new Date(), 24 * 30);
    for (let round = 0; round < 4; round++) {
      const ids: number[] = [];
      for (let i = 0; i < 30; i++)
        ids.push(await atScanned(t.db, { name: `race-${round}-${i}`, publishedAt: published }));
      all.push(...ids);
      // Some of this round are decided by the version in force, the rest race the change.
      await waitFor(async () => (await decidedCount(ids)) > 0, 20_000, `round ${round} started`);
      await createPolicyVersion(t.db, {
        document: round % 2 === 0 ? APPROVE_ALL_POLICY : HOLD_ALL,
        comment: `round ${round}`,
        userId: adminId,
        username: 'root',
      });
    }
    await waitFor(async () => (await decidedCount(all)) === all.length, 30_000, 'every package decided');

    const { versions } = await listPolicyVersions(t.db, { limit: 100, offset: 0 });
    const docs = new Map(versions.map((v) => [v.version, v.document]));
    const inputs = await policyInputs(t.db, all);
    const rows = await t.db
      .selectFrom('package_status')
      .select(['package_id', 'status', 'policy_version', 'policy_decision'])
      .where('package_id', 'in', all)
      .execute();
    const events = await t.db
      .selectFrom('package_events')
      .select(['package_id', 'from_status', 'to_status', 'reason'])
      .where('package_id', 'in', all)
      .where((eb) =>
        eb.or([eb('from_status', '=', Status.ApplyingPolicy), eb('to_status', '=', Status.ApplyingPolicy)]),
      )
      .execute();
    const used = new Set<number>();
    for (const r of rows) {
      const mine = events.filter((e) => e.package_id === r.package_id);
      expect(mine.filter((e) => e.to_status === Status.ApplyingPolicy)).toHaveLength(1);
      const decided = mine.filter((e) => e.from_status === Status.ApplyingPolicy);
      expect(decided).toHaveLength(1);
      const v = r.policy_version!;
      used.add(v);
      expect(decided[0]!.reason).toMatch(new RegExp(`^policy v${v}: `));
      expect((r.policy_decision as { policyVersion: number }).policyVersion).toBe(v);
      // The verdict is the one that version gives this package (none of them depends on the time).
      const verdict = evaluatePolicy({ version: v, document: docs.get(v)! }, inputs.get(r.package_id)!, new Date());
      expect({ id: r.package_id, v, status: r.status, reason: decided[0]!.reason }).toEqual({
        id: r.package_id,
        v,
        status: statusForOutcome(verdict.outcome),
        reason: `policy v${v}: ${verdict.reason}`,
      });
    }
    expect(used.size).toBeGreaterThan(1);
  });
});
