import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, startTestRegistry, type TestRegistry } from '@spm/testkit';
import {
  auditEvents,
  enqueue,
  eventsOf,
  lockfileEntry,
  packageId,
  spawnWorker,
  statusOf,
  tempCacheDir,
  waitFor,
  type WorkerProcess,
} from './support/worker.js';

const WORK_TO_DONE = {
  'Checking Licence': 'Licence Checked',
  Downloading: 'Downloaded',
  'Security Scanning': 'Security Scanned',
};

let t: TestDatabase;
let registry: TestRegistry;
let cache: Awaited<ReturnType<typeof tempCacheDir>>;
let worker: WorkerProcess;

async function downloadCompleted(name: string, version = '1.0.0') {
  const id = await packageId(t.db, name, version);
  const evs = await eventsOf(t.db, id);
  return evs.some((e) => e.from_status === Status.Downloading && e.to_status === Status.Downloaded);
}

async function endedRejected(name: string, version = '1.0.0') {
  const s = await statusOf(t.db, name, version);
  return s.status === Status.Rejected ? s : null;
}

beforeAll(async () => {
  t = await createTestDatabase();
  registry = await startTestRegistry();
  cache = await tempCacheDir();
  worker = spawnWorker({
    DATABASE_URL: t.url,
    SOURCE_REGISTRY_URL: registry.url,
    PACKAGE_CACHE_DIR: cache.dir,
    WORKER_SLEEP_INTERVAL: '0.5',
    WORKER_LEASE_SECONDS: '10',
    WORKER_RETRY_BASE_SECONDS: '0.3',
    WORKER_MAX_ATTEMPTS: '5',
    WORKER_MAX_PACKAGES_PER_CYCLE: '5',
  });
  await worker.waitForLog((l) => l.msg === 'listening for wake-ups');
});

afterAll(async () => {
  await worker?.stop();
  await registry?.close();
  await cache?.remove();
  await t?.destroy();
});

describe('the worker process, licence and download stages', () => {
  it('takes a lockfile to Downloaded with verified integrity, content-addressed storage and licence verdicts', async () => {
    const plain = buildPackage({ name: 'happy-plain', version: '1.0.0' });
    const scoped = buildPackage({ name: '@acme/happy-scoped', version: '1.0.0', manifest: { license: 'Apache-2.0' } });
    const sha1Only = buildPackage({ name: 'happy-sha1', version: '1.0.0', manifest: { license: 'ISC' } });
    const fromRegistry = buildPackage({
      name: 'happy-registry-licence',
      version: '1.0.0',
      manifest: { license: 'MPL-2.0' },
    });
    const legacy = buildPackage({ name: 'happy-legacy', version: '1.0.0', manifest: { license: undefined } });
    for (const p of [plain, scoped, sha1Only, fromRegistry, legacy]) registry.add(p);
    const sha1 = `sha1-${createHash('sha1').update(sha1Only.tarball).digest('base64')}`;

    await enqueue(t.db, [
      lockfileEntry(plain),
      lockfileEntry(scoped),
      lockfileEntry(sha1Only, { integrity: sha1 }),
      lockfileEntry(fromRegistry, { license: null, integrity: null }),
      lockfileEntry(legacy, { license: JSON.stringify([{ type: 'MIT' }, { type: 'GPL-3.0-only' }]) }),
    ]);
    for (const p of [plain, scoped, sha1Only, fromRegistry, legacy]) {
      await waitFor(() => downloadCompleted(p.name), 20_000, `${p.name} downloaded`);
    }

    for (const p of [plain, scoped, sha1Only, fromRegistry, legacy]) {
      const s = await statusOf(t.db, p.name);
      expect(s.checksum).toBe(p.integrity);
      expect(s.size_bytes).toBe(p.tarball.length);
      expect(s.registry_integrity).toBe(p.integrity);
      const hex = createHash('sha512').update(p.tarball).digest('hex');
      expect(s.storage_key).toBe(`sha512/${hex.slice(0, 2)}/${hex}.tgz`);
      expect(Buffer.compare(await readFile(join(cache.dir, s.storage_key!)), p.tarball)).toBe(0);
    }
    // The scan stage is plugged in: a clean package goes on past Downloaded and waits for a person.
    for (const p of [plain, scoped]) {
      await waitFor(
        async () => (await statusOf(t.db, p.name)).status === Status.PendingApproval,
        30_000,
        `${p.name} pending approval`,
      );
    }
    const plainStatus = await statusOf(t.db, plain.name);
    expect(plainStatus).toMatchObject({
      license_expression: 'MIT',
      license_tier: 'always_allowed',
      license_score: 100,
      license_flags: [],
    });
    expect(await statusOf(t.db, fromRegistry.name)).toMatchObject({
      license_expression: 'MPL-2.0',
      license_tier: 'avoid',
      license_score: 50,
    });
    expect((await statusOf(t.db, fromRegistry.name)).license_flags).toContain('avoid');
    expect(await statusOf(t.db, legacy.name)).toMatchObject({
      license_expression: 'MIT OR GPL-3.0-only',
      license_tier: 'always_allowed',
    });

    // Full transition history, one tarball request each, and the lockfile's resolved host never contacted.
    const evs = await eventsOf(t.db, await packageId(t.db, plain.name));
    expect(evs.map((e) => e.to_status)).toEqual([
      Status.Requested,
      Status.CheckingLicence,
      Status.LicenceChecked,
      Status.Downloading,
      Status.Downloaded,
      ...evs.slice(5).map((e) => e.to_status),
    ]);
    const tarballRequests = registry.requests.filter((r) => r.url.includes('/-/happy-'));
    expect(tarballRequests).toHaveLength(5);
    expect(registry.requests.some((r) => r.url.includes('@acme%2fhappy-scoped'))).toBe(true);

    // One log line per transition a person can follow.
    const done = worker.logs.find((l) => l.name === plain.name && l.outcome === 'done' && l.to === Status.Downloaded);
    expect(done).toMatchObject({
      packageId: expect.any(Number),
      stage: 'download',
      version: '1.0.0',
      duration_ms: expect.any(Number),
    });
  });

  it('rejects a blocked licence (policy), naming it, without downloading', async () => {
    const p = buildPackage({ name: 'blocked-gpl', version: '1.0.0', manifest: { license: 'GPL-3.0' } });
    registry.add(p);
    await enqueue(t.db, [lockfileEntry(p)]);
    const s = await waitFor(() => endedRejected(p.name), 20_000, 'blocked rejected');
    expect(s.rejection_kind).toBe('policy');
    expect(s.rejection_reason).toContain('GPL-3.0-only');
    expect(s.rejection_reason).toContain('blocked');
    expect(s.license_tier).toBe('blocked');
    expect(s.license_flags).toContain('deprecated-id:GPL-3.0');
    expect(registry.requests.some((r) => r.url.includes('blocked-gpl'))).toBe(false);
  });

  it('rejects an integrity mismatch (error), naming both values', async () => {
    const real = buildPackage({ name: 'mismatch', version: '1.0.0' });
    const other = buildPackage({ name: 'mismatch', version: '1.0.0', files: { 'index.js': 'tampered' } });
    registry.add(real);
    await enqueue(t.db, [lockfileEntry(real, { integrity: other.integrity })]);
    const s = await waitFor(() => endedRejected('mismatch'), 20_000, 'mismatch rejected');
    expect(s.rejection_kind).toBe('error');
    expect(s.rejection_reason).toContain('integrity mismatch');
    expect(s.rejection_reason).toContain(other.integrity);
    expect(s.rejection_reason).toContain(real.integrity);
    expect(s.storage_key).toBeNull();
  });

  it('rejects a tarball whose bytes differ from both integrity values after download', async () => {
    const served = buildPackage({ name: 'swapped', version: '1.0.0' });
    const claimed = buildPackage({
      name: 'swapped',
      version: '1.0.0',
      files: { 'index.js': 'what the lockfile pinned' },
    });
    // The registry claims one integrity but serves other bytes.
    registry.add(served, {
      versionDoc: { dist: { tarball: `${registry.url}swapped/-/swapped-1.0.0.tgz`, integrity: claimed.integrity } },
    });
    await enqueue(t.db, [lockfileEntry(claimed)]);
    const s = await waitFor(() => endedRejected('swapped'), 20_000, 'swapped rejected');
    expect(s.rejection_kind).toBe('error');
    expect(s.rejection_reason).toContain(claimed.integrity);
    expect(s.rejection_reason).toContain(served.integrity);
  });

  it('rejects a version missing from the source registry (error)', async () => {
    const p = buildPackage({ name: 'has-other-version', version: '1.0.0' });
    registry.add(p);
    await enqueue(t.db, [
      lockfileEntry(p, { version: '9.9.9' }),
      lockfileEntry(buildPackage({ name: 'no-such-package', version: '1.0.0' })),
    ]);
    const s = await waitFor(() => endedRejected('has-other-version', '9.9.9'), 20_000, 'missing version rejected');
    expect(s.rejection_kind).toBe('error');
    expect(s.rejection_reason).toBe(
      'has-other-version@9.9.9 not found in the source registry: the package has no version 9.9.9',
    );
    const s2 = await waitFor(() => endedRejected('no-such-package'), 20_000, 'missing package rejected');
    expect(s2.rejection_reason).toContain('no-such-package@1.0.0 not found in the source registry');
  });

  it('rejects a tarball URL off the registry origin (policy) and never fetches it', async () => {
    const p = buildPackage({ name: 'off-origin', version: '1.0.0' });
    registry.add(p, { tarballUrl: 'http://registry.example.test/off-origin/-/off-origin-1.0.0.tgz' });
    await enqueue(t.db, [lockfileEntry(p)]);
    const s = await waitFor(() => endedRejected('off-origin'), 20_000, 'off-origin rejected');
    expect(s.rejection_kind).toBe('policy');
    expect(s.rejection_reason).toContain("not on the source registry's origin");
  });

  it('retries a registry that answers 503 twice with backoff, then succeeds', async () => {
    const p = buildPackage({ name: 'flaky', version: '1.0.0' });
    registry.add(p);
    registry.failNext(/^\/flaky$/, 2, 503);
    await enqueue(t.db, [lockfileEntry(p)]);
    await waitFor(() => downloadCompleted('flaky'), 30_000, 'flaky downloaded');
    const evs = await eventsOf(t.db, await packageId(t.db, 'flaky'));
    const retries = evs.filter((e) => e.from_status === Status.Downloading && e.to_status === Status.LicenceChecked);
    expect(retries).toHaveLength(2);
    expect(retries[0]!.reason).toContain('HTTP 503');
    // Backoff: base 0.3 s × 2^(attempt-1) between each failure and the next claim.
    const claims = evs.filter((e) => e.to_status === Status.Downloading);
    expect(claims.map((c) => c.attempt)).toEqual([1, 2, 3]);
    const gap1 = claims[1]!.created_at.getTime() - retries[0]!.created_at.getTime();
    const gap2 = claims[2]!.created_at.getTime() - retries[1]!.created_at.getTime();
    expect(gap1).toBeGreaterThanOrEqual(250);
    expect(gap2).toBeGreaterThanOrEqual(550);
    const s = await statusOf(t.db, 'flaky');
    expect(s.last_error).toBeNull();
    expect(s.checksum).toBe(p.integrity);
  });

  it('gives up after WORKER_MAX_ATTEMPTS transient failures: Rejected (error) with the last error', async () => {
    const p = buildPackage({ name: 'always-down', version: '1.0.0' });
    registry.add(p);
    registry.failNext(/^\/always-down$/, 100, 502);
    await enqueue(t.db, [lockfileEntry(p)]);
    const s = await waitFor(() => endedRejected('always-down'), 40_000, 'always-down rejected');
    expect(s.rejection_kind).toBe('error');
    expect(s.rejection_reason).toMatch(/gave up after 5 attempts: .*HTTP 502/);
  });

  it('applies a licence policy edit without a restart', async () => {
    await t.db.updateTable('supported_licenses').set({ tier: 'blocked' }).where('spdx_id', '=', 'Zlib').execute();
    await new Promise((r) => setTimeout(r, 5_500)); // the policy cache's TTL
    const p = buildPackage({ name: 'zlib-user', version: '1.0.0', manifest: { license: 'Zlib' } });
    registry.add(p);
    await enqueue(t.db, [lockfileEntry(p)]);
    const s = await waitFor(() => endedRejected('zlib-user'), 20_000, 'zlib-user rejected');
    expect(s.rejection_reason).toContain('Zlib');
  });

  it('never lets two holders overlap and completes each stage once', async () => {
    await waitFor(
      async () =>
        (
          await t.db
            .selectFrom('package_status')
            .select('package_id')
            .where('status', 'in', [
              ...Object.keys(WORK_TO_DONE),
              Status.Requested,
              Status.LicenceChecked,
              Status.Downloaded,
            ])
            .execute()
        ).length === 0,
      30_000,
      'every package at rest',
    );
    expect(await auditEvents(t.db, WORK_TO_DONE)).toEqual([]);
  });
});
