import { sql } from 'kysely';
import { reevaluateAdvisories, severitiesFrom, upsertAdvisories, type AdvisoryInput } from '@spm/db';
import type { DatabaseFactory } from './db.js';
import { round } from './stats.js';

export interface B9Result {
  versions: number;
  packageNames: number;
  changedAdvisories: number;
  backgroundAdvisories: number;
  matched: number;
  quarantined: number;
  /** The first re-evaluation: every finding is new (inserts, webhook events). */
  firstRunMs: number;
  /** The same advisories again (an export re-imported with newer `modified`): every finding updated, none new. */
  rerunMs: number;
  /** Whether a webhook endpoint asked for package.newly_affected (one event and delivery per new finding). */
  webhook: boolean;
  /** The matching join alone (a count, nothing written): what the writes add is the rest. */
  matchOnlyMs: number;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * B9: set-based re-evaluation. 100,000 versions in Published (50 popular packages with 500 versions
 * each, the rest five versions per name), a background of other advisories, and 500 changed
 * advisories (half on the popular packages with wide ranges, half on small ones; some with explicit
 * version lists, some malware) matched against all of them by reevaluateAdvisories, with a webhook
 * endpoint registered so the newly_affected events are written too. Times the first run (all
 * findings new) and a second run over the same advisories.
 */
export async function benchReevaluation(
  factory: DatabaseFactory,
  opts: { versions: number; advisories: number; background: number; webhook: boolean; log: (s: string) => void },
): Promise<B9Result> {
  const bdb = await factory.fresh('b9');
  const { db } = bdb;
  try {
    const popular = 50;
    const perPopular = 500;
    const popularVersions = popular * perPopular;
    const smallNames = Math.max(1, Math.ceil((opts.versions - popularVersions) / 5));
    // Versions are generated in SQL: the setup is not what is measured.
    await sql`
      WITH v AS (
        SELECT 'popular-' || (i / ${perPopular}) AS name,
               ((i % ${perPopular}) / 100) || '.' || ((i % 100) / 10) || '.' || (i % 10) AS version
          FROM generate_series(0, ${popularVersions - 1}) i
        UNION ALL
        SELECT 'small-' || (i / 5), '1.' || (i % 5) || '.0'
          FROM generate_series(0, ${opts.versions - popularVersions - 1}) i
      ), p AS (
        INSERT INTO packages (name, version, integrity, resolved, declared_license)
        SELECT name, version, NULL, NULL, 'MIT' FROM v RETURNING id
      )
      INSERT INTO package_status (package_id, status, published_at, published_to)
      SELECT id, 'Published', now(), 'builtin' FROM p
    `.execute(db);
    await sql`ANALYZE packages; ANALYZE package_status`.execute(db);
    if (opts.webhook)
      await db
        .insertInto('webhooks')
        .values({ url: 'http://127.0.0.1:9/hook', secret: 'x'.repeat(32), events: ['package.newly_affected'] })
        .execute();

    const r = rng(9);
    const ver = (maxMajor: number) => `${Math.floor(r() * maxMajor)}.${Math.floor(r() * 10)}.${Math.floor(r() * 10)}`;
    const make = (id: string, name: string, big: boolean, modified: Date): AdvisoryInput => {
      const lo = big ? ver(5) : `1.${Math.floor(r() * 3)}.0`;
      const ranges = [
        {
          type: 'SEMVER',
          events: r() < 0.2 ? [{ introduced: '0' }] : [{ introduced: lo }, { fixed: big ? ver(5) : '1.4.0' }],
        },
      ];
      return {
        id,
        modified,
        published: null,
        withdrawn: null,
        aliases: [],
        summary: `${id} in ${name}`,
        severity: ['critical', 'high', 'medium', 'low'][Math.floor(r() * 4)]!,
        cvssVector: null,
        malware: r() < 0.05,
        raw: { id },
        affected: [{ packageName: name, ranges, versions: r() < 0.2 ? [ver(5), '1.3.0'] : [], fixedVersions: [] }],
      };
    };
    const background = Array.from({ length: opts.background }, (_, i) =>
      make(`GHSA-bg-${i}`, `small-${Math.floor(r() * smallNames)}`, false, new Date('2026-01-01')),
    );
    await upsertAdvisories(db, background);
    const first = Array.from({ length: opts.advisories }, (_, i) => {
      const big = i % 2 === 0;
      const name = big ? `popular-${Math.floor(r() * popular)}` : `small-${Math.floor(r() * smallNames)}`;
      return make(`GHSA-b9-${i}`, name, big, new Date('2026-02-01'));
    });
    const written = (await upsertAdvisories(db, first)).written;
    await sql`ANALYZE advisory_intervals; ANALYZE advisories`.execute(db);
    const q = severitiesFrom('high');

    opts.log(`  ${opts.versions} published versions, ${written.length} changed advisories: re-evaluating`);
    let t0 = performance.now();
    // The same join reevaluateAdvisories runs, counted instead of written.
    await sql`
      SELECT count(DISTINCT (p.id, ai.advisory_id))
        FROM advisory_intervals ai
        JOIN advisories a ON a.id = ai.advisory_id AND a.withdrawn IS NULL
        JOIN packages p ON p.name = ai.package_name AND p.version_key >= ai.lo_key
             AND (ai.hi_key IS NULL OR p.version_key < ai.hi_key OR (ai.hi_inclusive AND p.version_key = ai.hi_key))
        JOIN package_status ps ON ps.package_id = p.id AND ps.status = 'Published'
       WHERE ai.advisory_id = ANY (${written}::text[])
    `.execute(db);
    const matchOnlyMs = performance.now() - t0;
    opts.log(`  matching join alone: ${round(matchOnlyMs, 0)} ms`);
    t0 = performance.now();
    const res = await reevaluateAdvisories(db, written, { quarantineSeverities: q });
    const firstRunMs = performance.now() - t0;
    opts.log(`  first run: ${round(firstRunMs, 0)} ms, ${res.matched} matches, ${res.quarantined} quarantined`);

    const again = (
      await upsertAdvisories(
        db,
        first.map((a) => ({ ...a, modified: new Date('2026-03-01') })),
      )
    ).written;
    t0 = performance.now();
    const res2 = await reevaluateAdvisories(db, again, { quarantineSeverities: q });
    const rerunMs = performance.now() - t0;
    opts.log(`  re-run: ${round(rerunMs, 0)} ms, ${res2.matched} matches, ${res2.newlyAffected} new`);
    return {
      versions: opts.versions,
      packageNames: popular + smallNames,
      changedAdvisories: written.length,
      webhook: opts.webhook,
      backgroundAdvisories: opts.background,
      matched: res.matched,
      quarantined: res.quarantined,
      firstRunMs: round(firstRunMs, 0),
      rerunMs: round(rerunMs, 0),
      matchOnlyMs: round(matchOnlyMs, 0),
    };
  } finally {
    await bdb.destroy();
  }
}
