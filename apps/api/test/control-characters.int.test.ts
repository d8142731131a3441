import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { createUser, type DB } from '@spm/db';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.js';
import { bearer, PASSWORD, testConfig, writeCounts } from './helpers.js';

/**
 * Every string parameter of every route, found in the OpenAPI document (so a new route is covered the day
 * it is added), is sent with a NUL and with another control character: each answer is a 400 with a stable
 * code, nothing is written, and nothing is logged at error level. Dates that name no real instant get the
 * same treatment.
 */
type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  minimum?: number;
  minItems?: number;
  format?: string;
  pattern?: string;
};
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: JsonSchema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

/** A value the schema accepts (enough to get past every other field to the one under test). */
function sample(s: JsonSchema): unknown {
  if (s.anyOf) return sample(s.anyOf.find((x) => x.type !== 'null') ?? s.anyOf[0]!);
  if (s.enum) return s.enum[0];
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'integer':
    case 'number':
      return Math.max(1, s.minimum ?? 1);
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => sample(s.items ?? {}));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const k of s.required ?? []) out[k] = sample(s.properties![k]!);
      return out;
    }
    case 'string':
      if (s.format === 'date-time') return '2026-01-01T00:00:00Z';
      if (s.pattern === '^@') return '@scope';
      return 'sample-value-long-enough';
    default:
      return 'x';
  }
}

const isString = (s: JsonSchema): boolean =>
  s.enum === undefined &&
  (s.type === 'string' || (Array.isArray(s.type) && s.type.includes('string')) || (s.anyOf ?? []).some(isString));

interface Probe {
  name: string;
  method: string;
  url: string;
  body?: unknown;
  /** The route answers npm-style `{ error: "…" }` (the registry) rather than `{ error: { code } }`. */
  npmStyle: boolean;
}

const BAD = [
  ['NUL', 'long-enough-value\u0000b'],
  ['escape', 'long-enough-value\u001b[31mb'],
  ['DEL', 'long-enough-value\u007fb'],
] as const;

function probesFor(doc: { paths: Record<string, Record<string, Operation>> }): Probe[] {
  const probes: Probe[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      // The registry's catch-all for writes (405 whatever the path) has no parameter to probe.
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method) || path.includes('{*}')) continue;
      const params = op.parameters ?? [];
      const pathValues = Object.fromEntries(
        params.filter((p) => p.in === 'path').map((p) => [p.name, String(sample(p.schema))]),
      );
      const query = Object.fromEntries(
        params.filter((p) => p.in === 'query' && p.required).map((p) => [p.name, String(sample(p.schema))]),
      );
      const bodySchema = op.requestBody?.content['application/json']?.schema;
      const body = bodySchema && bodySchema.type === 'object' ? sample(bodySchema) : undefined;
      const build = (pv: Record<string, string>, q: Record<string, string>) =>
        path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(pv[n]!)) +
        (Object.keys(q).length ? `?${new URLSearchParams(q).toString()}` : '');
      const npmStyle = path.startsWith('/registry');
      for (const [what, bad] of BAD) {
        for (const p of params.filter((x) => x.in !== 'header' && isString(x.schema))) {
          const pv = p.in === 'path' ? { ...pathValues, [p.name]: bad } : pathValues;
          const q = p.in === 'query' ? { ...query, [p.name]: bad } : query;
          probes.push({
            name: `${method.toUpperCase()} ${path} ${p.in} ${p.name} with ${what}`,
            method,
            url: build(pv, q),
            body,
            npmStyle,
          });
        }
        for (const [k, s] of Object.entries(bodySchema?.properties ?? {})) {
          if (!isString(s)) continue;
          probes.push({
            name: `${method.toUpperCase()} ${path} body ${k} with ${what}`,
            method,
            url: build(pathValues, query),
            body: { ...(body as object), [k]: bad },
            npmStyle,
          });
        }
      }
    }
  }
  return probes;
}

let tdb: TestDatabase;
let app: FastifyInstance;
let db: DB;
let adminToken: string;
const errorLines: string[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.db;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line && (JSON.parse(line) as { level: number }).level >= 50) errorLines.push(line);
      }
      done();
    },
  });
  app = await buildApp(testConfig(tdb.url), { db, logger: { level: 'info', stream: sink } });
  const admin = await createUser(db, { username: 'cc-admin', password: PASSWORD, role: 'admin' });
  adminToken = app.jwt.sign({ sub: String(admin.id), username: admin.username, role: admin.role });
});
afterAll(async () => {
  await app?.close();
  await tdb?.destroy();
});

describe('control characters in every string parameter', () => {
  it('every route and string parameter is refused with 400 and a code, writes nothing, logs no error', async () => {
    const probes = probesFor(app.swagger() as unknown as { paths: Record<string, Record<string, Operation>> });
    // The login, upload, audit, approvals, licences and registry parameters are all in it.
    expect(probes.length).toBeGreaterThan(60);
    expect(probes.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        'POST /api/auth/login body username with NUL',
        'POST /api/packages/upload query application_name with NUL',
        'GET /api/admin/audit/ query actor with NUL',
        'POST /api/approvals/{packageId}/reject body reason with NUL',
        'GET /registry/{name} path name with NUL',
      ]),
    );
    const failures: string[] = [];
    const before = await writeCounts(db);
    for (const p of probes) {
      const r = await app.inject({
        method: p.method as 'GET',
        url: p.url,
        headers: {
          ...bearer(adminToken),
          ...(p.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(p.body === undefined ? {} : { payload: JSON.stringify(p.body) }),
      });
      const body = r.json() as { error: unknown };
      const ok =
        r.statusCode === 400 &&
        (p.npmStyle
          ? typeof body.error === 'string'
          : (body.error as { code?: string }).code === 'ERR_CONTROL_CHARACTER');
      if (!ok) failures.push(`${p.name}: ${r.statusCode} ${r.body.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect(await writeCounts(db)).toEqual(before);
    expect(errorLines).toEqual([]);
  });

  it('refuses a control character in a multipart field of the upload', async () => {
    const boundary = 'ccBoundary';
    const payload = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="application_name"\r\n\r\na\u0000b\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="package-lock.json"\r\n\r\n` +
        `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0"}}}\r\n--${boundary}--\r\n`,
    );
    const before = await writeCounts(db);
    const r = await app.inject({
      method: 'POST',
      url: '/api/packages/upload',
      headers: { ...bearer(adminToken), 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload,
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('ERR_CONTROL_CHARACTER');
    expect(await writeCounts(db)).toEqual(before);
  });

  it('keeps line breaks in a free-text reason (the web app sends them from a text area)', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/api/approvals/999999/reject',
      headers: { ...bearer(adminToken), 'content-type': 'application/json' },
      payload: JSON.stringify({ reason: 'line one\nline two\tand a tab' }),
    });
    expect(r.statusCode).toBe(404);
  });
});

describe('dates that name no real instant', () => {
  it.each([
    '9999-12-31T23:59:60Z',
    '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '0000-01-01T00:00:00Z',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01',
    'yesterday',
  ])('audit ?to=%s is 400 ERR_INVALID_TIMESTAMP', async (when) => {
    for (const field of ['from', 'to']) {
      const r = await app.inject({
        method: 'GET',
        url: `/api/admin/audit?${field}=${encodeURIComponent(when)}`,
        headers: bearer(adminToken),
      });
      expect(r.statusCode).toBe(400);
      expect(r.json().error.code).toBe('ERR_INVALID_TIMESTAMP');
    }
    expect(errorLines).toEqual([]);
  });

  it('accepts real instants at the edges', async () => {
    for (const when of ['9999-12-31T23:59:59Z', '0001-01-01T00:00:00Z', '2024-02-29T12:00:00.123+05:30']) {
      const r = await app.inject({
        method: 'GET',
        url: `/api/admin/audit?to=${encodeURIComponent(when)}`,
        headers: bearer(adminToken),
      });
      expect(r.statusCode, `${when}: ${r.body}`).toBe(200);
    }
  });
});
