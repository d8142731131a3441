import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADVISORY_SYNC_LOCK_KEY, lastSyncRuns } from '@spm/db';
import { createTestDatabase, withClient, type TestDatabase } from '@spm/db/testing';
import { zip } from '@spm/testkit';
import type { AdvisoryConfig } from '../../src/config.js';
import { AdvisorySyncScheduler } from '../../src/protection/advisory-scheduler.js';

let t: TestDatabase;
let server: Server;
let base: string;
const seen: IncomingHttpHeaders[] = [];
const ETAG = '"export-1"';

const record = {
  id: 'GHSA-sync-0001',
  modified: '2026-05-01T00:00:00Z',
  summary: 'Prototype pollution in sync-probe',
  database_specific: { severity: 'HIGH' },
  affected: [
    {
      package: { ecosystem: 'npm', name: 'sync-probe' },
      ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.1.0' }] }],
    },
  ],
};
const exportZip = zip([{ name: `${record.id}.json`, data: Buffer.from(JSON.stringify(record)) }]);

function scheduler(over: Partial<AdvisoryConfig> = {}, interval = 3600) {
  const advisories: AdvisoryConfig = {
    databaseUrl: t.url,
    advisoriesUrl: `${base}/npm/all.zip?key=secret`,
    advisoriesToken: null,
    advisoriesMaxBytes: 10_000_000,
    advisoriesTimeoutSeconds: 10,
    quarantineSeverity: 'high',
    quarantineContact: null,
    ...over,
  };
  return new AdvisorySyncScheduler(
    { databaseUrl: t.url, advisories, advisoriesSyncIntervalSeconds: interval },
    pino({ level: 'silent' }),
    { workerId: 'sync-test' },
  );
}

beforeAll(async () => {
  t = await createTestDatabase();
  server = createServer((req, res) => {
    seen.push(req.headers);
    if (req.headers['if-none-match'] === ETAG) return res.writeHead(304, { etag: ETAG }).end();
    res.writeHead(200, {
      'content-type': 'application/zip',
      etag: ETAG,
      'last-modified': 'Fri, 01 May 2026 00:00:00 GMT',
    });
    res.end(exportZip);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { id } = await t.db
    .insertInto('packages')
    .values({ name: 'sync-probe', version: '1.0.0', integrity: null, resolved: null, declared_license: 'MIT' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await t.db.insertInto('package_status').values({ package_id: id, status: 'Published', license_flags: [] }).execute();
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await t?.destroy();
});

/** Moves every recorded run an interval into the past, so the next tick is due. */
async function age(): Promise<void> {
  await t.db
    .updateTable('advisory_sync_runs')
    .set((eb) => ({ started_at: eb.cast<Date>(eb.val('2000-01-01T00:00:00Z'), 'timestamptz') }))
    .execute();
}

describe('the scheduled advisory sync', () => {
  it('imports when due, records the run, re-evaluates, then asks conditionally and records not modified', async () => {
    const s = scheduler();
    try {
      const first = await s.tick();
      expect(first).toMatchObject({ kind: 'done', outcome: 'imported' });
      const { last } = await lastSyncRuns(t.db);
      expect(last).toMatchObject({
        outcome: 'imported',
        worker_id: 'sync-test',
        source: `${base}/npm/all.zip`,
        http_status: 200,
        etag: ETAG,
        written: 1,
        newly_affected: 1,
        quarantined: 1,
        error: null,
      });
      expect(last!.finished_at).not.toBeNull();
      const finding = await t.db.selectFrom('advisory_findings').selectAll().executeTakeFirstOrThrow();
      expect(finding).toMatchObject({ advisory_id: record.id, action: 'quarantine' });

      expect(await s.tick()).toEqual({ kind: 'not_due' });
      await age();
      expect(await s.tick()).toMatchObject({ kind: 'done', outcome: 'not_modified' });
      expect(seen.at(-1)).toMatchObject({
        'if-none-match': ETAG,
        'if-modified-since': 'Fri, 01 May 2026 00:00:00 GMT',
      });
      const runs = await lastSyncRuns(t.db);
      expect(runs.last).toMatchObject({ outcome: 'not_modified', http_status: 304, etag: ETAG });
      expect(runs.lastOk!.id).toBe(runs.last!.id);
    } finally {
      await s.stop();
    }
  });

  it('leaves the sync to the worker holding the lock', async () => {
    await age();
    const s = scheduler();
    try {
      await withClient(t.url, async (holder) => {
        await holder.query('SELECT pg_advisory_lock($1)', [ADVISORY_SYNC_LOCK_KEY]);
        expect(await s.tick()).toEqual({ kind: 'busy' });
        await holder.query('SELECT pg_advisory_unlock($1)', [ADVISORY_SYNC_LOCK_KEY]);
      });
      expect(await s.tick()).toMatchObject({ kind: 'done' });
    } finally {
      await s.stop();
    }
  });

  it('records a failure with its reason (an oversize export), and fails a run its worker abandoned', async () => {
    await age();
    await t.db.insertInto('advisory_sync_runs').values({ worker_id: 'dead', source: 'x' }).execute();
    await age();
    // Another source: the validators of the first are not sent, so the whole export comes.
    const s = scheduler({ advisoriesMaxBytes: 100, advisoriesUrl: `${base}/mirror/all.zip` });
    try {
      expect(await s.tick()).toMatchObject({ kind: 'done', outcome: 'failed' });
      const runs = await t.db.selectFrom('advisory_sync_runs').selectAll().orderBy('id', 'desc').limit(2).execute();
      expect(runs[0]).toMatchObject({ outcome: 'failed', error: expect.stringContaining('ADVISORIES_MAX_BYTES=100') });
      expect(runs[1]).toMatchObject({
        worker_id: 'dead',
        outcome: 'failed',
        error: 'the worker stopped during the run',
      });
    } finally {
      await s.stop();
    }
  });
});
