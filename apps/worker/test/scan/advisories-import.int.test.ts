import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advisoriesForPackage } from '@spm/db';
import { createTestDatabase, dropDatabase, withClient, withDatabase, type TestDatabase } from '@spm/db/testing';
import { zip } from '@spm/testkit';
import { main as importCli } from '../../src/cli/advisories-import.js';
import { importAdvisories } from '../../src/scan/advisory-import.js';
import { syncAdvisories } from '../../src/scan/advisory-sync.js';
import { matchAdvisories } from '../../src/scan/builtin.js';

// ---- generated advisories ---------------------------------------------------------------------
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = rng(20240501);
const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;

const VERSIONS: string[] = [];
for (let x = 0; x < 5; x++) for (let y = 0; y < 6; y++) for (let z = 0; z < 6; z++) VERSIONS.push(`${x}.${y}.${z}`);
VERSIONS.push('1.0.0-beta.1', '2.0.0-rc.1', '3.3.0-alpha');
const SORTED = [...VERSIONS].sort(semver.compare);
const NAMES = Array.from({ length: 20 }, (_, i) => `gen-pkg-${i}`);

interface Generated {
  record: Record<string, unknown>;
  name: string;
  /** The node-semver range the record means, written independently of the OSV evaluator. */
  range: string;
  versions: string[];
  withdrawn: boolean;
}

function generate(i: number): Generated {
  const name = pick(NAMES);
  const ranges: Array<{ type: string; events: Array<Record<string, string>> }> = [];
  const semverParts: string[] = [];
  const nRanges = rand() < 0.7 ? 1 : 2;
  for (let r = 0; r < nRanges; r++) {
    const intervals = rand() < 0.6 ? 1 : 2;
    const bounds = new Set<string>();
    while (bounds.size < intervals * 2) bounds.add(pick(SORTED));
    const sorted = [...bounds].sort(semver.compare);
    const endKind = rand() < 0.75 ? 'fixed' : 'last_affected';
    const events: Array<Record<string, string>> = [];
    for (let k = 0; k < intervals; k++) {
      const fromZero = k === 0 && rand() < 0.25;
      const intro = fromZero ? '0' : sorted[2 * k]!;
      const end = sorted[2 * k + 1]!;
      const open = k === intervals - 1 && rand() < 0.15;
      events.push({ introduced: intro });
      const lower = intro === '0' ? '>=0.0.0-0' : `>=${intro}`;
      if (open) semverParts.push(lower);
      else {
        events.push({ [endKind]: end });
        semverParts.push(`${lower} ${endKind === 'fixed' ? '<' : '<='}${end}`);
      }
    }
    if (rand() < 0.3) events.reverse();
    ranges.push({ type: rand() < 0.8 ? 'ECOSYSTEM' : 'SEMVER', events });
  }
  const versions = rand() < 0.2 ? [pick(SORTED)] : [];
  const withdrawn = rand() < 0.05;
  const id = `GHSA-gen${String(i).padStart(4, '0')}-xxxx-yyyy`;
  return {
    name,
    range: semverParts.join(' || '),
    versions,
    withdrawn,
    record: {
      schema_version: '1.6.0',
      id,
      modified: '2099-02-01T00:00:00Z',
      aliases: [`CVE-2099-${1000 + i}`],
      summary: `generated advisory ${i}`,
      database_specific: { severity: pick(['LOW', 'MODERATE', 'HIGH', 'CRITICAL']) },
      ...(withdrawn ? { withdrawn: '2099-02-02T00:00:00Z' } : {}),
      affected: [{ package: { ecosystem: 'npm', name }, ranges, versions }],
    },
  };
}

const generated = Array.from({ length: 300 }, (_, i) => generate(i));
const malformed = Array.from({ length: 10 }, (_, i) => ({
  id: `GHSA-bad${i}-xxxx-yyyy`,
  modified: '2099-02-01T00:00:00Z',
  affected: [
    {
      package: { ecosystem: 'npm', name: 'gen-pkg-0' },
      ranges: [{ type: 'ECOSYSTEM', events: i % 2 ? [{ introduced: '1.0.0', fixed: '2.0.0' }] : [{ fixed: '2.0.0' }] }],
    },
  ],
}));
const foreign = Array.from({ length: 5 }, (_, i) => ({
  id: `PYSEC-2099-${i}`,
  modified: '2099-02-01T00:00:00Z',
  affected: [
    {
      package: { ecosystem: 'PyPI', name: 'gen-pkg-0' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
    },
  ],
}));

let t: TestDatabase;
let dir: string;
let zipFile: Buffer;

beforeAll(async () => {
  t = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'spm-advisory-import-'));
  zipFile = zip(
    [...generated.map((g) => g.record), ...malformed, ...foreign].map((r) => ({
      name: `${r.id as string}.json`,
      data: Buffer.from(JSON.stringify(r)),
    })),
  );
  await writeFile(join(dir, 'all.zip'), zipFile);
});

afterAll(async () => {
  await t?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe('advisory import', () => {
  it('imports a zip of a few hundred records, rejecting malformed ones and skipping other ecosystems', async () => {
    const s = await importAdvisories(t.db, join(dir, 'all.zip'));
    expect(s).toMatchObject({ read: 315, written: 300, unchanged: 0, skipped: 5 });
    expect(s.rejected).toHaveLength(10);
    expect(s.rejected[0]).toMatchObject({ id: 'GHSA-bad0-xxxx-yyyy', error: expect.stringMatching(/no introduced/) });
  });

  it('matches every version exactly as node-semver ranges computed independently say', async () => {
    let checked = 0;
    let hits = 0;
    for (const name of NAMES) {
      const stored = await advisoriesForPackage(t.db, name);
      for (const v of SORTED) {
        const expected = generated
          .filter((g) => g.name === name && !g.withdrawn)
          .filter((g) => g.versions.includes(v) || semver.satisfies(v, g.range, { includePrerelease: true }))
          .map((g) => g.record.id as string)
          .sort();
        const actual = matchAdvisories(v, stored)
          .map((f) => f.id)
          .sort();
        expect([name, v, actual]).toEqual([name, v, expected]);
        checked++;
        hits += expected.length;
      }
    }
    expect(checked).toBe(NAMES.length * SORTED.length);
    expect(hits).toBeGreaterThan(500);
  });

  it('re-importing the same export changes nothing; a newer record in a directory replaces the stored one', async () => {
    expect(await importAdvisories(t.db, join(dir, 'all.zip'))).toMatchObject({ written: 0, unchanged: 300 });
    const g = generated.find((x) => !x.withdrawn)!;
    const newer = {
      ...g.record,
      modified: '2099-03-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'npm', name: 'moved-pkg' }, versions: ['9.9.9'] }],
    };
    const older = { ...generated[1]!.record, modified: '2000-01-01T00:00:00Z', summary: 'stale' };
    await mkdir(join(dir, 'tree', 'nested'), { recursive: true });
    await writeFile(join(dir, 'tree', 'newer.json'), JSON.stringify(newer));
    await writeFile(join(dir, 'tree', 'nested', 'older.json'), JSON.stringify(older));
    await writeFile(join(dir, 'tree', 'notes.txt'), 'ignored');
    expect(await importAdvisories(t.db, join(dir, 'tree'))).toMatchObject({ read: 2, written: 1, unchanged: 1 });
    expect((await advisoriesForPackage(t.db, 'moved-pkg')).map((a) => a.id)).toEqual([g.record.id]);
    expect((await advisoriesForPackage(t.db, g.name)).map((a) => a.id)).not.toContain(g.record.id);
  });

  it('imports a single file holding an array of records through the CLI', async () => {
    const file = join(dir, 'list.json');
    await writeFile(
      file,
      JSON.stringify([
        {
          id: 'GHSA-cli1-xxxx-yyyy',
          modified: '2099-01-01T00:00:00Z',
          affected: [{ package: { ecosystem: 'npm', name: 'cli-pkg' }, versions: ['1.0.0'] }],
        },
      ]),
    );
    expect(await importCli([file], { DATABASE_URL: t.url })).toBe(0);
    expect((await advisoriesForPackage(t.db, 'cli-pkg')).map((a) => a.id)).toEqual(['GHSA-cli1-xxxx-yyyy']);
    expect(await importCli([], { DATABASE_URL: t.url })).toBe(2);
    expect(await importCli([file], {})).toBe(2);
    expect(await importCli([join(dir, 'does-not-exist.json')], { DATABASE_URL: t.url })).toBe(1);
  });

  // Issue 11, finding 11.
  it('says to run pnpm migrate first when the database was never migrated', async () => {
    const name = `spm_unmigrated_${process.pid}_${Date.now()}`;
    await withClient(t.url, (c) => c.query(`CREATE DATABASE "${name}"`));
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      const file = join(dir, 'one.json');
      await writeFile(
        file,
        JSON.stringify({
          id: 'GHSA-none-xxxx-yyyy',
          modified: '2099-01-01T00:00:00Z',
          affected: [{ package: { ecosystem: 'npm', name: 'early-pkg' }, versions: ['1.0.0'] }],
        }),
      );
      expect(await importCli([file], { DATABASE_URL: withDatabase(t.url, name) })).toBe(1);
    } finally {
      process.stderr.write = write;
      await dropDatabase(t.url, name);
    }
    expect(errors.join('')).toMatch(/run `pnpm migrate` \(with the same DATABASE_URL\) first/);
  });
});

describe('advisory sync from a URL', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const extra = zip([
      {
        name: 'GHSA-sync-xxxx-yyyy.json',
        data: Buffer.from(
          JSON.stringify({
            id: 'GHSA-sync-xxxx-yyyy',
            modified: '2099-01-01T00:00:00Z',
            affected: [{ package: { ecosystem: 'npm', name: 'sync-pkg' }, versions: ['1.0.0'] }],
          }),
        ),
      },
    ]);
    server = createServer((req, res) => {
      if (req.url === '/npm/all.zip') res.writeHead(200, { 'content-type': 'application/zip' }).end(extra);
      else if (req.url === '/big.zip') res.writeHead(200).end(zipFile);
      else res.writeHead(503).end('down');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('downloads the zip and imports it', async () => {
    const s = await syncAdvisories(t.db, { url: `${base}/npm/all.zip`, maxBytes: 10_000_000, timeoutMs: 10_000 });
    expect(s).toMatchObject({ read: 1, written: 1 });
    expect((await advisoriesForPackage(t.db, 'sync-pkg')).map((a) => a.id)).toEqual(['GHSA-sync-xxxx-yyyy']);
  });

  it('refuses an oversize download and reports HTTP errors', async () => {
    await expect(syncAdvisories(t.db, { url: `${base}/big.zip`, maxBytes: 1000, timeoutMs: 10_000 })).rejects.toThrow(
      /ADVISORIES_MAX_BYTES=1000/,
    );
    await expect(
      syncAdvisories(t.db, { url: `${base}/missing.zip`, maxBytes: 1000, timeoutMs: 10_000 }),
    ).rejects.toThrow(/HTTP 503/);
  });
});
