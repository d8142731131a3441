import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryRejected, Status, type StageName } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { BaseWorker } from '../src/base-worker.js';
import { loadConfig } from '../src/config.js';
import { permanentCause, TransientError } from '../src/errors.js';
import type { StageHandler } from '../src/stages/types.js';
import { enqueue, eventsOf, packageId, statusOf, waitFor } from './support/worker.js';

// Issue 11, finding 8: a deterministic failure was retried with backoff five times (80 s for vite),
// holding its request open. Data and integrity errors (SQLSTATE 22, 23) and bugs end the package at once.

let t: TestDatabase;
let worker: BaseWorker;
/** What the licence stage does for each package name; changed by the tests ("the fix"). */
const behaviour = new Map<string, 'data-error' | 'unique-violation' | 'bug' | 'transient' | 'ok'>();

/** A worker whose licence stage does what `behaviour` says, against the real database. */
class ScriptedWorker extends BaseWorker {
  private readonly licence: StageHandler = async ({ pkg, db }) => {
    switch (behaviour.get(pkg.name)) {
      case 'data-error':
        // What storing a NUL in jsonb did to vite, iconv-lite and yauzl: 22P05.
        await sql`SELECT ${JSON.stringify({ evidence: 'a\u0000b' })}::jsonb`.execute(db);
        break;
      case 'unique-violation':
        await sql`INSERT INTO packages (name, version) VALUES (${pkg.name}, ${pkg.version})`.execute(db);
        break;
      case 'bug':
        (undefined as unknown as { field: string }).field.toString();
        break;
      case 'transient':
        throw new TransientError('the registry answered HTTP 503');
    }
    return { kind: 'done', reason: 'licence fine' };
  };
  protected stageHandler(stage: StageName): StageHandler | undefined {
    return stage === 'licence' ? this.licence : undefined;
  }
}

beforeAll(async () => {
  t = await createTestDatabase();
  const config = loadConfig(
    {
      DATABASE_URL: t.url,
      SOURCE_REGISTRY_URL: 'http://registry.example.test/',
      WORKER_SLEEP_INTERVAL: '0.2',
      WORKER_RETRY_BASE_SECONDS: '0.2',
      WORKER_MAX_ATTEMPTS: '3',
      WORKER_STAGES: 'licence',
      LOG_LEVEL: 'silent',
      LOG_FORMAT: 'json',
    },
    { npmRegistry: () => null },
  );
  worker = new ScriptedWorker({ config, logger: pino({ level: 'silent' }) });
  await worker.start();
});

afterAll(async () => {
  await worker?.shutdown();
  await t?.destroy();
});

const pkg = (name: string) => ({
  name,
  version: '1.0.0',
  integrity: null,
  resolved: null,
  license: 'MIT',
  dev: false,
  optional: false,
});

async function settled(name: string) {
  return waitFor(
    async () => {
      const s = await statusOf(t.db, name);
      return s.status === Status.Rejected || s.status === Status.LicenceChecked ? s : null;
    },
    30_000,
    `${name} settled`,
  );
}

describe('permanent and transient failures', () => {
  it('ends a PostgreSQL data error (22P05) at once with kind error, and the retry endpoint re-runs it after the fix', async () => {
    behaviour.set('nul-evidence', 'data-error');
    await enqueue(t.db, [pkg('nul-evidence')]);
    const s = await settled('nul-evidence');
    expect(s).toMatchObject({ status: Status.Rejected, rejection_kind: 'error', attempts: 1 });
    expect(s.rejection_reason).toMatch(/^the database refused the data \(SQLSTATE 22P05\): /);
    const tries = (await eventsOf(t.db, await packageId(t.db, 'nul-evidence'))).filter(
      (e) => e.to_status === Status.CheckingLicence,
    );
    expect(tries).toHaveLength(1);

    behaviour.set('nul-evidence', 'ok');
    expect(await retryRejected(t.db, { actor: 'admin' })).toHaveLength(1);
    expect(await settled('nul-evidence')).toMatchObject({ status: Status.LicenceChecked, rejection_kind: null });
  });

  it('ends an integrity error (SQLSTATE 23505) and a programming error at once', async () => {
    behaviour.set('dup-insert', 'unique-violation');
    behaviour.set('buggy', 'bug');
    await enqueue(t.db, [pkg('dup-insert'), pkg('buggy')]);
    const dup = await settled('dup-insert');
    expect(dup).toMatchObject({ rejection_kind: 'error', attempts: 1 });
    expect(dup.rejection_reason).toMatch(/SQLSTATE 23505/);
    const bug = await settled('buggy');
    expect(bug).toMatchObject({ rejection_kind: 'error', attempts: 1 });
    expect(bug.rejection_reason).toMatch(/^internal error \(TypeError\): /);
  });

  it('still retries a transient failure up to WORKER_MAX_ATTEMPTS', async () => {
    behaviour.set('flaky-registry', 'transient');
    await enqueue(t.db, [pkg('flaky-registry')]);
    const s = await settled('flaky-registry');
    expect(s).toMatchObject({ rejection_kind: 'error', attempts: 3 });
    expect(s.rejection_reason).toMatch(/^gave up after 3 attempts: the registry answered HTTP 503/);
  });
});

describe('permanentCause', () => {
  it('finds a data error inside a TransientError, and treats fetch failures as network trouble', async () => {
    const err = await sql`SELECT 'x'::int`.execute(t.db).catch((e: unknown) => e as Error);
    expect(permanentCause(err)).toMatch(/SQLSTATE 22P02/);
    expect(permanentCause(new TransientError('advisory lookup failed', { cause: err }))).toMatch(/SQLSTATE 22P02/);
    expect(permanentCause(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }))).toBeNull();
    expect(
      permanentCause(new TransientError('reading the packument', { cause: new SyntaxError('bad JSON') })),
    ).toBeNull();
  });
});
