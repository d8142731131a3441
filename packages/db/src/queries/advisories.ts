import { sql } from 'kysely';
import type { DB } from '../db.js';
import { storableJson, storableText } from '../outside-text.js';

/** One advisory to store, already validated and reduced to npm packages by the importer. */
export interface AdvisoryInput {
  id: string;
  modified: Date;
  published: Date | null;
  withdrawn: Date | null;
  aliases: string[];
  summary: string | null;
  severity: string | null;
  cvssVector: string | null;
  malware: boolean;
  /** The full OSV record, kept for display and re-processing. */
  raw: unknown;
  affected: Array<{ packageName: string; ranges: unknown; versions: string[]; fixedVersions: string[] }>;
}

export interface UpsertAdvisoriesResult {
  /** Ids inserted or replaced by a newer record. */
  written: string[];
  /** Records not written because the stored copy is as new or newer. */
  unchanged: number;
}

const BATCH = 500;

/**
 * Inserts or replaces advisories by id, set-based (one INSERT … ON CONFLICT per batch of 500, in a
 * transaction with the affected rows). A stored advisory is replaced only by a record with a later
 * `modified` (or an equal one with `force`), so an older export never overwrites newer data.
 * Duplicate ids in the input keep the newest record.
 */
export async function upsertAdvisories(
  db: DB,
  items: AdvisoryInput[],
  opts: { force?: boolean } = {},
): Promise<UpsertAdvisoriesResult> {
  const newest = new Map<string, AdvisoryInput>();
  for (const it of items) {
    const prev = newest.get(it.id);
    if (!prev || prev.modified.getTime() <= it.modified.getTime()) newest.set(it.id, it);
  }
  const unique = [...newest.values()];
  const written: string[] = [];
  for (let i = 0; i < unique.length; i += BATCH) {
    const batch = unique.slice(i, i + BATCH);
    const ids = await db.transaction().execute(async (trx) => {
      const rows = await trx
        .insertInto('advisories')
        .values(
          batch.map((a) => ({
            id: a.id,
            modified: a.modified,
            published: a.published,
            withdrawn: a.withdrawn,
            aliases: a.aliases.map((x) => storableText(x, 200)),
            summary: storableText(a.summary),
            severity: a.severity,
            cvss_vector: storableText(a.cvssVector, 500),
            malware: a.malware,
            raw: storableJson(a.raw)!,
          })),
        )
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet({
              modified: (eb) => eb.ref('excluded.modified'),
              published: (eb) => eb.ref('excluded.published'),
              withdrawn: (eb) => eb.ref('excluded.withdrawn'),
              aliases: (eb) => eb.ref('excluded.aliases'),
              summary: (eb) => eb.ref('excluded.summary'),
              severity: (eb) => eb.ref('excluded.severity'),
              cvss_vector: (eb) => eb.ref('excluded.cvss_vector'),
              malware: (eb) => eb.ref('excluded.malware'),
              raw: (eb) => eb.ref('excluded.raw'),
              imported_at: sql`now()`,
            })
            .where(
              opts.force
                ? sql<boolean>`advisories.modified <= excluded.modified`
                : sql<boolean>`advisories.modified < excluded.modified`,
            ),
        )
        .returning('id')
        .execute();
      const done = rows.map((r) => r.id);
      if (done.length === 0) return done;
      await trx.deleteFrom('advisory_affected').where('advisory_id', 'in', done).execute();
      const keep = new Set(done);
      const affected = batch
        .filter((a) => keep.has(a.id))
        .flatMap((a) =>
          a.affected.map((x) => ({
            advisory_id: a.id,
            package_name: storableText(x.packageName, 214),
            ranges: storableJson(x.ranges)!,
            versions: x.versions.map((v) => storableText(v, 256)),
            fixed_versions: x.fixedVersions.map((v) => storableText(v, 256)),
          })),
        );
      for (let j = 0; j < affected.length; j += 1000) {
        await trx
          .insertInto('advisory_affected')
          .values(affected.slice(j, j + 1000))
          .execute();
      }
      return done;
    });
    written.push(...ids);
  }
  return { written, unchanged: unique.length - written.length };
}

/** An advisory that names a package, with that package's affected entries. */
export interface PackageAdvisory {
  id: string;
  modified: Date;
  published: Date | null;
  aliases: string[];
  summary: string | null;
  details: string | null;
  severity: string | null;
  cvssVector: string | null;
  malware: boolean;
  references: Array<{ type?: string; url?: string }>;
  affected: Array<{ ranges: unknown; versions: string[]; fixedVersions: string[] }>;
}

/**
 * Every advisory, not withdrawn, with an affected entry for the npm package `name` (version matching is
 * done by the caller, per the OSV rules), or only those of `opts.ids`. Ordered by id.
 */
export async function advisoriesForPackage(
  db: DB,
  name: string,
  opts: { ids?: readonly string[] } = {},
): Promise<PackageAdvisory[]> {
  if (opts.ids?.length === 0) return [];
  let q = db
    .selectFrom('advisory_affected as af')
    .innerJoin('advisories as a', 'a.id', 'af.advisory_id')
    .select([
      'a.id',
      'a.modified',
      'a.published',
      'a.aliases',
      'a.summary',
      'a.severity',
      'a.cvss_vector',
      'a.malware',
      sql<string | null>`left(a.raw ->> 'details', 2000)`.as('details'),
      sql<unknown>`a.raw -> 'references'`.as('references'),
      'af.ranges',
      'af.versions',
      'af.fixed_versions',
    ])
    .where('af.package_name', '=', name)
    .where('a.withdrawn', 'is', null);
  if (opts.ids) q = q.where('a.id', 'in', [...opts.ids]);
  const rows = await q.orderBy('a.id').orderBy('af.id').execute();
  const byId = new Map<string, PackageAdvisory>();
  for (const r of rows) {
    let adv = byId.get(r.id);
    if (!adv) {
      adv = {
        id: r.id,
        modified: r.modified,
        published: r.published,
        aliases: r.aliases,
        summary: r.summary,
        details: r.details,
        severity: r.severity,
        cvssVector: r.cvss_vector,
        malware: r.malware,
        references: Array.isArray(r.references) ? (r.references as PackageAdvisory['references']) : [],
        affected: [],
      };
      byId.set(r.id, adv);
    }
    adv.affected.push({ ranges: r.ranges, versions: r.versions, fixedVersions: r.fixed_versions });
  }
  return [...byId.values()];
}

/** Size and freshness of the advisory data (recorded with every scan as the built-in scanner's data version). */
export async function advisoryStats(
  db: DB,
): Promise<{ count: number; withdrawn: number; latestModified: Date | null }> {
  const r = await db
    .selectFrom('advisories')
    .select([
      sql<number>`count(*)::int`.as('count'),
      sql<number>`count(*) FILTER (WHERE withdrawn IS NOT NULL)::int`.as('withdrawn'),
      sql<Date | null>`max(modified)`.as('latest'),
    ])
    .executeTakeFirstOrThrow();
  return { count: r.count, withdrawn: r.withdrawn, latestModified: r.latest };
}
