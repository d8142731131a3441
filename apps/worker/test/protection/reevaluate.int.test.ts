import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reevaluateAdvisories, severitiesFrom, upsertAdvisories, type AdvisoryInput, type DB } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { isAffected, validateRange, type OsvEvent, type OsvRange } from '../../src/scan/osv.js';

let t: TestDatabase;
const QUARANTINE = severitiesFrom('high');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PRE = ['', '', '', '-alpha', '-alpha.1', '-alpha.beta', '-beta.2', '-beta.11', '-rc.1', '-0', '-1a'];
function randomVersion(r: () => number): string {
  const n = () => Math.floor(r() * 4);
  const big = r() < 0.1 ? 10 + Math.floor(r() * 3) : n();
  return `${n()}.${big}.${n()}${PRE[Math.floor(r() * PRE.length)]}`;
}

/** A random range that passes the importer's validation: introduced events, then fixed or last_affected, maybe a limit. */
function randomRange(r: () => number): OsvRange {
  const events: OsvEvent[] = [];
  const closer = r() < 0.5 ? 'fixed' : 'last_affected';
  const count = 1 + Math.floor(r() * 4);
  for (let i = 0; i < count; i++) {
    events.push({ introduced: r() < 0.3 ? '0' : randomVersion(r) });
    if (r() < 0.8) events.push({ [closer]: randomVersion(r) } as OsvEvent);
  }
  if (r() < 0.2) events.push({ limit: r() < 0.3 ? '*' : randomVersion(r) });
  const range: OsvRange = { type: r() < 0.5 ? 'SEMVER' : 'ECOSYSTEM', events };
  expect(validateRange(range)).toBeNull();
  return range;
}

async function addVersion(db: DB, name: string, version: string, status = 'Published'): Promise<number> {
  const { id } = await db
    .insertInto('packages')
    .values({ name, version, integrity: null, resolved: null, declared_license: 'MIT' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db.insertInto('package_status').values({ package_id: id, status, license_flags: [] }).execute();
  return id;
}

function advisory(
  id: string,
  name: string,
  over: Partial<AdvisoryInput> & { ranges?: OsvRange[]; versions?: string[] },
) {
  return {
    id,
    modified: over.modified ?? new Date('2026-01-01T00:00:00Z'),
    published: null,
    withdrawn: over.withdrawn ?? null,
    aliases: [],
    summary: over.summary ?? `${id} summary`,
    severity: over.severity ?? 'medium',
    cvssVector: null,
    malware: over.malware ?? false,
    raw: { id },
    affected: [{ packageName: name, ranges: over.ranges ?? [], versions: over.versions ?? [], fixedVersions: [] }],
  } satisfies AdvisoryInput;
}

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.destroy();
});

describe('set-based re-evaluation', () => {
  it('orders versions in SQL exactly as node-semver does', async () => {
    const r = rng(7);
    const versions = [...new Set(Array.from({ length: 300 }, () => randomVersion(r)))];
    const ids = new Map<string, number>();
    for (const v of versions) ids.set(v, await addVersion(t.db, 'order-probe', v));
    const rows = await t.db
      .selectFrom('packages')
      .select(['version'])
      .where('name', '=', 'order-probe')
      .orderBy('version_key')
      .orderBy('id')
      .execute();
    // Equal precedence (none here besides build metadata, which is not generated) keeps insertion order.
    expect(rows.map((x) => x.version)).toEqual([...versions].sort(semver.compare));
    const invalid = await t.db
      .insertInto('packages')
      .values({ name: 'order-probe', version: '1.0', integrity: null, resolved: null, declared_license: null })
      .returning('version_key')
      .executeTakeFirstOrThrow();
    expect(invalid.version_key).toBeNull();
  });

  it('matches every version exactly as the OSV evaluation in the scanner says, for random ranges and lists', async () => {
    const r = rng(42);
    const versions = [...new Set(Array.from({ length: 120 }, () => randomVersion(r)))];
    const pkgIds = new Map<number, string>();
    for (const v of versions) pkgIds.set(await addVersion(t.db, 'range-probe', v), v);
    const advisories: AdvisoryInput[] = [];
    for (let i = 0; i < 150; i++) {
      const ranges = Array.from({ length: 1 + Math.floor(r() * 2) }, () => randomRange(r));
      const listed = r() < 0.3 ? [randomVersion(r), randomVersion(r)] : [];
      advisories.push(advisory(`GHSA-prop-${i}`, 'range-probe', { ranges, versions: listed }));
    }
    await upsertAdvisories(t.db, advisories);
    const res = await reevaluateAdvisories(
      t.db,
      advisories.map((a) => a.id),
      { quarantineSeverities: QUARANTINE },
    );
    const found = await t.db
      .selectFrom('advisory_findings')
      .select(['package_id', 'advisory_id'])
      .where('advisory_id', 'like', 'GHSA-prop-%')
      .execute();
    const got = new Set(found.map((f) => `${f.advisory_id} ${pkgIds.get(f.package_id)}`));
    const want = new Set<string>();
    for (const a of advisories) {
      const spec = a.affected[0]! as { ranges: OsvRange[]; versions: string[] };
      for (const v of versions) if (isAffected(v, spec)) want.add(`${a.id} ${v}`);
    }
    expect(want.size).toBeGreaterThan(500);
    expect([...got].sort()).toEqual([...want].sort());
    expect(res.matched).toBe(want.size);
    expect(res.newlyAffected).toBe(want.size);
  });

  it('quarantines for malware and high or critical, flags otherwise, and leaves rejected and unfinished versions alone', async () => {
    const pub = await addVersion(t.db, 'action-probe', '1.0.0');
    const approved = await addVersion(t.db, 'action-probe', '1.1.0', 'Approved');
    await addVersion(t.db, 'action-probe', '1.2.0', 'Rejected');
    await addVersion(t.db, 'action-probe', '1.3.0', 'Downloaded');
    const all: OsvRange[] = [{ type: 'SEMVER', events: [{ introduced: '0' }] }];
    await upsertAdvisories(t.db, [
      advisory('MAL-2026-1', 'action-probe', { ranges: all, malware: true, severity: 'critical' }),
      advisory('GHSA-high-1', 'action-probe', { ranges: all, severity: 'high' }),
      advisory('GHSA-low-1', 'action-probe', { ranges: all, severity: 'low' }),
    ]);
    const res = await reevaluateAdvisories(t.db, ['MAL-2026-1', 'GHSA-high-1', 'GHSA-low-1'], {
      quarantineSeverities: QUARANTINE,
    });
    expect(res).toMatchObject({ matched: 6, newlyAffected: 6, quarantined: 4, resolved: 0 });
    expect(new Set(res.packageIds)).toEqual(new Set([pub, approved]));
    const rows = await t.db
      .selectFrom('advisory_findings')
      .select(['package_id', 'advisory_id', 'action'])
      .where('package_id', 'in', [pub, approved])
      .orderBy('advisory_id')
      .orderBy('package_id')
      .execute();
    expect(rows.filter((x) => x.package_id === pub).map((x) => [x.advisory_id, x.action])).toEqual([
      ['GHSA-high-1', 'quarantine'],
      ['GHSA-low-1', 'flag'],
      ['MAL-2026-1', 'quarantine'],
    ]);
  });

  it('is idempotent, resolves a withdrawn advisory, reopens it, and writes one webhook event per newly affected version', async () => {
    const v1 = await addVersion(t.db, 'event-probe', '2.0.0');
    const v2 = await addVersion(t.db, 'event-probe', '2.1.0');
    await t.db
      .insertInto('webhooks')
      .values({ url: 'http://127.0.0.1:9/hook', secret: 's'.repeat(32), events: ['package.newly_affected'] })
      .execute();
    const ranges: OsvRange[] = [{ type: 'SEMVER', events: [{ introduced: '2.0.0' }, { fixed: '2.1.0' }] }];
    const first = advisory('GHSA-evnt-1', 'event-probe', { ranges, severity: 'critical' });
    await upsertAdvisories(t.db, [first]);
    const opts = { quarantineSeverities: QUARANTINE };
    expect(await reevaluateAdvisories(t.db, [first.id], opts)).toMatchObject({ newlyAffected: 1, quarantined: 1 });
    // The same advisory again: nothing new, no second event.
    expect(await reevaluateAdvisories(t.db, [first.id], opts)).toMatchObject({ matched: 1, newlyAffected: 0 });
    const events = await t.db
      .selectFrom('webhook_events')
      .select(['type', 'package_id', 'payload'])
      .where('type', '=', 'package.newly_affected')
      .execute();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      package_id: v1,
      payload: {
        package: { name: 'event-probe', version: '2.0.0' },
        advisory: { id: 'GHSA-evnt-1', severity: 'critical' },
        action: 'quarantine',
        quarantined: true,
      },
    });
    expect(await t.db.selectFrom('webhook_deliveries').select('id').execute()).toHaveLength(1);

    // A newer record widens the range to 2.1.0: one more version affected.
    const wider = advisory('GHSA-evnt-1', 'event-probe', {
      ranges: [{ type: 'SEMVER', events: [{ introduced: '2.0.0' }, { last_affected: '2.1.0' }] }],
      severity: 'critical',
      modified: new Date('2026-02-01T00:00:00Z'),
    });
    expect((await upsertAdvisories(t.db, [wider])).written).toEqual(['GHSA-evnt-1']);
    const widened = await reevaluateAdvisories(t.db, [wider.id], opts);
    expect(widened).toMatchObject({ matched: 2, newlyAffected: 1, packageIds: [v2] });

    // Withdrawn: both findings resolved, and the version is no longer held.
    const withdrawn = { ...wider, withdrawn: new Date(), modified: new Date('2026-03-01T00:00:00Z') };
    await upsertAdvisories(t.db, [withdrawn]);
    expect(await reevaluateAdvisories(t.db, [wider.id], opts)).toMatchObject({ matched: 0, resolved: 2 });
    const resolved = await t.db
      .selectFrom('advisory_findings')
      .select(['resolved_reason'])
      .where('advisory_id', '=', 'GHSA-evnt-1')
      .execute();
    expect(resolved.map((x) => x.resolved_reason)).toEqual([
      'the advisory was withdrawn',
      'the advisory was withdrawn',
    ]);

    // Un-withdrawn by a newer record: affected again, and that is news.
    await upsertAdvisories(t.db, [{ ...wider, modified: new Date('2026-04-01T00:00:00Z') }]);
    expect(await reevaluateAdvisories(t.db, [wider.id], opts)).toMatchObject({ matched: 2, newlyAffected: 2 });
    expect(
      await t.db.selectFrom('webhook_events').select('id').where('type', '=', 'package.newly_affected').execute(),
    ).toHaveLength(4);
  });
});
