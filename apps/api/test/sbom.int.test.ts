import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { Ajv } from 'ajv';
import formats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken, createUser, reevaluateAdvisories, upsertAdvisories } from '@spm/db';
import { bearer, generatedLockfile, PASSWORD, setStatus, setupApp, type TestApp } from './helpers.js';

/*
 * A request's bill of materials in both formats, validated against the official schemas (CycloneDX 1.6
 * through the CycloneDX library's strict validator, SPDX 2.3 with the spec's own schema), with the facts
 * each must carry: purls, hashes, licences, the gate's decision, vulnerabilities and waived ones as VEX.
 */

let t: TestApp;
let requestId: number;
const ids: Record<string, number> = {};
const SHA512 = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;

beforeAll(async () => {
  t = await setupApp();
  const up = await t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: bearer(t.tokens.user),
    payload: generatedLockfile(6, 'sbom'),
  });
  expect(up.statusCode, up.body).toBe(202);
  requestId = up.json().request_id;
  const rows = await t.db
    .selectFrom('request_packages as rp')
    .innerJoin('packages as p', 'p.id', 'rp.package_id')
    .select(['p.id', 'p.name'])
    .where('rp.request_id', '=', requestId)
    .execute();
  for (const r of rows) ids[r.name] = r.id;

  // @sbom/scoped-0: published by an approver, with the stored tarball's checksum.
  await setStatus(t.db, [ids['@sbom/scoped-0']!], 'Published', {
    license_expression: 'MIT',
    checksum: SHA512,
    policy_version: 1,
    policy_rule: 'allowed-licence',
    policy_outcome: 'approve',
    approved_by: t.users.approver.id,
    approved_at: new Date(),
    published_at: new Date(),
  });
  // sbom-1: waits for a person, with two vulnerabilities, one of them waived by an approver.
  await setStatus(t.db, [ids['sbom-1']!], 'Pending Approval', {
    license_expression: 'Apache-2.0 OR MIT',
    policy_version: 1,
    policy_rule: 'serious-vulnerability',
    policy_outcome: 'hold',
    policy_decision: JSON.stringify({
      waived: [
        {
          id: 7,
          kind: 'advisory',
          subject: 'CVE-2025-1111',
          reason: 'the vulnerable parser is never called',
          owner: 'security team',
          expiresAt: '2027-01-01T00:00:00.000Z',
        },
      ],
    }),
  });
  await t.db
    .insertInto('security_scans')
    .values({
      package_id: ids['sbom-1']!,
      scanners: JSON.stringify([{ name: 'builtin' }]),
      critical: 0,
      high: 2,
      medium: 0,
      low: 0,
      info: 0,
      findings: JSON.stringify([
        {
          id: 'GHSA-aaaa-bbbb-cccc',
          source: 'osv',
          severity: 'high',
          title: 'Prototype pollution in sbom-1',
          explanation: '…',
          aliases: ['CVE-2025-1111'],
          fixedVersions: ['1.2.0'],
          url: 'https://advisories.example.test/GHSA-aaaa-bbbb-cccc',
        },
        {
          id: 'GHSA-dddd-eeee-ffff',
          source: 'osv',
          severity: 'high',
          title: 'Denial of service in sbom-1',
          explanation: '…',
          aliases: [],
        },
        { id: 'install-script', source: 'signal', severity: 'medium', title: 'Runs a postinstall script' },
      ]),
      malware: false,
      score: 60,
      duration_ms: 5,
    })
    .execute();
  // An advisory arrives after @sbom/scoped-0 was published: it is quarantined (continuous protection).
  await upsertAdvisories(t.db, [
    {
      id: 'MAL-2026-0001',
      modified: new Date(),
      published: new Date(),
      withdrawn: null,
      aliases: [],
      summary: 'Malicious code in @sbom/scoped-0',
      severity: 'critical',
      cvssVector: null,
      malware: true,
      raw: { id: 'MAL-2026-0001' },
      affected: [
        {
          packageName: '@sbom/scoped-0',
          ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }],
          versions: [],
          fixedVersions: [],
        },
      ],
    },
  ]);
  const r = await reevaluateAdvisories(t.db, ['MAL-2026-0001'], { quarantineSeverities: ['critical', 'high'] });
  expect(r.quarantined).toBe(1);
  // sbom-2: a licence text that is no SPDX expression.
  await t.db
    .updateTable('packages')
    .set({ declared_license: 'SEE LICENSE IN LICENSE.txt' })
    .where('id', '=', ids['sbom-2']!)
    .execute();
});
afterAll(async () => t?.close());

const get = (format: string | null, token = t.tokens.user) =>
  t.app.inject({
    method: 'GET',
    url: `/api/packages/requests/${requestId}/sbom${format ? `?format=${format}` : ''}`,
    headers: bearer(token),
  });

describe('CycloneDX 1.6', () => {
  it('validates against the official schema and names every package with purl, hashes and licence', async () => {
    const res = await get(null);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/vnd\.cyclonedx\+json; version="?1\.6"?/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="sbom-app-1.0.0.cdx.json"');
    const errors = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(res.body);
    expect(errors).toBeNull();

    const bom = res.json();
    // The validator does reject a broken document (so the check above means something).
    const broken = structuredClone(bom);
    broken.components[0].type = 'not-a-type';
    expect(
      await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(JSON.stringify(broken)),
    ).not.toBeNull();
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
    expect(bom.serialNumber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    expect(bom.metadata.component).toMatchObject({ type: 'application', name: 'sbom-app', version: '1.0.0' });
    expect(bom.components).toHaveLength(6);
    expect(
      bom.dependencies.find((d: { ref: string }) => d.ref === bom.metadata.component['bom-ref']).dependsOn,
    ).toHaveLength(6);

    const scoped = bom.components.find((c: { name: string }) => c.name === 'scoped-0');
    expect(scoped).toMatchObject({
      group: '@sbom',
      version: '1.0.0',
      purl: 'pkg:npm/%40sbom/scoped-0@1.0.0',
      scope: 'optional', // a dev dependency in the lockfile
      licenses: [{ expression: 'MIT' }],
    });
    const hashes = Object.fromEntries(scoped.hashes.map((h: { alg: string; content: string }) => [h.alg, h.content]));
    expect(hashes['SHA-512']).toContain(Buffer.alloc(64, 7).toString('hex'));
    const props = Object.fromEntries(scoped.properties.map((p: { name: string; value: string }) => [p.name, p.value]));
    expect(props).toMatchObject({
      'spm:status': 'Published',
      'spm:policy:outcome': 'approve',
      'spm:policy:rule': 'allowed-licence',
      'spm:approved-by': 'test-approver',
      'cdx:npm:package:development': 'true',
    });
    expect(scoped.externalReferences[0].url).toBe('http://localhost:80/registry/@sbom/scoped-0/-/scoped-0-1.0.0.tgz');
    const named = bom.components.find((c: { name: string }) => c.name === 'sbom-2');
    expect(named.licenses).toEqual([{ license: { name: 'SEE LICENSE IN LICENSE.txt' } }]);
  });

  it('lists the vulnerabilities (not the signals), and a waived one as VEX not_affected', async () => {
    const bom = (await get('cyclonedx')).json();
    expect(bom.vulnerabilities).toHaveLength(3);
    const waived = bom.vulnerabilities.find((v: { id: string }) => v.id === 'GHSA-aaaa-bbbb-cccc');
    expect(waived).toMatchObject({
      ratings: [{ severity: 'high', method: 'other' }],
      affects: [{ ref: 'pkg:npm/sbom-1@1.1.1' }],
      analysis: { state: 'not_affected' },
      recommendation: 'Upgrade to 1.2.0.',
    });
    expect(waived.analysis.detail).toContain('Waiver #7 by security team');
    expect(waived.analysis.detail).toContain('the vulnerable parser is never called');
    const open = bom.vulnerabilities.find((v: { id: string }) => v.id === 'GHSA-dddd-eeee-ffff');
    expect(open.analysis).toBeUndefined();
  });

  it('lists an advisory that arrived after approval, quarantining the version', async () => {
    const bom = (await get(null)).json();
    const late = bom.vulnerabilities.find((v: { id: string }) => v.id === 'MAL-2026-0001');
    expect(late).toMatchObject({
      ratings: [{ severity: 'critical' }],
      affects: [{ ref: 'pkg:npm/%40sbom/scoped-0@1.0.0' }],
    });
    const props = Object.fromEntries(late.properties.map((p: { name: string; value: string }) => [p.name, p.value]));
    expect(props).toEqual({ 'spm:malware': 'true', 'spm:after-approval': 'true', 'spm:quarantined': 'true' });
    const spdx = (await get('spdx')).json();
    const scoped = spdx.packages.find((p: { name: string }) => p.name === '@sbom/scoped-0');
    expect(scoped.annotations.map((a: { comment: string }) => a.comment)).toContainEqual(
      expect.stringContaining('Quarantined: MAL-2026-0001'),
    );
  });
});

describe('SPDX 2.3', () => {
  it('validates against the official schema, with relationships, checksums, purls and the waiver', async () => {
    const res = await get('spdx');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/spdx\+json/);
    const schema = JSON.parse(
      await readFile(join(import.meta.dirname, 'fixtures/schemas/spdx-2.3.schema.json'), 'utf8'),
    );
    const ajv = new Ajv({ strict: false, allErrors: true });
    // ajv-formats is CommonJS with a `default` export: under NodeNext the plugin is that property.
    formats.default(ajv);
    const validate = ajv.compile(schema);
    const doc = res.json();
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 5))).toBe(true);
    const broken = structuredClone(doc);
    delete broken.packages[1].downloadLocation;
    expect(validate(broken)).toBe(false);

    expect(doc).toMatchObject({ spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT' });
    expect(doc.packages).toHaveLength(7); // the application and its six packages
    const pkg = (name: string) => doc.packages.find((p: { name: string }) => p.name === name);
    const scoped = pkg('@sbom/scoped-0');
    expect(scoped.checksums).toContainEqual({
      algorithm: 'SHA512',
      checksumValue: Buffer.alloc(64, 7).toString('hex'),
    });
    expect(scoped.externalRefs).toContainEqual({
      referenceCategory: 'PACKAGE-MANAGER',
      referenceType: 'purl',
      referenceLocator: 'pkg:npm/%40sbom/scoped-0@1.0.0',
    });
    expect(scoped.licenseConcluded).toBe('MIT');
    expect(pkg('sbom-1').licenseConcluded).toBe('Apache-2.0 OR MIT');
    expect(pkg('sbom-2').licenseDeclared).toBe('NOASSERTION');
    const rel = (id: string) =>
      doc.relationships.find((r: { spdxElementId: string }) => r.spdxElementId === id).relationshipType;
    expect(rel(scoped.SPDXID)).toBe('DEV_DEPENDENCY_OF');
    expect(rel(pkg('sbom-1').SPDXID)).toBe('DEPENDENCY_OF');
    const notes = pkg('sbom-1').annotations.map((a: { comment: string }) => a.comment);
    expect(notes).toContainEqual(
      expect.stringContaining('Gate status Pending Approval; policy v1 hold (rule serious-vulnerability)'),
    );
    expect(notes).toContainEqual(expect.stringContaining('VEX not_affected GHSA-aaaa-bbbb-cccc: waiver #7'));
    expect(pkg('sbom-1').externalRefs).toContainEqual(
      expect.objectContaining({ referenceCategory: 'SECURITY', referenceType: 'advisory' }),
    );
  });
});

describe('who may have it', () => {
  it('is for the request owner, approvers and read tokens; others get 404, bad formats 400', async () => {
    expect((await get(null, t.tokens.approver)).statusCode).toBe(200);
    const other = await createUser(t.db, { username: 'sbom-other', password: PASSWORD, role: 'user' });
    const res = await get(null, t.tokenFor(other));
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('ERR_REQUEST_NOT_FOUND');
    const read = await createApiToken(t.db, {
      userId: t.users.user.id,
      name: 'sbom-ci',
      scopes: ['read'],
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    expect((await get('spdx', read.secret)).statusCode).toBe(200);
    const bad = await get('xml');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('ERR_VALIDATION');
    const missing = await t.app.inject({
      method: 'GET',
      url: '/api/packages/requests/999999/sbom',
      headers: bearer(t.tokens.admin),
    });
    expect(missing.statusCode).toBe(404);
  });
});
