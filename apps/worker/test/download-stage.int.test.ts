import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { STAGES, type ClaimedPackage, type DB } from '@spm/db';
import { buildPackage, startTestRegistry, type BuiltPackage, type TestRegistry } from '@spm/testkit';
import { loadConfig } from '../src/config.js';
import { PermanentError, TransientError } from '../src/errors.js';
import { cachePath, storageKeyForIntegrity } from '../src/cache.js';
import { SourceRegistry } from '../src/registry/source.js';
import { createDownloadStage } from '../src/stages/download.js';
import type { StageOutcome } from '../src/stages/types.js';
import { tempCacheDir } from './support/worker.js';

let registry: TestRegistry;
let cache: Awaited<ReturnType<typeof tempCacheDir>>;

const download = STAGES.find((s) => s.name === 'download')!;

function claimed(p: BuiltPackage, over: Partial<ClaimedPackage> = {}): ClaimedPackage {
  return {
    packageId: 1,
    name: p.name,
    version: p.version,
    integrity: p.integrity,
    resolved: null,
    declaredLicense: 'MIT',
    status: download.work,
    checkpoint: download.checkpoint,
    stage: download,
    attempts: 1,
    lockedUntil: new Date(Date.now() + 60_000),
    storageKey: null,
    checksum: null,
    sizeBytes: null,
    registryIntegrity: null,
    licenseExpression: 'MIT',
    ...over,
  };
}

async function run(
  pkg: ClaimedPackage,
  opts: { env?: Record<string, string>; signal?: AbortSignal; token?: string | null; timeoutMs?: number } = {},
): Promise<StageOutcome> {
  const config = loadConfig(
    { DATABASE_URL: 'postgres://unused', SOURCE_REGISTRY_URL: registry.url, PACKAGE_CACHE_DIR: cache.dir, ...opts.env },
    { npmRegistry: () => null },
  );
  const source = new SourceRegistry({
    url: registry.url,
    token: opts.token ?? null,
    timeoutMs: opts.timeoutMs ?? 5_000,
    maxRedirects: config.downloadMaxRedirects,
  });
  return createDownloadStage({ registry: source })({
    pkg,
    signal: opts.signal ?? new AbortController().signal,
    log: pino({ level: 'silent' }),
    // The download stage never touches the database.
    db: null as unknown as DB,
    config,
    workerId: 'test',
  });
}

const tarballRequests = (name: string) => registry.requests.filter((r) => r.url.includes(`/-/${name}-`)).length;

beforeEach(async () => {
  registry = await startTestRegistry();
  cache = await tempCacheDir();
});
afterEach(async () => {
  await registry.close();
  await cache.remove();
});

describe('the download stage', () => {
  it('reuses a stored copy that verifies, without fetching the tarball again', async () => {
    const p = buildPackage({ name: 'resume', version: '1.0.0' });
    registry.add(p);
    const first = await run(claimed(p));
    expect(first).toMatchObject({ kind: 'done', details: { reused: false } });
    const second = await run(claimed(p));
    expect(second).toMatchObject({
      kind: 'done',
      details: { reused: true },
      patch: { checksum: p.integrity, size_bytes: p.tarball.length },
    });
    expect(tarballRequests('resume')).toBe(1);
  });

  it('replaces a corrupt stored copy by downloading again', async () => {
    const p = buildPackage({ name: 'corrupt', version: '1.0.0' });
    registry.add(p);
    const key = storageKeyForIntegrity(p.integrity)!;
    await mkdir(dirname(cachePath(cache.dir, key)), { recursive: true });
    await writeFile(cachePath(cache.dir, key), 'not the tarball');
    const out = await run(claimed(p));
    expect(out).toMatchObject({ kind: 'done', details: { reused: false }, patch: { storage_key: key } });
    expect(tarballRequests('corrupt')).toBe(1);
  });

  it('rejects an oversize tarball (policy) by its content-length, and leaves no partial file', async () => {
    const p = buildPackage({ name: 'huge', version: '1.0.0', files: { 'blob.bin': randomBytes(64 * 1024) } });
    registry.add(p);
    const err = await run(claimed(p), { env: { DOWNLOAD_MAX_BYTES: '2048' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).toMatchObject({ kind: 'policy', message: expect.stringContaining('oversize') });
    expect(await readdir(join(cache.dir, 'tmp')).catch(() => [])).toEqual([]);
  });

  it('rejects an oversize tarball sent without a content-length while streaming', async () => {
    const p = buildPackage({ name: 'chunked', version: '1.0.0', files: { 'blob.bin': randomBytes(50_000) } });
    registry.add(p);
    registry.intercept((req, res) => {
      if (!req.url?.includes('/-/')) return false;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(p.tarball.subarray(0, 20_000));
      res.end(p.tarball.subarray(20_000));
      return true;
    });
    const err = await run(claimed(p), { env: { DOWNLOAD_MAX_BYTES: '4096' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'policy', message: expect.stringContaining('oversize') });
    expect(await readdir(join(cache.dir, 'tmp'))).toEqual([]);
  });

  it.each([500, 503, 429])('treats HTTP %i from the registry as transient', async (status) => {
    const p = buildPackage({ name: 'unwell', version: '1.0.0' });
    registry.add(p);
    registry.failNext(/\/-\//, 1, status);
    const err = await run(claimed(p)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toContain(`HTTP ${status}`);
  });

  it('treats a connection reset as transient', async () => {
    const p = buildPackage({ name: 'reset', version: '1.0.0' });
    registry.add(p);
    registry.intercept((req) => {
      if (!req.url?.includes('/-/')) return false;
      req.socket.destroy();
      return true;
    });
    const err = await run(claimed(p)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
  });

  it('treats a download slower than the timeout as transient', async () => {
    const p = buildPackage({ name: 'slow', version: '1.0.0' });
    registry.add(p);
    registry.setTarballDelay(2_000);
    const err = await run(claimed(p), { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toContain('timed out');
  });

  it('stops at once when its signal is aborted, with the abort reason rather than a failure', async () => {
    const p = buildPackage({ name: 'cancelled', version: '1.0.0' });
    registry.add(p);
    registry.setTarballDelay(5_000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutting down')), 100);
    const err = await run(claimed(p), { signal: ac.signal }).catch((e: unknown) => e);
    // The tarball was delayed 5 s: an error carrying the abort reason proves the download was cut short.
    expect(err).toMatchObject({ message: 'shutting down' });
    expect(err).not.toBeInstanceOf(TransientError);
  });

  it('sends SOURCE_REGISTRY_TOKEN as a bearer token', async () => {
    await registry.close();
    registry = await startTestRegistry({ token: 's3cret' });
    const p = buildPackage({ name: 'private', version: '1.0.0' });
    registry.add(p);
    expect(await run(claimed(p), { token: 's3cret' })).toMatchObject({ kind: 'done' });
    expect(registry.requests.every((r) => r.headers.authorization === 'Bearer s3cret')).toBe(true);
  });

  it('follows no redirect off the registry origin', async () => {
    const p = buildPackage({ name: 'redirected', version: '1.0.0' });
    registry.add(p);
    registry.intercept((req, res) => {
      if (!req.url?.includes('/-/')) return false;
      res.writeHead(302, { location: 'http://registry.example.test/evil.tgz' }).end();
      return true;
    });
    const err = await run(claimed(p)).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'policy', message: expect.stringContaining('not on its origin') });
  });

  it('rejects a lockfile integrity that is not SRI, and a lockfile/registry disagreement before downloading', async () => {
    const p = buildPackage({ name: 'bad-sri', version: '1.0.0' });
    registry.add(p);
    expect(await run(claimed(p, { integrity: 'md5-nonsense' })).catch((e: unknown) => e)).toMatchObject({
      kind: 'error',
      message: expect.stringContaining('is not a valid SRI value'),
    });
    const other = buildPackage({ name: 'bad-sri', version: '1.0.0', files: { 'x.js': 'x' } });
    const err = await run(claimed(p, { integrity: other.integrity })).catch((e: unknown) => e);
    expect(err).toMatchObject({
      kind: 'error',
      message: expect.stringContaining(
        `the lockfile says ${other.integrity} but the source registry says ${p.integrity}`,
      ),
    });
    expect(tarballRequests('bad-sri')).toBe(0);
  });

  it('refuses a package name that is not a valid npm name without any request', async () => {
    const p = buildPackage({ name: 'fine', version: '1.0.0' });
    const err = await run(claimed(p, { name: '../../etc/passwd' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'policy', message: expect.stringContaining('not a valid npm package name') });
    expect(registry.requests).toEqual([]);
  });

  it('verifies against the registry alone when the lockfile has no integrity', async () => {
    const p = buildPackage({ name: 'old-lockfile', version: '1.0.0' });
    registry.add(p);
    expect(await run(claimed(p, { integrity: null }))).toMatchObject({
      kind: 'done',
      patch: { checksum: p.integrity, registry_integrity: p.integrity },
    });
  });

  describe('cache keys come from verified bytes only (issue 11, finding 3)', () => {
    /** The registry's document for `p` with only the old sha1 `shasum` (or nothing at all). */
    function oldEntry(p: BuiltPackage, dist: 'sha1' | 'none') {
      const tarball = `${registry.url.replace(/\/?$/, '/')}${p.name}/-/${p.name}-${p.version}.tgz`;
      registry.add(p, { versionDoc: { dist: dist === 'sha1' ? { tarball, shasum: p.shasum } : { tarball } } });
    }
    /** Stores `p` as an earlier download would have. */
    async function stored(p: BuiltPackage): Promise<string> {
      registry.add(p);
      expect(await run(claimed(p))).toMatchObject({ kind: 'done', details: { reused: false } });
      return cachePath(cache.dir, storageKeyForIntegrity(p.integrity)!);
    }

    it('downloads a sha1-only entry whatever the lockfile says, refuses a sha512 of other bytes, and deletes nothing', async () => {
      const published = buildPackage({ name: 'popular', version: '2.0.0' });
      const file = await stored(published);
      const old = buildPackage({ name: 'ancient', version: '0.1.0' });
      oldEntry(old, 'sha1');
      // The attacker's lockfile names the published tarball's sha512 for the old version.
      const err = await run(claimed(old, { integrity: published.integrity })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PermanentError);
      expect(err).toMatchObject({
        kind: 'error',
        message: expect.stringContaining(`the lockfile says ${published.integrity} but the downloaded tarball is`),
      });
      expect(tarballRequests('ancient')).toBe(1);
      expect(await readFile(file)).toEqual(published.tarball);
    });

    it('never reuses stored bytes the lockfile names when the registry gives no integrity', async () => {
      const rejected = buildPackage({ name: 'rejected-one', version: '1.0.0', files: { 'evil.js': 'evil()' } });
      const file = await stored(rejected);
      const plain = buildPackage({ name: 'no-dist', version: '1.0.0' });
      oldEntry(plain, 'none');
      const err = await run(claimed(plain, { integrity: rejected.integrity })).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'error', message: expect.stringContaining('integrity mismatch') });
      expect(tarballRequests('no-dist')).toBe(1);
      expect(await readFile(file)).toEqual(rejected.tarball);
    });

    it('stores a sha1-only entry under the sha512 of the bytes received when the lockfile matches them', async () => {
      const old = buildPackage({ name: 'sha1-era', version: '0.2.0' });
      oldEntry(old, 'sha1');
      const out = await run(claimed(old));
      const key = storageKeyForIntegrity(old.integrity)!;
      expect(out).toMatchObject({ kind: 'done', patch: { storage_key: key, checksum: old.integrity } });
      expect(await readFile(cachePath(cache.dir, key))).toEqual(old.tarball);
      // Without a registry sha512 nothing proves a stored copy is this package's: it is downloaded again.
      await run(claimed(old));
      expect(tarballRequests('sha1-era')).toBe(2);
    });

    it('refuses a stored copy the registry names when the lockfile disagrees, keeping the copy', async () => {
      const p = buildPackage({ name: 'shared', version: '1.0.0' });
      const file = await stored(p);
      const sha1OfOther = `sha1-${Buffer.alloc(20, 7).toString('base64')}`;
      const err = await run(claimed(p, { integrity: sha1OfOther })).catch((e: unknown) => e);
      expect(err).toMatchObject({
        kind: 'error',
        message: expect.stringContaining(`the lockfile says ${sha1OfOther}`),
      });
      expect(await readFile(file)).toEqual(p.tarball);
    });
  });

  // Issue 11, finding 5.
  it('stops a same-origin redirect loop after DOWNLOAD_MAX_REDIRECTS, naming the limit', async () => {
    const p = buildPackage({ name: 'loop', version: '1.0.0' });
    registry.add(p);
    registry.intercept((req, res) => {
      if (!req.url?.includes('/-/')) return false;
      res.writeHead(302, { location: req.url }).end();
      return true;
    });
    const err = await run(claimed(p), { env: { DOWNLOAD_MAX_REDIRECTS: '5' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).toMatchObject({
      kind: 'error',
      message: expect.stringContaining('redirected more than 5 times (DOWNLOAD_MAX_REDIRECTS=5)'),
    });
    expect(tarballRequests('loop')).toBe(6);
  });
});
