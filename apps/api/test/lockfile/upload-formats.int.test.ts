import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, setupApp, writeCounts, type TestApp } from '../helpers.js';

/**
 * Every lockfile format through the one upload route: as a text body (any of the media types a CI job
 * or curl may send), as multipart field `file`; what is stored (the format, the lockfile as sent, Yarn
 * Berry's checksum per request package and never as integrity); and malformed input of each format
 * answered 4xx with a code, writing nothing.
 */
const fixture = (name: string) => readFileSync(new URL(`../fixtures/clients/${name}`, import.meta.url), 'utf8');
const FILES = {
  'yarn-classic': fixture('yarn1.yarn.lock'),
  'yarn-berry': fixture('yarn4.yarn.lock'),
  pnpm: fixture('pnpm9.pnpm-lock.yaml'),
  npm: fixture('npm.package-lock.json'),
};
const MEDIA = ['text/plain', 'application/yaml', 'application/x-yaml', 'text/yaml', 'application/octet-stream'];

function multipart(content: string, filename: string) {
  const b = 'FoRmBoUnDaRy';
  return {
    type: `multipart/form-data; boundary=${b}`,
    body: Buffer.from(
      `--${b}\r\nContent-Disposition: form-data; name="application_name"\r\n\r\nteam-app\r\n` +
        `--${b}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n\r\n${content}\r\n--${b}--\r\n`,
    ),
  };
}

let t: TestApp;
beforeAll(async () => {
  t = await setupApp();
});
afterAll(async () => t?.close());

const upload = (payload: string | Buffer, type: string, url = '/api/packages/upload') =>
  t.app.inject({ method: 'POST', url, headers: { ...bearer(t.tokens.user), 'content-type': type }, payload });

describe('accepted formats', () => {
  it.each(Object.entries(FILES))(
    '%s: as a text body of every media type, recognised by content',
    async (format, text) => {
      for (const type of format === 'npm' ? ['application/json', ...MEDIA] : MEDIA) {
        const r = await upload(text, type);
        expect(r.statusCode, `${type}: ${r.body.slice(0, 300)}`).toBe(202);
        expect(r.json(), type).toMatchObject({ lockfile_format: format, package_count: 40 });
      }
    },
  );

  it.each(Object.entries(FILES))('%s: as multipart field "file", named whatever', async (format, text) => {
    const m = multipart(text, 'lockfile.txt');
    const r = await upload(m.body, m.type);
    expect(r.statusCode, r.body.slice(0, 300)).toBe(202);
    expect(r.json()).toMatchObject({
      lockfile_format: format,
      application_name: format === 'yarn-berry' || format === 'npm' ? 'fixture-clients' : 'team-app',
    });
  });

  it('stores the format and the lockfile as sent, and counts skipped workspaces and patches', async () => {
    const r = await upload(FILES.pnpm, 'application/yaml');
    const { request_id, lockfile_version, skipped_entries } = r.json();
    expect({ lockfile_version, skipped_entries }).toEqual({ lockfile_version: 9, skipped_entries: 1 });
    const row = await t.db
      .selectFrom('requests')
      .select(['lockfile', 'lockfile_format', 'lockfile_version'])
      .where('id', '=', request_id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ lockfile: FILES.pnpm, lockfile_format: 'pnpm', lockfile_version: 9 });
    const berry = (await upload(FILES['yarn-berry'], 'text/plain')).json();
    expect(berry).toMatchObject({ lockfile_version: 10, skipped_entries: 3 });
  });

  it("records Yarn Berry's checksum per request package and never as the package's integrity", async () => {
    const first = (await upload(FILES['yarn-berry'], 'text/plain')).json();
    const rows = await t.db
      .selectFrom('request_packages')
      .innerJoin('packages', 'packages.id', 'request_packages.package_id')
      .select(['name', 'version', 'yarn_checksum', 'optional'])
      .where('request_id', '=', first.request_id)
      .execute();
    expect(rows).toHaveLength(40);
    expect(rows.every((r) => /^10c0\/[0-9a-f]{128}$/.test(r.yarn_checksum ?? ''))).toBe(true);
    expect(rows.filter((r) => r.optional).map((r) => r.name)).toEqual(['is-number']);
    // A package first submitted from a Berry lockfile has no integrity; the worker verifies against the registry's.
    const fresh = await upload(
      FILES['yarn-berry'].replaceAll('debug@npm:4.3.4', 'debug@npm:4.3.5').replace('version: 4.3.4', 'version: 4.3.5'),
      'text/plain',
    );
    expect(fresh.statusCode, fresh.body).toBe(202);
    const debug = await t.db
      .selectFrom('packages')
      .select(['integrity'])
      .where('name', '=', 'debug')
      .where('version', '=', '4.3.5')
      .executeTakeFirstOrThrow();
    expect(debug.integrity).toBeNull();
    const npmRows = await t.db
      .selectFrom('request_packages')
      .select(['yarn_checksum'])
      .where('request_id', '=', (await upload(FILES.npm, 'application/json')).json().request_id)
      .execute();
    expect(npmRows.every((r) => r.yarn_checksum === null)).toBe(true);
  });
});

const classic = FILES['yarn-classic'];
const berry = FILES['yarn-berry'];
const pnpm = FILES.pnpm;
const MALFORMED: Array<[string, string, string]> = [
  [
    'yarn 1: truncated inside a string',
    classic.slice(0, classic.indexOf('integrity sha512-') + 30).replace(/sha512-(\S*)$/, '"sha512-$1'),
    'ERR_LOCKFILE_SYNTAX',
  ],
  ['yarn 1: truncated mid-string', classic.slice(0, 400), 'ERR_LOCKFILE_SYNTAX'],
  ['yarn 1: an entry without version', classic.replace('  version "4.3.4"\n', ''), 'ERR_LOCKFILE_ENTRY'],
  [
    'yarn 1: git dependency',
    classic.replace(
      '"https://registry.example.test/debug/-/debug-4.3.4.tgz',
      '"git+https://git.example.test/debug.git',
    ),
    'ERR_LOCKFILE_ENTRY',
  ],
  ['yarn 1: version a range', classic.replace('version "4.3.4"', 'version "^4.3.4"'), 'ERR_LOCKFILE_ENTRY'],
  ['yarn 1: merge conflict', classic.replace('debug@4.3.4:', '<<<<<<< HEAD\ndebug@4.3.4:'), 'ERR_LOCKFILE_SYNTAX'],
  ['yarn 1: a tab', classic.replace('  version "4.3.4"', '\tversion "4.3.4"'), 'ERR_LOCKFILE_SYNTAX'],
  ['yarn 1: NUL', `${classic}\u0000`, 'ERR_LOCKFILE_CONTENT'],
  ['Berry: __metadata version 2', berry.replace('version: 10', 'version: 2'), 'ERR_LOCKFILE_UNSUPPORTED_VERSION'],
  ['Berry: truncated inside a quote', berry.slice(0, berry.indexOf('resolution: "') + 20), 'ERR_LOCKFILE_SYNTAX'],
  [
    'Berry: git resolution',
    berry.replace('resolution: "debug@npm:4.3.4"', 'resolution: "debug@https://git.example.test/debug.git#commit=abc"'),
    'ERR_LOCKFILE_ENTRY',
  ],
  [
    'Berry: exec resolution',
    berry.replace('resolution: "debug@npm:4.3.4"', 'resolution: "debug@exec:./x.js"'),
    'ERR_LOCKFILE_ENTRY',
  ],
  ['Berry: bad checksum', berry.replace(/checksum: 10c0\/[0-9a-f]{8}/, 'checksum: 10c0/zz'), 'ERR_LOCKFILE_ENTRY'],
  ['Berry: bad indentation', berry.replace('  version: 4.3.4', ' version: 4.3.4'), 'ERR_LOCKFILE_SYNTAX'],
  [
    'pnpm: lockfileVersion 5.4',
    pnpm.replace("lockfileVersion: '9.0'", 'lockfileVersion: 5.4'),
    'ERR_LOCKFILE_UNSUPPORTED_VERSION',
  ],
  ['pnpm: truncated inside a flow mapping', pnpm.slice(0, pnpm.indexOf('resolution: {') + 30), 'ERR_LOCKFILE_SYNTAX'],
  [
    'pnpm: tarball from elsewhere',
    pnpm.replace(
      /(debug@4\.3\.4:\n {4}resolution: \{)integrity/,
      '$1tarball: https://files.example.test/debug.tgz, integrity',
    ),
    'ERR_LOCKFILE_ENTRY',
  ],
  [
    'pnpm: git resolution',
    pnpm.replace(
      /(debug@4\.3\.4:\n {4}resolution: )\{[^}]*\}/,
      '$1{commit: abc, repo: https://git.example.test/d.git, type: git}',
    ),
    'ERR_LOCKFILE_ENTRY',
  ],
  [
    'pnpm: bad integrity',
    pnpm.replace(/(debug@4\.3\.4:\n {4}resolution: \{integrity: )sha512-[^}]*\}/, '$1sha512-AAAA}'),
    'ERR_LOCKFILE_ENTRY',
  ],
  ['pnpm: YAML alias', pnpm.replace('settings:', 'x: &x [1]\ny: *x\nsettings:'), 'ERR_LOCKFILE_SYNTAX'],
  ['pnpm: duplicate key', pnpm.replace('settings:', 'importers: {}\nsettings:'), 'ERR_LOCKFILE_SYNTAX'],
  ['pnpm: packages a list', "lockfileVersion: '9.0'\npackages: [1]\n", 'ERR_NOT_LOCKFILE'],
];

describe('malformed lockfiles of each format', () => {
  it.each(MALFORMED)('%s: 4xx with a code, nothing written', async (_what, text, code) => {
    for (const type of ['text/plain', 'application/yaml']) {
      const before = await writeCounts(t.db);
      const r = await upload(text, type);
      expect(r.statusCode, r.body.slice(0, 300)).toBe(400);
      expect(r.json().error.code, r.body.slice(0, 300)).toBe(code);
      expect(await writeCounts(t.db)).toEqual(before);
    }
  });
});
