import { afterAll, beforeAll, expect, it } from 'vitest';
import { createUser } from '@spm/db';
import { bearer, generatedLockfile, PASSWORD, setupApp, writeCounts, type TestApp } from './helpers.js';

/*
 * Who may set which priority: on upload (users normal or low, approvers and admins any) and by PATCH
 * of a waiting request (the requestor their own, approvers and admins any); shown in the request.
 */

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());

const upload = (role: 'user' | 'approver' | 'admin', query: string, prefix: string) =>
  t.app.inject({
    method: 'POST',
    url: `/api/packages/upload${query}`,
    headers: bearer(t.tokens[role]),
    payload: generatedLockfile(2, prefix),
  });

it('lets a user submit at normal or low, and refuses a raise with a code before writing anything', async () => {
  const before = await writeCounts(t.db);
  const refused = await upload('user', '?priority=urgent', 'refused');
  expect(refused.statusCode).toBe(403);
  expect(refused.json().error.code).toBe('ERR_PRIORITY_NOT_ALLOWED');
  expect(await writeCounts(t.db)).toEqual(before);
  expect((await upload('user', '?priority=sometime', 'bad')).statusCode).toBe(400);

  const low = await upload('user', '?priority=low', 'low');
  expect(low.statusCode).toBe(202);
  expect(low.json().priority).toBe('low');
  const plain = await upload('user', '', 'plain');
  expect(plain.json().priority).toBe('normal');
  const detail = await t.app.inject({
    method: 'GET',
    url: `/api/packages/requests/${low.json().request_id}?summary=true`,
    headers: bearer(t.tokens.user),
  });
  expect(detail.json().request.priority).toBe('low');
});

it('lets an approver submit urgent work, and queues its packages first', async () => {
  const res = await upload('approver', '?priority=urgent', 'urgent');
  expect(res.statusCode).toBe(202);
  expect(res.json().priority).toBe('urgent');
  const rows = await t.db
    .selectFrom('request_packages as rp')
    .innerJoin('package_status as ps', 'ps.package_id', 'rp.package_id')
    .select('ps.priority')
    .where('rp.request_id', '=', res.json().request_id)
    .execute();
  expect(rows.map((r) => r.priority)).toEqual([-20, -20]);
});

it('changes a waiting request: the requestor lowers their own, approvers set any, others see nothing', async () => {
  const mine = (await upload('user', '', 'mine')).json().request_id as number;
  const patch = (role: 'user' | 'approver', id: number, priority: string, token = t.tokens[role]) =>
    t.app.inject({
      method: 'PATCH',
      url: `/api/packages/requests/${id}`,
      headers: bearer(token),
      payload: { priority },
    });

  const lowered = await patch('user', mine, 'low');
  expect(lowered.statusCode).toBe(200);
  expect(lowered.json()).toMatchObject({ request: { id: mine, priority: 'low' }, repositioned_packages: 2 });

  const raised = await patch('user', mine, 'high');
  expect(raised.statusCode).toBe(403);
  expect(raised.json().error.code).toBe('ERR_PRIORITY_NOT_ALLOWED');

  const other = await createUser(t.db, { username: 'other-user', password: PASSWORD, role: 'user' });
  const foreign = await patch('user', mine, 'low', t.tokenFor(other));
  expect(foreign.statusCode).toBe(404);

  const byApprover = await patch('approver', mine, 'urgent');
  expect(byApprover.statusCode).toBe(200);
  expect(byApprover.json().request.priority).toBe('urgent');
  expect((await patch('approver', mine, 'whenever')).statusCode).toBe(400);
  expect((await patch('approver', 999999, 'high')).statusCode).toBe(404);

  const audit = await t.app.inject({
    method: 'GET',
    url: '/api/admin/audit?action=request.priority',
    headers: bearer(t.tokens.admin),
  });
  expect(audit.statusCode).toBe(200);
  expect(JSON.stringify(audit.json())).toContain('request.priority');
});
