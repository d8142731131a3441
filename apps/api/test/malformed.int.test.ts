import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, setupApp, writeCounts, type TestApp } from './helpers.js';

/**
 * Hostile and broken input: every case must be answered 4xx with an error code, never 5xx, and must
 * write nothing (row counts of every table an upload or an admin action touches are compared).
 */
interface Case {
  name: string;
  method?: 'POST' | 'PATCH' | 'GET';
  url?: string;
  role?: 'user' | 'approver' | 'admin' | null;
  contentType?: string;
  body: string | Buffer;
  status?: number;
  code?: string;
}

const realV3 = readFileSync(new URL('./fixtures/npm-v3.package-lock.json', import.meta.url), 'utf8');
const LIMIT = 256 * 1024;
const S10K = 'x'.repeat(10_000);
const SHA512 = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;

const lock = (packages: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  JSON.stringify({
    name: 'bad',
    version: '1.0.0',
    lockfileVersion: 3,
    ...top,
    packages: { '': { name: 'bad', version: '1.0.0' }, ...packages },
  });
const entry = (e: Record<string, unknown>, path = 'node_modules/a') => lock({ [path]: { version: '1.0.0', ...e } });
const v1 = (deps: unknown) => JSON.stringify({ name: 'bad', version: '1.0.0', lockfileVersion: 1, dependencies: deps });

function multipartBody(
  parts: Array<{ field: string; filename?: string; content: string | Buffer }>,
  boundary = 'XyZbOuNdArY',
) {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = p.filename ? `form-data; name="${p.field}"; filename="${p.filename}"` : `form-data; name="${p.field}"`;
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: ${disp}\r\n\r\n`),
      Buffer.from(p.content),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const cases: Case[] = [];
const add = (name: string, body: string | Buffer, code?: string, extra: Partial<Case> = {}) =>
  cases.push({ name, body, code, ...extra });

// Not JSON at all, or truncated.
add('empty body', '', 'ERR_NOT_JSON');
add('whitespace', '   \n\t', 'ERR_NOT_JSON');
add('byte order mark only', '\uFEFF', 'ERR_NOT_JSON');
add('plain text', 'hello', 'ERR_NOT_JSON');
add('single quotes', "{'lockfileVersion': 3}", 'ERR_NOT_JSON');
add('trailing comma', '{"lockfileVersion":3,}', 'ERR_NOT_JSON');
add('comment', '// lock\n{"lockfileVersion":3}', 'ERR_NOT_JSON');
add('NaN', '{"lockfileVersion":NaN}', 'ERR_NOT_JSON');
add('trailing garbage', '{"lockfileVersion":3}}', 'ERR_NOT_JSON');
add('two documents', '{"lockfileVersion":3}{"lockfileVersion":3}', 'ERR_NOT_JSON');
add('invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'ERR_NOT_JSON');
add('UTF-16 encoded', Buffer.from(realV3.slice(0, 200), 'utf16le'), 'ERR_NOT_JSON');
for (const cut of [1, 2, 10, 50, 100, 500, 1000, 5000, 10_000, 30_000, realV3.length - 2]) {
  add(`real v3 lockfile truncated to ${cut} characters`, realV3.slice(0, cut), 'ERR_NOT_JSON');
}
for (const [what, text] of [
  ['null', 'null'],
  ['a number', '3'],
  ['true', 'true'],
  ['a string', '"package-lock"'],
  ['an empty array', '[]'],
  ['an array of lockfiles', `[${realV3}]`],
] as const) {
  add(`JSON ${what}`, text, 'ERR_NOT_LOCKFILE');
}
add('deeply nested arrays', '['.repeat(5000) + ']'.repeat(5000), 'ERR_NOT_LOCKFILE');
add('deeply nested objects', '{"a":'.repeat(2000) + '1' + '}'.repeat(2000), 'ERR_NOT_LOCKFILE');
add(
  'a package.json',
  JSON.stringify({ name: 'x', version: '1.0.0', dependencies: { a: '^1.0.0' } }),
  'ERR_NOT_LOCKFILE',
);
add('an empty object', '{}', 'ERR_NOT_LOCKFILE');

// lockfileVersion.
for (const v of [0, 4, 5, -1, 1.5, 2.0000001, 1e300])
  add(`lockfileVersion ${v}`, `{"lockfileVersion":${v},"packages":{}}`, 'ERR_LOCKFILE_UNSUPPORTED_VERSION');
for (const v of ['"3"', '"1"', 'null', 'true', '[3]', '{"v":3}', `"${S10K}"`]) {
  add(
    `lockfileVersion ${v.slice(0, 12)}`,
    `{"lockfileVersion":${v},"packages":{}}`,
    'ERR_LOCKFILE_UNSUPPORTED_VERSION',
  );
}

// Structure.
for (const [what, packages] of [
  ['a string', '"x"'],
  ['an array', '[]'],
  ['a number', '1'],
  ['null', 'null'],
] as const) {
  add(`v3 packages ${what}`, `{"lockfileVersion":3,"packages":${packages}}`, 'ERR_NOT_LOCKFILE');
}
add('v3 without packages', '{"lockfileVersion":3,"dependencies":{"a":{"version":"1.0.0"}}}', 'ERR_NOT_LOCKFILE');
add('v1 dependencies a string', v1('x'), 'ERR_NOT_LOCKFILE');
add('v1 dependencies an array', v1([{ version: '1.0.0' }]), 'ERR_NOT_LOCKFILE');
add('v1 nested dependencies a number', v1({ a: { version: '1.0.0', dependencies: 5 } }), 'ERR_LOCKFILE_ENTRY');
add('v1 entry null', v1({ a: null }), 'ERR_LOCKFILE_ENTRY');
add('v1 alias without version', v1({ a: { version: 'npm:real' } }), 'ERR_LOCKFILE_ENTRY');
add('v1 git dependency', v1({ a: { version: 'git+ssh://git@example.test/a.git#1234' } }), 'ERR_LOCKFILE_ENTRY');
add('v1 empty', v1({}), 'ERR_LOCKFILE_EMPTY');
add('empty packages', '{"lockfileVersion":3,"packages":{}}', 'ERR_LOCKFILE_EMPTY');
add('only the root', lock({}), 'ERR_LOCKFILE_EMPTY');
add(
  'only links and workspaces',
  lock({ 'packages/a': { version: '1.0.0' }, 'node_modules/a': { resolved: 'packages/a', link: true } }),
  'ERR_LOCKFILE_EMPTY',
);
add(
  'only bundled dependencies',
  lock({ 'node_modules/a': { version: '1.0.0', inBundle: true } }),
  'ERR_LOCKFILE_EMPTY',
);
for (const [what, value] of [
  ['a string', '"x"'],
  ['a number', '1'],
  ['null', 'null'],
  ['an array', '[]'],
  ['true', 'true'],
] as const) {
  add(`entry ${what}`, `{"lockfileVersion":3,"packages":{"node_modules/a":${value}}}`, 'ERR_LOCKFILE_ENTRY');
}
add(
  'root entry a string',
  '{"lockfileVersion":3,"packages":{"":"x","node_modules/a":{"version":"1.0.0"}}}',
  'ERR_LOCKFILE_ENTRY',
);

// __proto__ and friends.
add(
  '__proto__ package name',
  '{"lockfileVersion":3,"packages":{"node_modules/__proto__":{"version":"1.0.0"}}}',
  'ERR_LOCKFILE_ENTRY',
);
add(
  '__proto__ only key of packages',
  '{"lockfileVersion":3,"packages":{"__proto__":{"version":"1.0.0"}}}',
  'ERR_LOCKFILE_EMPTY',
);
add(
  '__proto__ carrying lockfileVersion',
  '{"__proto__":{"lockfileVersion":3},"packages":{"node_modules/a":{"version":"1.0.0"}}}',
  'ERR_NOT_LOCKFILE',
);
add(
  '__proto__ carrying packages',
  '{"lockfileVersion":3,"__proto__":{"packages":{"node_modules/a":{"version":"1.0.0"}}}}',
  'ERR_NOT_LOCKFILE',
);
add(
  '__proto__ carrying version',
  '{"lockfileVersion":3,"packages":{"node_modules/a":{"__proto__":{"version":"1.0.0"}}}}',
  'ERR_LOCKFILE_ENTRY',
);
add(
  'constructor.prototype name',
  '{"lockfileVersion":3,"packages":{"node_modules/constructor":{"__proto__":{"version":"1.0.0"}}}}',
  'ERR_LOCKFILE_ENTRY',
);
add(
  'v1 __proto__ dependency',
  '{"lockfileVersion":1,"dependencies":{"__proto__":{"version":"1.0.0"}}}',
  'ERR_LOCKFILE_ENTRY',
);
add('__proto__ name field', entry({ name: '__proto__' }), 'ERR_LOCKFILE_ENTRY');

// Names.
for (const name of [
  '..',
  '.hidden',
  '_private',
  '@s/../../etc/passwd',
  '../../etc/passwd',
  'a/b',
  '@UPPER/case',
  '@scope/',
  '@/x',
  'a b',
  'a\tb',
  'a:b',
  'a?b',
  'a#b',
  'a%2fb',
  'node_modules',
  'favicon.ico',
  'x'.repeat(215),
  S10K,
  'caf\u00e9',
  '\ud83d\ude00',
]) {
  add(
    `package name ${JSON.stringify(name).slice(0, 30)}`,
    lock({ [`node_modules/${name}`]: { version: '1.0.0' } }),
    'ERR_LOCKFILE_ENTRY',
  );
}
add('name field a number', entry({ name: 1 }), 'ERR_LOCKFILE_ENTRY');
add('name field uppercase scope', entry({ name: '@Evil/pkg' }), 'ERR_LOCKFILE_ENTRY');
add('name field empty', entry({ name: '' }), 'ERR_LOCKFILE_ENTRY');

// Versions.
for (const version of [
  '',
  'latest',
  '1',
  '1.0',
  'v1.0.0',
  '=1.0.0',
  ' 1.0.0',
  '^1.0.0',
  '1.0.0 || 2.0.0',
  '*',
  `1.0.0-${S10K}`,
  'file:../a',
  'https://example.test/a.tgz',
]) {
  add(`version ${JSON.stringify(version).slice(0, 30)}`, entry({ version }), 'ERR_LOCKFILE_ENTRY');
}
for (const [what, version] of [
  ['a number', 1],
  ['null', null],
  ['an object', { major: 1 }],
  ['an array', ['1.0.0']],
  ['true', true],
] as const) {
  add(`version ${what}`, entry({ version }), 'ERR_LOCKFILE_ENTRY');
}

// Integrity.
for (const integrity of [
  'md5-AAAAAAAAAAAAAAAAAAAAAA==',
  'sha512-',
  'sha512-AAAA',
  'sha512-!!!!',
  `sha256-${Buffer.alloc(31).toString('base64')}`,
  `sha1-${Buffer.alloc(32).toString('base64')}`,
  'sha512',
  'deadbeef',
  `${SHA512} md5-AAAAAAAAAAAAAAAAAAAAAA==`,
  `sha512-${S10K}`,
  '',
]) {
  add(`integrity ${JSON.stringify(integrity).slice(0, 30)}`, entry({ integrity }), 'ERR_LOCKFILE_ENTRY');
}
add('integrity a number', entry({ integrity: 5 }), 'ERR_LOCKFILE_ENTRY');
add(
  'conflicting integrity for one name@version',
  lock({
    'node_modules/a': { version: '1.0.0', integrity: SHA512 },
    'node_modules/b/node_modules/a': {
      version: '1.0.0',
      integrity: `sha512-${Buffer.alloc(64, 8).toString('base64')}`,
    },
  }),
  'ERR_LOCKFILE_ENTRY',
);

// Resolved.
for (const resolved of [
  'git+ssh://git@example.test/a.git#abc',
  'git://example.test/a.git',
  'github:user/repo',
  'file:a-1.0.0.tgz',
  'https://example.test/a-1.0.0.tgz',
  'javascript:alert(1)',
  'data:application/gzip;base64,AAAA',
  'ftp://example.test/a/-/a-1.0.0.tgz',
  `https://registry.example.test/a/-/${S10K}.tgz`,
]) {
  add(`resolved ${resolved.slice(0, 30)}`, entry({ resolved }), 'ERR_LOCKFILE_ENTRY');
}
add('resolved a number', entry({ resolved: 1 }), 'ERR_LOCKFILE_ENTRY');

// Flags and licence.
for (const [flag, value] of [
  ['dev', 'true'],
  ['optional', 1],
  ['devOptional', null],
  ['inBundle', 'yes'],
  ['link', 'true'],
] as const) {
  add(`${flag} ${JSON.stringify(value)}`, entry({ [flag]: value }), 'ERR_LOCKFILE_ENTRY');
}
add('license a number', entry({ license: 5 }), 'ERR_LOCKFILE_ENTRY');
add('license true', entry({ license: true }), 'ERR_LOCKFILE_ENTRY');
add('license 10,000 characters', entry({ license: S10K }), 'ERR_LOCKFILE_ENTRY');
add('legacy licence object 10,000 characters', entry({ license: { type: S10K } }), 'ERR_LOCKFILE_ENTRY');

// Application identity.
add(
  'application name 10,000 characters',
  lock({ 'node_modules/a': { version: '1.0.0' } }, { name: S10K, packages: undefined }).replace(
    '"name":"bad","version":"1.0.0"}',
    `"name":"${S10K}","version":"1.0.0"}`,
  ),
  'ERR_LOCKFILE_ENTRY',
);
add(
  'application version an object',
  JSON.stringify({ lockfileVersion: 3, version: { v: 1 }, packages: { 'node_modules/a': { version: '1.0.0' } } }),
  'ERR_LOCKFILE_ENTRY',
);
add('application_name query of 10,000 characters', lock({ 'node_modules/a': { version: '1.0.0' } }), 'ERR_VALIDATION', {
  url: `/api/packages/upload?application_name=${S10K}`,
});

// Values PostgreSQL cannot store.
add(
  'NUL character in a field',
  '{"lockfileVersion":3,"x":"\\u0000","packages":{"node_modules/a":{"version":"1.0.0"}}}',
  'ERR_LOCKFILE_CONTENT',
);
add(
  'NUL character in a key',
  '{"lockfileVersion":3,"\\u0000":1,"packages":{"node_modules/a":{"version":"1.0.0"}}}',
  'ERR_LOCKFILE_CONTENT',
);
add(
  'unpaired surrogate',
  '{"lockfileVersion":3,"x":"\\udc00","packages":{"node_modules/a":{"version":"1.0.0"}}}',
  'ERR_LOCKFILE_CONTENT',
);
add(
  'NUL in a licence',
  '{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0","license":"MIT\\u0000"}}}',
  'ERR_LOCKFILE_CONTENT',
);

// Size and media type.
add(
  'a body over UPLOAD_MAX_BYTES',
  JSON.stringify({ lockfileVersion: 3, packages: { 'node_modules/a': { version: '1.0.0' } }, pad: 'x'.repeat(LIMIT) }),
  'ERR_PAYLOAD_TOO_LARGE',
  { status: 413 },
);
add('a 5 MiB body', Buffer.alloc(5 * 1024 * 1024, 0x20), 'ERR_PAYLOAD_TOO_LARGE', { status: 413 });
add('XML', '<lockfile/>', 'ERR_UNSUPPORTED_MEDIA_TYPE', { contentType: 'application/xml', status: 415 });
add('a form post', 'lockfileVersion=3', 'ERR_UNSUPPORTED_MEDIA_TYPE', {
  contentType: 'application/x-www-form-urlencoded',
  status: 415,
});
// YAML is a lockfile format now (pnpm-lock.yaml); told by content, so npm's lockfileVersion 3 in YAML is refused as pnpm's.
add('YAML with an npm lockfileVersion', 'lockfileVersion: 3', 'ERR_LOCKFILE_UNSUPPORTED_VERSION', {
  contentType: 'application/yaml',
});
add('text/plain that is neither JSON nor a known text lockfile', 'lockfile: 3', 'ERR_NOT_JSON', {
  contentType: 'text/plain',
});
const mp = 'multipart/form-data; boundary=XyZbOuNdArY';
add('multipart without a file', multipartBody([{ field: 'application_name', content: 'x' }]), 'ERR_MULTIPART_FIELD', {
  contentType: mp,
});
add(
  'multipart file in the wrong field',
  multipartBody([{ field: 'lockfile', filename: 'p.json', content: lock({ 'node_modules/a': { version: '1.0.0' } }) }]),
  'ERR_MULTIPART_FIELD',
  { contentType: mp },
);
add(
  'multipart with two files',
  multipartBody([
    { field: 'file', filename: 'a.json', content: lock({ 'node_modules/a': { version: '1.0.0' } }) },
    { field: 'file', filename: 'b.json', content: lock({ 'node_modules/b': { version: '1.0.0' } }) },
  ]),
  undefined,
  { contentType: mp },
);
add(
  'multipart file that is not JSON',
  multipartBody([{ field: 'file', filename: 'p.json', content: 'nope' }]),
  'ERR_NOT_JSON',
  { contentType: mp },
);
add(
  'multipart file with a bad entry',
  multipartBody([{ field: 'file', filename: 'p.json', content: entry({ version: 'x' }) }]),
  'ERR_LOCKFILE_ENTRY',
  { contentType: mp },
);
add(
  'multipart file over the limit',
  multipartBody([{ field: 'file', filename: 'p.json', content: 'x'.repeat(LIMIT + 10) }]),
  'ERR_PAYLOAD_TOO_LARGE',
  { contentType: mp, status: 413 },
);
add(
  'multipart with a wrong boundary',
  multipartBody([{ field: 'file', filename: 'p.json', content: '{}' }], 'OTHER'),
  undefined,
  { contentType: mp },
);
add('multipart without a boundary', 'garbage', undefined, { contentType: 'multipart/form-data' });
add(
  'multipart application_name of 10,000 characters',
  multipartBody([
    { field: 'application_name', content: S10K },
    { field: 'file', filename: 'p.json', content: lock({ 'node_modules/a': { version: '1.0.0' } }) },
  ]),
  undefined,
  { contentType: mp },
);

// Control characters inside the lockfile: PostgreSQL refuses NUL in text and JSON, so none may reach it.
add('root name with NUL', lock({ 'node_modules/a': { version: '1.0.0' } }, { name: 'app\u0000x' }));
add('licence with NUL', entry({ license: 'MIT\u0000' }));
add('resolved with NUL', entry({ resolved: 'https://registry.example.test/a/-/a-1.0.0.tgz\u0000' }));
add('unknown field with NUL', entry({ funding: { url: 'x\u0000' } }));
add('root version with NUL', lock({ 'node_modules/a': { version: '1.0.0' } }, { version: '1.0.0\u0000' }));
add('raw NUL byte in the text', `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0"}}}\u0000`);
add(
  'yarn.lock with NUL',
  '# yarn lockfile v1\n\na@^1.0.0:\n  version "1.0.0\u0000"\n  resolved "https://registry.example.test/a/-/a-1.0.0.tgz"\n',
  undefined,
  { contentType: 'text/plain' },
);
add(
  'pnpm-lock with NUL',
  "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {integrity: x\u0000}\n",
  undefined,
  { contentType: 'text/plain' },
);

// Other routes' JSON bodies.
const other = (
  name: string,
  url: string,
  body: string,
  code: string | undefined,
  role: Case['role'] = 'admin',
  method: Case['method'] = 'POST',
) => add(name, body, code, { url, role, method });
other('login: truncated JSON', '/api/auth/login', '{"username":"a","pass', 'ERR_NOT_JSON', null);
other('login: an array', '/api/auth/login', '[]', 'ERR_VALIDATION', null);
other(
  'login: __proto__ key',
  '/api/auth/login',
  '{"username":"a","password":"b","__proto__":{"role":"admin"}}',
  undefined,
  null,
);
other('login: username a number', '/api/auth/login', '{"username":{"$gt":""},"password":"x"}', 'ERR_VALIDATION', null);
other(
  'login: 10,000-character password',
  '/api/auth/login',
  JSON.stringify({ username: 'a', password: S10K }),
  'ERR_VALIDATION',
  null,
);
other(
  'login: 2 MiB body',
  '/api/auth/login',
  JSON.stringify({ username: 'a', password: 'x'.repeat(2 * 1024 * 1024) }),
  'ERR_PAYLOAD_TOO_LARGE',
  null,
);
other(
  'create user: role superuser',
  '/api/admin/users',
  JSON.stringify({ username: 'mallory', password: 'long enough password', role: 'superuser' }),
  'ERR_VALIDATION',
);
other(
  'create user: 10,000-character username',
  '/api/admin/users',
  JSON.stringify({ username: S10K, password: 'long enough password', role: 'user' }),
  'ERR_VALIDATION',
);
other(
  'create user: username with a slash',
  '/api/admin/users',
  JSON.stringify({ username: '../admin', password: 'long enough password', role: 'user' }),
  'ERR_VALIDATION',
);
other(
  'create user: extra field',
  '/api/admin/users',
  JSON.stringify({ username: 'mallory', password: 'long enough password', role: 'user', disabled: false, id: 1 }),
  'ERR_VALIDATION',
);
other('create user: null body', '/api/admin/users', 'null', 'ERR_VALIDATION');
other(
  'licence: tier wrong',
  '/api/admin/licenses',
  JSON.stringify({ spdx_id: 'MIT-0', name: 'x', tier: 'yes' }),
  'ERR_VALIDATION',
);
other(
  'licence: 10,000-character id',
  '/api/admin/licenses',
  JSON.stringify({ spdx_id: S10K, name: 'x', tier: 'avoid' }),
  'ERR_VALIDATION',
);
other(
  'licence: not an SPDX id',
  '/api/admin/licenses',
  JSON.stringify({ spdx_id: 'Totally-Free', name: 'x', tier: 'avoid' }),
  'ERR_INVALID_SPDX_ID',
);
other(
  'licence: expression instead of id',
  '/api/admin/licenses',
  JSON.stringify({ spdx_id: 'MIT AND GPL-3.0-only', name: 'x', tier: 'avoid' }),
  'ERR_INVALID_SPDX_ID',
);
other('licence patch: empty', '/api/admin/licenses/MIT', '{}', 'ERR_VALIDATION', 'admin', 'PATCH');
other('licence patch: tier a number', '/api/admin/licenses/MIT', '{"tier":3}', 'ERR_VALIDATION', 'admin', 'PATCH');
other(
  'batch: ids as strings',
  '/api/approvals/batch',
  JSON.stringify({ package_ids: ['one'], decision: 'approve' }),
  'ERR_VALIDATION',
  'approver',
);
other(
  'batch: 1,001 ids',
  '/api/approvals/batch',
  JSON.stringify({ package_ids: Array.from({ length: 1001 }, (_, i) => i + 1), decision: 'approve' }),
  'ERR_VALIDATION',
  'approver',
);
other(
  'batch: decision maybe',
  '/api/approvals/batch',
  JSON.stringify({ package_ids: [1], decision: 'maybe' }),
  'ERR_VALIDATION',
  'approver',
);
other(
  'batch: negative id',
  '/api/approvals/batch',
  JSON.stringify({ package_ids: [-1], decision: 'approve' }),
  'ERR_VALIDATION',
  'approver',
);
other(
  'batch: id beyond bigint',
  '/api/approvals/batch',
  JSON.stringify({ package_ids: [1e20], decision: 'approve' }),
  'ERR_VALIDATION',
  'approver',
);
other(
  'reject: 10,000-character reason',
  '/api/approvals/1/reject',
  JSON.stringify({ reason: S10K }),
  'ERR_VALIDATION',
  'approver',
);
other('approve: id not a number', '/api/approvals/abc/approve', '{}', 'ERR_VALIDATION', 'approver');
other(
  'retry: request_id a string',
  '/api/packages/processing/retry',
  JSON.stringify({ request_id: 'all' }),
  'ERR_VALIDATION',
);
other('retry: unknown field', '/api/packages/processing/retry', JSON.stringify({ everything: true }), 'ERR_VALIDATION');
other('user patch: role a number', '/api/admin/users/1', '{"role":1}', 'ERR_VALIDATION', 'admin', 'PATCH');
other(
  'user patch: id beyond int4',
  '/api/admin/users/99999999999',
  '{"role":"user"}',
  'ERR_VALIDATION',
  'admin',
  'PATCH',
);

let t: TestApp;
beforeAll(async () => {
  t = await setupApp({ UPLOAD_MAX_BYTES: String(LIMIT) });
});
afterAll(async () => t?.close());

it('has at least 100 cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(100);
});

describe.each(cases)('$name', (c) => {
  it('is answered 4xx with a code and writes nothing', async () => {
    const before = await writeCounts(t.db);
    const r = await t.app.inject({
      method: c.method ?? 'POST',
      url: c.url ?? '/api/packages/upload',
      headers: {
        ...(c.role === null ? {} : bearer(t.tokens[c.role ?? 'user'])),
        'content-type': c.contentType ?? 'application/json',
      },
      payload: c.body,
    });
    expect(r.statusCode, r.body.slice(0, 300)).toBeGreaterThanOrEqual(400);
    expect(r.statusCode, r.body.slice(0, 300)).toBeLessThan(500);
    if (c.status !== undefined) expect(r.statusCode).toBe(c.status);
    const err = r.json().error;
    expect(err.code).toMatch(/^ERR_[A-Z_]+$/);
    if (c.code !== undefined) expect(err.code).toBe(c.code);
    expect(typeof err.message).toBe('string');
    expect(await writeCounts(t.db)).toEqual(before);
  });
});

it('still accepts a valid lockfile afterwards (the corpus did not break the app)', async () => {
  const r = await t.app.inject({
    method: 'POST',
    url: '/api/packages/upload',
    headers: { ...bearer(t.tokens.user), 'content-type': 'application/json' },
    payload: realV3,
  });
  expect(r.statusCode).toBe(202);
});
