import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status, type DB } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage, type BuiltPackage } from '@spm/testkit';
import type { WorkerConfig } from '../../src/config.js';
import { TargetRegistryClient } from '../../src/registry-target/client.js';
import { publishToTarget } from '../../src/registry-target/publish.js';
import { BACKFILL_TAG } from '../../src/registry-target/protocol.js';
import { createPublishStage, publishStage } from '../../src/stages/publish.js';
import { publishConfig, runPublishRound, silentLog } from './driver.js';
import { npmInstall, removeDir, seedPackage } from './helpers.js';
import { startVerdaccio, type Verdaccio } from './verdaccio.js';

let tdb: TestDatabase;
let db: DB;
let verdaccio: Verdaccio;
let cacheDir: string;
let config: WorkerConfig;
const cleanup: string[] = [];

/** A fetch that records every request sent to the target registry. */
function countingFetch(
  log: Array<{ method: string; url: string }>,
  override?: (method: string, url: string) => Response | undefined,
): typeof fetch {
  return async (input, init) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    log.push({ method, url });
    return override?.(method, url) ?? fetch(input, init);
  };
}

async function statusOf(id: number) {
  return db.selectFrom('package_status').selectAll().where('package_id', '=', id).executeTakeFirstOrThrow();
}

/** What Verdaccio stored for a package: its versions and tarball files. */
async function verdaccioStorage(
  name: string,
): Promise<{ versions: string[]; tarballs: string[]; distTags: Record<string, string> }> {
  const dir = join(verdaccio.storage, name);
  const doc = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    versions: object;
    'dist-tags': Record<string, string>;
  };
  return {
    versions: Object.keys(doc.versions),
    tarballs: (await readdir(dir)).filter((f) => f.endsWith('.tgz')),
    distTags: doc['dist-tags'],
  };
}

beforeAll(async () => {
  [tdb, verdaccio] = await Promise.all([createTestDatabase(), startVerdaccio()]);
  db = tdb.db;
  cacheDir = await mkdtemp(join(tmpdir(), 'spm-publish-cache-'));
  config = publishConfig({ databaseUrl: tdb.url, cacheDir, targetUrl: verdaccio.url, targetToken: verdaccio.token });
});

afterAll(async () => {
  await Promise.all([
    tdb?.destroy(),
    verdaccio?.stop(),
    cacheDir && rm(cacheDir, { recursive: true, force: true }),
    ...cleanup.map(removeDir),
  ]);
});

describe('publish stage against a real Verdaccio', () => {
  it('publishes scoped and unscoped packages whose npm install keeps the original lockfile integrity', async () => {
    const plain = buildPackage({
      name: 'vetted-plain',
      version: '1.2.3',
      manifest: { description: 'a vetted package' },
    });
    const scoped = buildPackage({
      name: '@acme/vetted-scoped',
      version: '0.4.0',
      manifest: { dependencies: { 'vetted-plain': '^1.2.0' } },
    });
    const ids = [
      await seedPackage(db, cacheDir, plain, Status.Approved),
      await seedPackage(db, cacheDir, scoped, Status.Approved),
    ];

    const results = await runPublishRound(db, config, publishStage);
    expect(results.map((r) => r.outcome)).toEqual(['done', 'done']);
    for (const id of ids) {
      const st = await statusOf(id);
      expect(st.status).toBe(Status.Published);
      expect(st.published_to).toBe(verdaccio.url);
      expect(st.published_at).toBeInstanceOf(Date);
    }
    expect(await verdaccioStorage('@acme/vetted-scoped')).toMatchObject({
      versions: ['0.4.0'],
      distTags: { latest: '0.4.0' },
    });

    const install = await npmInstall(verdaccio.url, ['@acme/vetted-scoped@0.4.0', 'vetted-plain@1.2.3']);
    cleanup.push(install.dir);
    expect(install.ok, install.output).toBe(true);
    expect(install.locked['node_modules/vetted-plain']?.integrity).toBe(plain.integrity);
    expect(install.locked['node_modules/@acme/vetted-scoped']?.integrity).toBe(scoped.integrity);
    const installed = await readFile(join(install.dir, 'node_modules/@acme/vetted-scoped/index.js'), 'utf8');
    expect(installed).toContain('@acme/vetted-scoped@0.4.0');
  });

  it('does not publish twice when a worker crashed between the PUT and the status write', async () => {
    const pkg = buildPackage({ name: 'crash-between', version: '2.0.0' });
    const id = await seedPackage(db, cacheDir, pkg, Status.Approved);
    const requests: Array<{ method: string; url: string }> = [];
    const stage = createPublishStage({ fetch: countingFetch(requests) });

    // First attempt: the PUT succeeds, then the worker "dies" before recording it.
    await runPublishRound(db, config, stage, { workerId: 'doomed', crashAfterStage: true });
    expect(requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect((await statusOf(id)).status).toBe(Status.Publishing);
    // The lease runs out and the stuck sweep returns the package to Approved.
    await db
      .updateTable('package_status')
      .set({ locked_until: new Date(Date.now() - 1000) })
      .where('package_id', '=', id)
      .execute();
    const { resetStuckPackages } = await import('@spm/db');
    expect(await resetStuckPackages(db, { stuckTimeoutMinutes: 30, maxAttempts: 5 })).toHaveLength(1);

    requests.length = 0;
    const results = await runPublishRound(db, config, stage);
    expect(results).toEqual([{ packageId: id, outcome: 'done' }]);
    expect(requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
    expect((await statusOf(id)).status).toBe(Status.Published);
    expect(await verdaccioStorage('crash-between')).toMatchObject({
      versions: ['2.0.0'],
      tarballs: ['crash-between-2.0.0.tgz'],
    });
    const events = await db
      .selectFrom('package_events')
      .select(['to_status', 'reason'])
      .where('package_id', '=', id)
      .orderBy('id')
      .execute();
    expect(events.at(-1)).toMatchObject({ to_status: Status.Published, reason: expect.stringContaining('already in') });
  });

  it('treats an "already exists" answer with the same integrity as success', async () => {
    const pkg = buildPackage({ name: 'already-there', version: '1.0.0' });
    // Someone published exactly these bytes before (for example a previous installation of the product).
    const client = new TargetRegistryClient({
      url: verdaccio.url,
      token: verdaccio.token,
      timeoutMs: 30_000,
      signal: new AbortController().signal,
    });
    await publishToTarget(
      client,
      { name: pkg.name, version: pkg.version, tarball: pkg.tarball, manifest: pkg.manifest },
      silentLog,
    );

    const id = await seedPackage(db, cacheDir, pkg, Status.Approved);
    const requests: Array<{ method: string; url: string }> = [];
    let hidden = false;
    // A stale first read (a CDN, or a concurrent publisher) makes the stage PUT anyway; Verdaccio answers 409.
    const stage = createPublishStage({
      fetch: countingFetch(requests, (method, url) => {
        if (method === 'GET' && url.endsWith('/already-there') && !hidden) {
          hidden = true;
          return new Response('{"error":"not found"}', { status: 404 });
        }
        return undefined;
      }),
    });
    const results = await runPublishRound(db, config, stage);
    expect(results).toEqual([{ packageId: id, outcome: 'done' }]);
    expect(requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect((await statusOf(id)).status).toBe(Status.Published);
    expect(await verdaccioStorage('already-there')).toMatchObject({
      versions: ['1.0.0'],
      tarballs: ['already-there-1.0.0.tgz'],
    });
  });

  it('rejects a version the target already has with different contents', async () => {
    const theirs = buildPackage({
      name: 'squatted',
      version: '3.0.0',
      files: { 'index.js': 'module.exports = "not the vetted one";\n' },
    });
    const ours = buildPackage({ name: 'squatted', version: '3.0.0' });
    const client = new TargetRegistryClient({
      url: verdaccio.url,
      token: verdaccio.token,
      timeoutMs: 30_000,
      signal: new AbortController().signal,
    });
    await publishToTarget(
      client,
      { name: theirs.name, version: theirs.version, tarball: theirs.tarball, manifest: theirs.manifest },
      silentLog,
    );

    const id = await seedPackage(db, cacheDir, ours, Status.Approved);
    const results = await runPublishRound(db, config, publishStage);
    expect(results[0]?.outcome).toBe('rejected');
    const st = await statusOf(id);
    expect(st).toMatchObject({ status: Status.Rejected, rejection_kind: 'error' });
    expect(st.rejection_reason).toContain('already exists in the target registry with different contents');
    expect(st.rejection_reason).toContain(ours.integrity);
  });

  it('never moves latest backwards when an older version is published after a newer one', async () => {
    const newer = buildPackage({ name: 'two-versions', version: '2.1.0' });
    const older = buildPackage({ name: 'two-versions', version: '1.9.0' });
    await seedPackage(db, cacheDir, newer, Status.Approved);
    expect((await runPublishRound(db, config, publishStage)).map((r) => r.outcome)).toEqual(['done']);
    await seedPackage(db, cacheDir, older, Status.Approved);
    expect((await runPublishRound(db, config, publishStage)).map((r) => r.outcome)).toEqual(['done']);

    const stored = await verdaccioStorage('two-versions');
    expect(stored.versions.sort()).toEqual(['1.9.0', '2.1.0']);
    expect(stored.distTags).toMatchObject({ latest: '2.1.0', [BACKFILL_TAG]: '1.9.0' });
    const install = await npmInstall(verdaccio.url, ['two-versions']);
    cleanup.push(install.dir);
    expect(install.ok, install.output).toBe(true);
    expect(install.locked['node_modules/two-versions']).toMatchObject({ version: '2.1.0', integrity: newer.integrity });
  });

  it('refuses to publish a stored tarball that no longer matches its checksum, without contacting the registry', async () => {
    const pkg = buildPackage({ name: 'tampered', version: '1.0.0' });
    const id = await seedPackage(db, cacheDir, pkg, Status.Approved);
    const { storage_key } = await statusOf(id);
    const evil = buildPackage({
      name: 'tampered',
      version: '1.0.0',
      files: { 'index.js': 'require("child_process")' },
    });
    await writeFile(join(cacheDir, storage_key!), evil.tarball);
    const requests: Array<{ method: string; url: string }> = [];
    const results = await runPublishRound(db, config, createPublishStage({ fetch: countingFetch(requests) }));
    expect(results[0]?.outcome).toBe('rejected');
    expect((await statusOf(id)).rejection_reason).toContain('no longer matches its checksum');
    expect(requests).toHaveLength(0);
  });

  it('rejects at once when the target refuses the token, naming TARGET_REGISTRY_TOKEN', async () => {
    const pkg = buildPackage({ name: 'bad-token', version: '1.0.0' });
    const id = await seedPackage(db, cacheDir, pkg, Status.Approved);
    const badConfig = publishConfig({
      databaseUrl: tdb.url,
      cacheDir,
      targetUrl: verdaccio.url,
      targetToken: 'not-a-token',
    });
    const results = await runPublishRound(db, badConfig, publishStage);
    expect(results[0]?.outcome).toBe('rejected');
    const st = await statusOf(id);
    expect(st).toMatchObject({ status: Status.Rejected, rejection_kind: 'error' });
    expect(st.rejection_reason).toMatch(/answered 40[13].*TARGET_REGISTRY_TOKEN|token may publish/);
  });

  it('retries later when the target answers 5xx', async () => {
    const pkg = buildPackage({ name: 'flaky-target', version: '1.0.0' });
    const id = await seedPackage(db, cacheDir, pkg, Status.Approved);
    const requests: Array<{ method: string; url: string }> = [];
    const stage = createPublishStage({
      fetch: countingFetch(requests, (method) =>
        method === 'PUT' ? new Response('bad gateway', { status: 502 }) : undefined,
      ),
    });
    const results = await runPublishRound(db, config, stage);
    expect(results[0]).toMatchObject({ outcome: 'retry', error: expect.stringContaining('answered 502') });
    const st = await statusOf(id);
    expect(st.status).toBe(Status.Approved);
    expect(st.run_at.getTime()).toBeGreaterThan(Date.now());
    expect(st.last_error).toContain('502');
  });

  it('completes without a target registry: the built-in registry serves the package', async () => {
    const pkg = buildPackage({ name: 'builtin-only', version: '1.0.0' });
    const id = await seedPackage(db, cacheDir, pkg, Status.Approved);
    const requests: Array<{ method: string; url: string }> = [];
    const noTarget = publishConfig({ databaseUrl: tdb.url, cacheDir });
    const results = await runPublishRound(db, noTarget, createPublishStage({ fetch: countingFetch(requests) }));
    expect(results).toEqual([{ packageId: id, outcome: 'done' }]);
    expect(requests).toHaveLength(0);
    expect(await statusOf(id)).toMatchObject({ status: Status.Published, published_to: 'builtin' });
  });
});

export type { BuiltPackage };
