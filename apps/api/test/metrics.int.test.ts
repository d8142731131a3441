import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, generatedLockfile, setStatus, setupApp, type TestApp } from './helpers.js';

/*
 * The gauges the alert rules of docker/prometheus/alerts.yml read (checked there by promtool): a
 * worker that stopped heartbeating without shutting down counts as stale, and the package that has
 * waited longest for a person gives its age.
 */

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());

const gauge = async (name: string): Promise<number> => {
  const body = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  expect(m, `${name} in /metrics`).not.toBeNull();
  return Number(m![1]);
};

it('reports stale workers and the longest wait for a person', async () => {
  expect(await gauge('spm_workers_stale')).toBe(0);
  expect(await gauge('spm_pending_approval_oldest_age_seconds')).toBe(0);

  await sql`
    INSERT INTO workers (id, hostname, pid, started_at, last_heartbeat, in_flight, stopped_at) VALUES
      ('crashed', 'host-a', 11, now() - interval '1 hour', now() - interval '10 minutes', 2, NULL),
      ('stopped', 'host-a', 12, now() - interval '1 hour', now() - interval '10 minutes', 0, now() - interval '9 minutes'),
      ('alive',   'host-b', 13, now() - interval '1 hour', now(), 1, NULL)
  `.execute(t.db);
  expect(await gauge('spm_workers_stale')).toBe(1);
  expect(await gauge('spm_workers_alive')).toBe(1);

  const up = await t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: bearer(t.tokens.user),
    payload: generatedLockfile(2, 'waits'),
  });
  const ids = (
    await t.db
      .selectFrom('request_packages')
      .select('package_id')
      .where('request_id', '=', up.json().request_id)
      .execute()
  ).map((r) => r.package_id);
  await setStatus(t.db, [ids[0]!], 'Pending Approval', { updated_at: sql`now() - interval '3 days'` });
  await setStatus(t.db, [ids[1]!], 'Pending Approval', { updated_at: sql`now() - interval '1 hour'` });
  const age = await gauge('spm_pending_approval_oldest_age_seconds');
  expect(age).toBeGreaterThanOrEqual(3 * 86400);
  expect(age).toBeLessThan(3 * 86400 + 3600);
});
