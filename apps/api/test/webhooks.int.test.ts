import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, generatedLockfile, setStatus, setupApp, type TestApp } from './helpers.js';

/** Webhook endpoints through the admin API: validation, secrets shown once, the delivery log, redelivery, audit. */

let t: TestApp;
let strict: TestApp;

beforeAll(async () => {
  t = await setupApp({ WEBHOOK_ALLOW_PRIVATE: 'true' });
  strict = await setupApp();
});
afterAll(async () => {
  await t?.close();
  await strict?.close();
});

const admin = () => bearer(t.tokens.admin);
const create = (app: TestApp, payload: Record<string, unknown>) =>
  app.app.inject({ method: 'POST', url: '/api/admin/webhooks', headers: bearer(app.tokens.admin), payload });

describe('webhook endpoints', () => {
  it('registers an endpoint, shows the generated secret once, lists it without, and audits it', async () => {
    const r = await create(t, {
      url: 'http://127.0.0.1:9/hooks',
      events: ['package.rejected', 'request.settled'],
      description: 'CI bot',
    });
    expect(r.statusCode, r.body).toBe(201);
    const w = r.json();
    expect(w.secret).toMatch(/^whsec_[\w-]{40,}$/);
    expect(w).toMatchObject({
      url: 'http://127.0.0.1:9/hooks',
      events: ['package.rejected', 'request.settled'],
      enabled: true,
    });
    const list = await t.app.inject({ method: 'GET', url: '/api/admin/webhooks', headers: admin() });
    expect(list.json().webhooks).toHaveLength(1);
    expect(JSON.stringify(list.json())).not.toContain(w.secret);
    const audited = await t.db
      .selectFrom('audit_log')
      .select(['action', 'details'])
      .where('action', 'like', 'webhook.%')
      .execute();
    expect(audited.map((a) => a.action)).toEqual(['webhook.create']);
    expect(JSON.stringify(audited)).not.toContain(w.secret);
  });

  it('refuses what is not an http(s) URL, credentials in the URL, unknown events and short secrets, with codes', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ url: 'ftp://127.0.0.1/x', events: ['package.rejected'] }, 'ERR_WEBHOOK_URL'],
      [{ url: 'not a url', events: ['package.rejected'] }, 'ERR_WEBHOOK_URL'],
      [{ url: 'http://user:pw@127.0.0.1/x', events: ['package.rejected'] }, 'ERR_WEBHOOK_URL'],
      [{ url: 'http://127.0.0.1/x', events: ['package.exploded'] }, 'ERR_VALIDATION'],
      [{ url: 'http://127.0.0.1/x', events: [] }, 'ERR_VALIDATION'],
      [{ url: 'http://127.0.0.1/x', events: ['package.rejected'], secret: 'short' }, 'ERR_VALIDATION'],
      [{ url: 'http://host.invalid/x', events: ['package.rejected'] }, 'ERR_WEBHOOK_URL'],
    ];
    for (const [payload, code] of cases) {
      const r = await create(t, payload);
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(r.json().error.code, JSON.stringify(payload)).toBe(code);
    }
  });

  it('refuses loopback, private and link-local addresses unless WEBHOOK_ALLOW_PRIVATE=true', async () => {
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://localhost/x',
      'http://10.1.2.3/x',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/x',
      'http://[::ffff:192.168.1.1]/x',
    ]) {
      const r = await create(strict, { url, events: ['package.rejected'] });
      expect(r.statusCode, url).toBe(400);
      expect(r.json().error.code, url).toBe('ERR_WEBHOOK_ADDRESS');
      expect(r.json().error.message).toContain('WEBHOOK_ALLOW_PRIVATE');
    }
    expect(await strict.db.selectFrom('webhooks').selectAll().execute()).toHaveLength(0);
  });

  it('is for admins only', async () => {
    for (const role of ['user', 'approver'] as const) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/admin/webhooks',
        headers: bearer(t.tokens[role]),
        payload: { url: 'http://127.0.0.1/x', events: ['package.rejected'] },
      });
      expect(r.statusCode).toBe(403);
    }
  });

  it('keeps a delivery log that fills from status changes, and redelivers on request', async () => {
    const w = (await create(t, { url: 'http://127.0.0.1:9/log', events: ['package.pending_approval'] })).json();
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: bearer(t.tokens.user),
      payload: generatedLockfile(3, 'hooklog'),
    });
    const ids = (
      await t.db
        .selectFrom('request_packages')
        .select('package_id')
        .where('request_id', '=', up.json().request_id)
        .execute()
    ).map((r) => Number(r.package_id));
    await setStatus(t.db, ids, 'Pending Approval');

    const log = await t.app.inject({
      method: 'GET',
      url: `/api/admin/webhooks/${w.id}/deliveries?page_size=2`,
      headers: admin(),
    });
    expect(log.statusCode).toBe(200);
    expect(log.json()).toMatchObject({ total: 3, page_size: 2 });
    expect(log.json().deliveries).toHaveLength(2);
    expect(log.json().deliveries[0]).toMatchObject({
      event_type: 'package.pending_approval',
      status: 'pending',
      attempts: 0,
    });

    const deliveryId = log.json().deliveries[0].id;
    const again = await t.app.inject({
      method: 'POST',
      url: `/api/admin/webhooks/${w.id}/deliveries/${deliveryId}/redeliver`,
      headers: admin(),
    });
    expect(again.statusCode).toBe(202);
    expect(again.json().event_id).toBe(log.json().deliveries[0].event_id);
    // Another endpoint's delivery is not this endpoint's to redeliver.
    const other = (await create(t, { url: 'http://127.0.0.1:9/other', events: ['package.published'] })).json();
    const wrong = await t.app.inject({
      method: 'POST',
      url: `/api/admin/webhooks/${other.id}/deliveries/${deliveryId}/redeliver`,
      headers: admin(),
    });
    expect(wrong.statusCode).toBe(404);
    expect(wrong.json().error.code).toBe('ERR_WEBHOOK_DELIVERY_NOT_FOUND');

    const ping = await t.app.inject({ method: 'POST', url: `/api/admin/webhooks/${w.id}/ping`, headers: admin() });
    expect(ping.statusCode).toBe(202);
    const pings = await t.app.inject({
      method: 'GET',
      url: `/api/admin/webhooks/${w.id}/deliveries`,
      headers: admin(),
    });
    expect(pings.json().deliveries[0]).toMatchObject({ event_type: 'ping', event_id: ping.json().event_id });
  });

  it('disables, changes and removes an endpoint; a disabled one gets no new events', async () => {
    const w = (await create(t, { url: 'http://127.0.0.1:9/toggle', events: ['package.rejected'] })).json();
    const off = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/webhooks/${w.id}`,
      headers: admin(),
      payload: { enabled: false },
    });
    expect(off.json().enabled).toBe(false);
    const up = await t.app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: bearer(t.tokens.user),
      payload: generatedLockfile(1, 'hookoff'),
    });
    const [row] = await t.db
      .selectFrom('request_packages')
      .select('package_id')
      .where('request_id', '=', up.json().request_id)
      .execute();
    await setStatus(t.db, [Number(row!.package_id)], 'Rejected');
    const log = await t.app.inject({ method: 'GET', url: `/api/admin/webhooks/${w.id}/deliveries`, headers: admin() });
    expect(log.json().total).toBe(0);

    const bad = await t.app.inject({
      method: 'PATCH',
      url: `/api/admin/webhooks/${w.id}`,
      headers: admin(),
      payload: { url: 'gopher://x' },
    });
    expect(bad.statusCode).toBe(400);
    const del = await t.app.inject({ method: 'DELETE', url: `/api/admin/webhooks/${w.id}`, headers: admin() });
    expect(del.statusCode).toBe(204);
    const gone = await t.app.inject({ method: 'DELETE', url: `/api/admin/webhooks/${w.id}`, headers: admin() });
    expect(gone.json().error.code).toBe('ERR_WEBHOOK_NOT_FOUND');
  });
});
