import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWorker } from '@spm/db';
import { appCalls, bearer, generatedLockfile, setStatus, setupApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());
const { upload, packageIdsOf } = appCalls(() => t);

describe('processing', () => {
  it('reports counts per status, queue depth, workers and recent activity', async () => {
    expect((await upload(t.tokens.user, generatedLockfile(3, 'counted'))).statusCode).toBe(202);
    await registerWorker(t.db, { id: 'worker-a', hostname: 'host-a', pid: 42, version: '0.1.0' });
    const r = await t.app.inject({
      method: 'GET',
      url: '/api/packages/processing/status',
      // An admin: worker hosts and pids are shown to admins only (four-eyes.int.test.ts has the rest).
      headers: bearer(t.tokens.admin),
    });
    expect(r.statusCode).toBe(200);
    const s = r.json();
    expect(s.counts.Requested).toBeGreaterThan(0);
    expect(s.total).toBe(Object.values(s.counts as Record<string, number>).reduce((a, b) => a + b, 0));
    expect(s.queue_depth).toBeGreaterThan(0);
    expect(s.workers).toEqual([expect.objectContaining({ id: 'worker-a', hostname: 'host-a', pid: 42, alive: true })]);
    expect(s.recent_activity.length).toBeGreaterThan(0);
    expect(s.recent_activity[0]).toHaveProperty('to');
  });

  it('re-queues error rejections (admin), never approver rejections; policy only when asked; audited', async () => {
    const id = (await upload(t.tokens.user, generatedLockfile(4, 'retry'))).json().request_id;
    const [a, b, c, d] = await packageIdsOf(id);
    await setStatus(t.db, [a!], 'Rejected', {
      rejection_kind: 'error',
      rejection_reason: 'gave up',
      rejected_from: 'Licence Checked',
    });
    await setStatus(t.db, [b!], 'Rejected', {
      rejection_kind: 'policy',
      rejection_reason: 'GPL-3.0-only is blocked',
      rejected_from: 'Requested',
    });
    await setStatus(t.db, [c!], 'Rejected', { rejection_kind: 'approver', rejection_reason: 'no' });
    await setStatus(t.db, [d!], 'Pending Approval');
    const r1 = await t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: bearer(t.tokens.admin),
      payload: { request_id: id },
    });
    expect(r1.statusCode).toBe(200);
    expect(r1.json()).toEqual({ requeued: 1, package_ids: [a] });
    const r2 = await t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: bearer(t.tokens.admin),
      payload: { request_id: id, include_policy: true },
    });
    expect(r2.json()).toEqual({ requeued: 1, package_ids: [b] });
    const st = new Map(
      (
        await t.db
          .selectFrom('package_status')
          .select(['package_id', 'status'])
          .where('package_id', 'in', [a!, b!, c!])
          .execute()
      ).map((r) => [r.package_id, r.status]),
    );
    expect(st.get(a!)).toBe('Licence Checked');
    expect(st.get(b!)).toBe('Requested');
    expect(st.get(c!)).toBe('Rejected');
    const audits = await t.db
      .selectFrom('audit_log')
      .select('details')
      .where('action', '=', 'processing.retry')
      .where('target_id', '=', String(id))
      .execute();
    expect(audits).toHaveLength(2);
    const missing = await t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: bearer(t.tokens.admin),
      payload: { request_id: 987654 },
    });
    expect(missing.statusCode).toBe(404);
    const noBody = await t.app.inject({
      method: 'POST',
      url: '/api/packages/processing/retry',
      headers: bearer(t.tokens.admin),
    });
    expect(noBody.statusCode).toBe(200);
  });
});
