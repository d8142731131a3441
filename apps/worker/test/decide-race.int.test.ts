import { sql } from 'kysely';
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
      // A short lease makes the sweep (and the re-evaluation after each policy change) run every 0.5 s.
      WORKER_LEASE_SECONDS: '2',
      POLICY_REEVALUATION_BATCH: '7',
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

/** True when every package is decided and every held one was decided under the latest change. */
async function settled(ids: number[]): Promise<boolean> {
  const r = await sql<{ n: string }>`
    SELECT count(*) AS n FROM package_status
    WHERE package_id = ANY(${ids}::bigint[])
      AND (policy_version IS NULL OR status IN (${Status.SecurityScanned}, ${Status.ApplyingPolicy})
           OR (status = ${Status.PendingApproval}
               AND policy_generation < (SELECT max(generation) FROM policy_changes)))
  `.execute(t.db);
  return Number(r.rows[0]!.n) === 0;
}

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
  it('decides each package once per change, each time by one version with that version’s verdict', async () => {
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
    await waitFor(() => settled(all), 60_000, 'every package decided under the latest change');

    const { versions } = await listPolicyVersions(t.db, { limit: 100, offset: 0 });
    const docs = new Map(versions.map((v) => [v.version, v.document]));
    const inputs = await policyInputs(t.db, all);
    const events = await t.db
      .selectFrom('package_events')
      .select(['package_id', 'from_status', 'to_status', 'reason', 'details'])
      .where('package_id', 'in', all)
      .where((eb) =>
        eb.or([eb('from_status', '=', Status.ApplyingPolicy), eb('to_status', '=', Status.ApplyingPolicy)]),
      )
      .orderBy('id')
      .execute();
    const used = new Set<number>();
    const requeued = new Set<number>();
    for (const id of all) {
      const mine = events.filter((e) => e.package_id === id);
      const claims = mine.filter((e) => e.to_status === Status.ApplyingPolicy);
      const decisions = mine.filter((e) => e.from_status === Status.ApplyingPolicy);
      // Every claim ends in exactly one decision: nothing decided twice in one evaluation, nothing lost.
      expect(decisions).toHaveLength(claims.length);
      const generations = decisions.map((e) => (e.details as { generation: number }).generation);
      expect(new Set(generations).size).toBe(generations.length);
      if (decisions.length > 1) requeued.add(id);
      for (const e of decisions) {
        const v = (e.details as { policyVersion: number }).policyVersion;
        used.add(v);
        const verdict = evaluatePolicy({ version: v, document: docs.get(v)! }, inputs.get(id)!, new Date());
        expect({ id, v, to: e.to_status, reason: e.reason }).toEqual({
          id,
          v,
          to: statusForOutcome(verdict.outcome),
          reason: `policy v${v}: ${verdict.reason}`,
        });
      }
    }
    // Held packages were evaluated again after later changes (APPROVE_ALL let them through).
    expect(requeued.size).toBeGreaterThan(0);
    expect(used.size).toBeGreaterThan(1);
  });
});
