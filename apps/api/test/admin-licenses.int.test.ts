import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appCalls, bearer, setStatus, setupApp, type TestApp } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());
const { upload, packageIdsOf } = appCalls(() => t);

describe('admin: licence policy', () => {
  const h = () => bearer(t.tokens.admin);

  it('lists the policy and shows one licence with its usage', async () => {
    const list = (await t.app.inject({ method: 'GET', url: '/api/admin/licenses', headers: h() })).json();
    expect(list.licenses.find((l: { spdx_id: string }) => l.spdx_id === 'MIT')).toMatchObject({
      tier: 'always_allowed',
    });
    const one = await t.app.inject({ method: 'GET', url: '/api/admin/licenses/mit', headers: h() });
    expect(one.json()).toMatchObject({ spdx_id: 'MIT', packages_using: expect.any(Number) });
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/admin/licenses/LicenseRef-nope', headers: h() })).statusCode,
    ).toBe(404);
  });

  it('adds licences with valid SPDX ids only, in their canonical spelling', async () => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/api/admin/licenses',
      headers: h(),
      payload: { spdx_id: 'apache-1.1', name: 'Apache 1.1', tier: 'allowed' },
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ spdx_id: 'Apache-1.1', tier: 'allowed' });
    for (const spdx_id of ['LicenseRef-acme-eula', 'GPL-2.0-only WITH Classpath-exception-2.0', 'MPL-1.0+']) {
      const ok = await t.app.inject({
        method: 'POST',
        url: '/api/admin/licenses',
        headers: h(),
        payload: { spdx_id, name: spdx_id, tier: 'avoid' },
      });
      expect(ok.statusCode, ok.body).toBe(201);
    }
    for (const spdx_id of ['NOT-A-LICENSE', 'MIT WITH Nonsense-exception', 'MIT OR ISC', '../etc']) {
      const bad = await t.app.inject({
        method: 'POST',
        url: '/api/admin/licenses',
        headers: h(),
        payload: { spdx_id, name: 'x', tier: 'avoid' },
      });
      expect(bad.statusCode, spdx_id).toBe(400);
      expect(bad.json().error.code).toBe('ERR_INVALID_SPDX_ID');
    }
    const tier = await t.app.inject({
      method: 'POST',
      url: '/api/admin/licenses',
      headers: h(),
      payload: { spdx_id: 'Zed', name: 'x', tier: 'maybe' },
    });
    expect(tier.json().error.code).toBe('ERR_VALIDATION');
    const dup = await t.app.inject({
      method: 'POST',
      url: '/api/admin/licenses',
      headers: h(),
      payload: { spdx_id: 'mit', name: 'MIT', tier: 'allowed' },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('ERR_LICENSE_EXISTS');
  });

  // Issue 11, finding 10: the worker upgrades GPL-2.0 to GPL-2.0-only before it looks a tier up, so a
  // row written as GPL-2.0 never matched anything.
  it('stores a deprecated SPDX id as the canonical id the worker looks up, and answers with it', async () => {
    const cases: Array<[string, string]> = [
      ['GPL-1.0', 'GPL-1.0-only'],
      ['lgpl-2.0+', 'LGPL-2.0-or-later'],
      ['GPL-3.0-with-GCC-exception', 'GPL-3.0-only WITH GCC-exception-3.1'],
      ['AGPL-3.0 WITH Universal-FOSS-exception-1.0', 'AGPL-3.0-only WITH Universal-FOSS-exception-1.0'],
    ];
    for (const [given, canonical] of cases) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/api/admin/licenses',
        headers: h(),
        payload: { spdx_id: given, name: given, tier: 'blocked' },
      });
      expect(r.statusCode, r.body).toBe(201);
      expect(r.json().spdx_id).toBe(canonical);
    }
    const byOldId = await t.app.inject({ method: 'GET', url: '/api/admin/licenses/GPL-1.0', headers: h() });
    expect(byOldId.json()).toMatchObject({ spdx_id: 'GPL-1.0-only', tier: 'blocked' });
    const again = await t.app.inject({
      method: 'POST',
      url: '/api/admin/licenses',
      headers: h(),
      payload: { spdx_id: 'GPL-1.0-only', name: 'x', tier: 'avoid' },
    });
    expect(again.statusCode).toBe(409);
  });

  it('changes a tier and audits the before and after', async () => {
    const r = await t.app.inject({
      method: 'PATCH',
      url: '/api/admin/licenses/Apache-1.1',
      headers: h(),
      payload: { tier: 'blocked', notes: 'legal review' },
    });
    expect(r.json()).toMatchObject({ tier: 'blocked', notes: 'legal review' });
    const a = await t.db
      .selectFrom('audit_log')
      .select('details')
      .where('action', '=', 'license.update')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(a.details).toMatchObject({ from: { tier: 'allowed' }, to: { tier: 'blocked' } });
  });

  it('refuses to delete a licence packages use unless forced', async () => {
    const id = (
      await upload(t.tokens.user, {
        lockfileVersion: 3,
        packages: { 'node_modules/isc-user': { version: '1.0.0', license: 'ISC' } },
      })
    ).json().request_id;
    const [pid] = await packageIdsOf(id);
    await setStatus(t.db, [pid!], 'Pending Approval', { license_expression: '(ISC OR GPL-2.0+)' });
    // A package that only declares ISC in its lockfile (not yet evaluated) counts as well.
    const declared = await upload(t.tokens.user, {
      lockfileVersion: 3,
      packages: { 'node_modules/isc-declared': { version: '2.0.0', license: 'ISC' } },
    });
    expect(declared.statusCode).toBe(202);
    const using = (await t.app.inject({ method: 'GET', url: '/api/admin/licenses/ISC', headers: h() })).json()
      .packages_using;
    expect(using).toBe(2);
    const r = await t.app.inject({ method: 'DELETE', url: '/api/admin/licenses/ISC', headers: h() });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatchObject({ code: 'ERR_LICENSE_IN_USE', details: { packages: using } });
    // GPL-2.0+ references GPL-2.0 too (counted via the expression), and Apache-1.1 is unused.
    expect(
      (await t.app.inject({ method: 'DELETE', url: '/api/admin/licenses/Apache-1.1', headers: h() })).statusCode,
    ).toBe(204);
    const forced = await t.app.inject({ method: 'DELETE', url: '/api/admin/licenses/ISC?force=true', headers: h() });
    expect(forced.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'GET', url: '/api/admin/licenses/ISC', headers: h() })).statusCode).toBe(404);
    const a = await t.db
      .selectFrom('audit_log')
      .select('details')
      .where('action', '=', 'license.delete')
      .where('target_id', '=', 'ISC')
      .executeTakeFirstOrThrow();
    expect(a.details).toMatchObject({ force: true, packages_using: using });
  });
});
