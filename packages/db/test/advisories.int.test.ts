import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { advisoriesForPackage, advisoryStats, upsertAdvisories, type AdvisoryInput } from '@spm/db';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});

afterAll(async () => {
  await t?.destroy();
});

function adv(id: string, modified: string, over: Partial<AdvisoryInput> = {}): AdvisoryInput {
  return {
    id,
    modified: new Date(modified),
    published: null,
    withdrawn: null,
    aliases: [],
    summary: `summary of ${id} at ${modified}`,
    severity: 'high',
    cvssVector: null,
    malware: false,
    raw: { id, modified },
    affected: [
      {
        packageName: 'pkg-a',
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0.0' }] }],
        versions: [],
        fixedVersions: ['1.0.0'],
      },
    ],
    ...over,
  };
}

describe('advisory queries', () => {
  it('inserts a batch larger than one statement and reads it back by package', async () => {
    const many = Array.from({ length: 1200 }, (_, i) =>
      adv(`GHSA-bulk-${String(i).padStart(4, '0')}`, '2024-01-01T00:00:00Z', {
        affected: [{ packageName: `bulk-${i % 7}`, ranges: [], versions: ['1.0.0'], fixedVersions: [] }],
      }),
    );
    const res = await upsertAdvisories(t.db, many);
    expect(res.written).toHaveLength(1200);
    expect(res.unchanged).toBe(0);
    const forOne = await advisoriesForPackage(t.db, 'bulk-3');
    expect(forOne).toHaveLength(many.filter((_, i) => i % 7 === 3).length);
    expect(forOne[0]!.affected[0]!.versions).toEqual(['1.0.0']);
  });

  it('replaces an advisory only with a newer modified date, and replaces its affected rows', async () => {
    await upsertAdvisories(t.db, [adv('GHSA-mod-1', '2024-02-01T00:00:00Z')]);
    const older = await upsertAdvisories(t.db, [
      adv('GHSA-mod-1', '2023-12-01T00:00:00Z', {
        summary: 'older',
        affected: [{ packageName: 'pkg-old', ranges: [], versions: ['9.9.9'], fixedVersions: [] }],
      }),
    ]);
    expect(older).toEqual({ written: [], unchanged: 1 });
    expect((await advisoriesForPackage(t.db, 'pkg-a')).find((a) => a.id === 'GHSA-mod-1')!.summary).toMatch(
      /2024-02-01/,
    );
    expect(await advisoriesForPackage(t.db, 'pkg-old')).toEqual([]);

    const newer = await upsertAdvisories(t.db, [
      adv('GHSA-mod-1', '2024-05-01T00:00:00Z', {
        aliases: ['CVE-2024-1111'],
        affected: [{ packageName: 'pkg-new', ranges: [], versions: ['2.0.0'], fixedVersions: ['2.0.1'] }],
      }),
    ]);
    expect(newer.written).toEqual(['GHSA-mod-1']);
    expect((await advisoriesForPackage(t.db, 'pkg-a')).map((a) => a.id)).not.toContain('GHSA-mod-1');
    const [row] = await advisoriesForPackage(t.db, 'pkg-new');
    expect(row).toMatchObject({ id: 'GHSA-mod-1', aliases: ['CVE-2024-1111'] });
    expect(row!.affected).toEqual([{ ranges: [], versions: ['2.0.0'], fixedVersions: ['2.0.1'] }]);
  });

  it('is idempotent for the same modified date unless forced', async () => {
    const a = adv('GHSA-same-1', '2024-03-01T00:00:00Z');
    await upsertAdvisories(t.db, [a]);
    expect((await upsertAdvisories(t.db, [a])).unchanged).toBe(1);
    expect((await upsertAdvisories(t.db, [{ ...a, summary: 'reprocessed' }], { force: true })).written).toEqual([
      'GHSA-same-1',
    ]);
  });

  it('keeps the newest of duplicate ids within one call', async () => {
    const res = await upsertAdvisories(t.db, [
      adv('GHSA-dup-1', '2024-01-01T00:00:00Z', { summary: 'first' }),
      adv('GHSA-dup-1', '2024-06-01T00:00:00Z', { summary: 'newest' }),
      adv('GHSA-dup-1', '2024-03-01T00:00:00Z', { summary: 'middle' }),
    ]);
    expect(res.written).toEqual(['GHSA-dup-1']);
    expect((await advisoriesForPackage(t.db, 'pkg-a')).find((a) => a.id === 'GHSA-dup-1')!.summary).toBe('newest');
  });

  it('keeps withdrawn advisories but never returns them for matching', async () => {
    await upsertAdvisories(t.db, [
      adv('GHSA-wd-1', '2024-01-01T00:00:00Z', {
        withdrawn: new Date('2024-01-02T00:00:00Z'),
        affected: [{ packageName: 'pkg-wd', ranges: [], versions: ['1.0.0'], fixedVersions: [] }],
      }),
    ]);
    expect(await advisoriesForPackage(t.db, 'pkg-wd')).toEqual([]);
    const stored = await t.db
      .selectFrom('advisories')
      .select(['id', 'withdrawn'])
      .where('id', '=', 'GHSA-wd-1')
      .executeTakeFirst();
    expect(stored?.withdrawn).toBeInstanceOf(Date);
    const stats = await advisoryStats(t.db);
    expect(stats.withdrawn).toBeGreaterThanOrEqual(1);
    expect(stats.count).toBeGreaterThan(1200);
  });
});
