import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { zip } from '@spm/testkit';
import { listingEntries, syncAdvisories } from '../../src/scan/advisory-sync.js';

/*
 * ADVISORIES_URL as a directory listing (an HTML index or a JSON array of names) instead of one zip:
 * the listed records are fetched from the listing's own folder and imported; links that leave the folder
 * or the origin are not followed; the byte limit covers every file fetched.
 */

const record = (id: string, name: string) => ({
  id,
  modified: '2026-06-01T00:00:00Z',
  summary: `Advisory ${id}`,
  database_specific: { severity: 'HIGH' },
  affected: [
    {
      package: { ecosystem: 'npm', name },
      ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }],
    },
  ],
});

let t: TestDatabase;
let server: Server;
let base: string;
const requested: string[] = [];

const files: Record<string, { type: string; body: Buffer | string }> = {
  '/osv/': {
    type: 'text/html',
    body: `<html><body><h1>Index of /osv/</h1>
      <a href="../">../</a>
      <a href="GHSA-list-0001.json">GHSA-list-0001.json</a>
      <a href="sub/more.zip">more.zip</a>
      <a href="broken.json">broken.json</a>
      <a href="README.txt">README.txt</a>
      <a href="../secret.json">secret</a>
      <a href="http://other.example.test/osv/GHSA-evil.json">elsewhere</a>
      <a href="GHSA-list-0001.json#again">twice</a>
    </body></html>`,
  },
  '/osv/GHSA-list-0001.json': { type: 'application/json', body: JSON.stringify(record('GHSA-list-0001', 'list-a')) },
  '/osv/sub/more.zip': {
    type: 'application/zip',
    body: zip([{ name: 'GHSA-list-0002.json', data: Buffer.from(JSON.stringify(record('GHSA-list-0002', 'list-b'))) }]),
  },
  '/osv/broken.json': { type: 'application/json', body: '{ not json' },
  '/secret.json': { type: 'application/json', body: JSON.stringify(record('GHSA-secret-0001', 'secret')) },
  '/names/index.json': { type: 'application/json', body: JSON.stringify(['GHSA-list-0003.json', '/osv/broken.json']) },
  '/names/GHSA-list-0003.json': { type: 'application/json', body: JSON.stringify(record('GHSA-list-0003', 'list-c')) },
  '/error/': { type: 'text/html', body: '<html><body>Nothing here</body></html>' },
};

beforeAll(async () => {
  t = await createTestDatabase();
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    requested.push(path);
    const f = files[path];
    if (!f) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type }).end(f.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await t?.destroy();
});

const sync = (url: string, maxBytes = 1_000_000) =>
  syncAdvisories(t.db, { url, maxBytes, timeoutMs: 10_000, quarantineSeverities: ['critical', 'high'] });

describe('a directory listing as ADVISORIES_URL', () => {
  it('imports the .json and .zip files an HTML index lists, inside its folder only', async () => {
    requested.length = 0;
    const r = await sync(`${base}/osv/`);
    if (r.notModified) throw new Error('unexpected 304');
    expect(r.written).toBe(2);
    expect(r.rejected).toHaveLength(1); // broken.json, reported, not fatal
    const ids = (await t.db.selectFrom('advisories').select('id').orderBy('id').execute()).map((a) => a.id);
    expect(ids).toEqual(['GHSA-list-0001', 'GHSA-list-0002']);
    // Neither ../secret.json nor another host was asked for; the duplicate link was fetched once.
    expect(requested.sort()).toEqual(['/osv/', '/osv/GHSA-list-0001.json', '/osv/broken.json', '/osv/sub/more.zip']);
  });

  it('reads a JSON array of names the same way', async () => {
    const r = await sync(`${base}/names/index.json`);
    if (r.notModified) throw new Error('unexpected 304');
    expect(r.written).toBe(1);
    expect(await t.db.selectFrom('advisories').select('id').where('id', '=', 'GHSA-list-0003').execute()).toHaveLength(
      1,
    );
  });

  it('refuses a page that lists no record, and a listing whose files exceed the byte limit', async () => {
    await expect(sync(`${base}/error/`)).rejects.toThrow(/neither a zip of OSV records nor a listing/);
    const before = await t.db.selectFrom('advisories').select('id').execute();
    // Room for the listing itself and a little more: the files it lists go over.
    const limit = Buffer.byteLength(files['/osv/']!.body) + 100;
    await expect(sync(`${base}/osv/`, limit)).rejects.toThrow(`ADVISORIES_MAX_BYTES=${limit}`);
    expect(await t.db.selectFrom('advisories').select('id').execute()).toHaveLength(before.length);
  });

  it('keeps links inside the folder and on the origin', () => {
    expect(
      listingEntries(
        '<a href="a.json">a</a><a href="/x/b.zip">b</a><a href="../c.json">c</a><a href="https://h.test/x/d.json">d</a>',
        'https://mirror.example.test/x/',
      ),
    ).toEqual(['https://mirror.example.test/x/a.json', 'https://mirror.example.test/x/b.zip']);
    expect(listingEntries('["e.json", "f.txt", 3]', 'https://mirror.example.test/x/index.json')).toEqual([
      'https://mirror.example.test/x/e.json',
    ]);
  });
});
