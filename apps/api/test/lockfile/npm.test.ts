import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError } from '@spm/db';
import {
  integrityConflicts,
  isRegistryTarball,
  parseNpmLockfile as parseLockfile,
  parseLockfileText,
} from '../../src/lockfile/index.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const SHA512 = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
const SHA512_B = `sha512-${Buffer.alloc(64, 2).toString('base64')}`;
const SHA1 = `sha1-${Buffer.alloc(20, 3).toString('base64')}`;
const tgz = (name: string, version: string) =>
  `https://registry.example.test/${name}/-/${name.split('/').pop()}-${version}.tgz`;

function v3(packages: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    name: 'app',
    version: '1.0.0',
    lockfileVersion: 3,
    packages: { '': { name: 'app', version: '1.0.0' }, ...packages },
    ...extra,
  };
}

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected an AppError');
}

const set = (pkgs: Array<{ name: string; version: string }>) => pkgs.map((p) => `${p.name}@${p.version}`).sort();

describe('real lockfiles written by npm', () => {
  for (const v of ['v1', 'v2', 'v3']) {
    it(`yields exactly the package set npm ls reports for the ${v} fixture`, () => {
      const parsed = parseLockfileText(fixture(`npm-${v}.package-lock.json`));
      const expected = JSON.parse(fixture(`npm-${v}.expected.json`)) as string[];
      expect(set(parsed.packages)).toEqual([...expected].sort());
      expect(parsed.lockfileVersion).toBe(Number(v.slice(1)));
    });
  }

  it('reads the application name and version from the root', () => {
    expect(parseLockfileText(fixture('npm-v1.package-lock.json'))).toMatchObject({
      applicationName: 'fixture-v1',
      applicationVersion: '1.0.0',
    });
    expect(parseLockfileText(fixture('npm-v2.package-lock.json'))).toMatchObject({
      applicationName: 'fixture-v2',
      applicationVersion: '2.3.4',
    });
    expect(parseLockfileText(fixture('npm-v3.package-lock.json'))).toMatchObject({
      applicationName: '@acme/fixture-v3',
      applicationVersion: '3.0.0',
    });
  });

  it('keeps integrity, resolved, licence and dev flags from the v3 fixture', () => {
    const parsed = parseLockfileText(fixture('npm-v3.package-lock.json'));
    const yargs = parsed.packages.find((p) => p.name === 'yargs')!;
    expect(yargs).toMatchObject({ version: '17.7.2', dev: true, optional: false, license: 'MIT' });
    expect(yargs.integrity).toMatch(/^sha512-/);
    expect(yargs.resolved).toBe('https://registry.example.test/yargs/-/yargs-17.7.2.tgz');
    const glob = parsed.packages.find((p) => p.name === 'glob')!;
    expect(glob.dev).toBe(false);
  });

  it('names aliased installs by their real package (npm: aliases)', () => {
    const parsed = parseLockfileText(fixture('npm-v3.package-lock.json'));
    expect(parsed.packages.some((p) => p.name === 'string-width-v4' || p.name === 'string-width-cjs')).toBe(false);
    expect(
      parsed.packages
        .filter((p) => p.name === 'string-width')
        .map((p) => p.version)
        .sort(),
    ).toEqual(['4.2.3', '5.1.2']);
  });

  it('finds nested scoped packages', () => {
    const parsed = parseLockfileText(fixture('npm-v3.package-lock.json'));
    const cliui = parsed.packages
      .filter((p) => p.name === '@isaacs/cliui')
      .map((p) => p.version)
      .sort();
    expect(cliui).toHaveLength(2);
  });

  it('parses an npm-shrinkwrap.json, which has the same format', () => {
    const shrinkwrap = fixture('npm-v2.package-lock.json');
    expect(parseLockfileText(shrinkwrap).packages.length).toBe(92);
  });

  it('ignores a UTF-8 byte order mark', () => {
    expect(parseLockfileText(`\uFEFF${fixture('npm-v1.package-lock.json')}`).packages.length).toBe(85);
  });
});

describe('lockfile v1', () => {
  it('walks nested dependencies and builds node_modules paths for errors', () => {
    const doc = {
      name: 'app',
      version: '1.0.0',
      lockfileVersion: 1,
      dependencies: {
        a: {
          version: '1.0.0',
          integrity: SHA1,
          dependencies: { b: { version: '2.0.0', dependencies: { '@s/c': { version: '3.0.0' } } } },
        },
        b: { version: '1.0.0', dev: true },
      },
    };
    expect(set(parseLockfile(doc).packages)).toEqual(['@s/c@3.0.0', 'a@1.0.0', 'b@1.0.0', 'b@2.0.0']);
    const bad = {
      lockfileVersion: 1,
      dependencies: { a: { version: '1.0.0', dependencies: { b: { version: 'nope' } } } },
    };
    expect(errorOf(() => parseLockfile(bad)).details).toMatchObject({ path: 'node_modules/a/node_modules/b' });
  });

  it('resolves npm 6 aliases ("version": "npm:real@1.2.3")', () => {
    const doc = { lockfileVersion: 1, dependencies: { alias: { version: 'npm:@scope/real@1.2.3' } } };
    expect(parseLockfile(doc).packages[0]).toMatchObject({ name: '@scope/real', version: '1.2.3' });
  });

  it('skips bundled dependencies and local folder links', () => {
    const doc = {
      lockfileVersion: 1,
      dependencies: {
        a: { version: '1.0.0', dependencies: { inner: { version: '1.0.0', bundled: true } } },
        local: { version: 'file:packages/local' },
      },
    };
    const parsed = parseLockfile(doc);
    expect(set(parsed.packages)).toEqual(['a@1.0.0']);
    expect(parsed.skipped.map((s) => s.reason).sort()).toEqual(['bundled', 'link']);
  });

  it('rejects git dependencies and file tarballs with the entry named', () => {
    for (const version of ['git+https://example.test/x.git#abc', 'github:user/repo#abc', 'file:vendor/x-1.0.0.tgz']) {
      const e = errorOf(() => parseLockfile({ lockfileVersion: 1, dependencies: { x: { version } } }));
      expect(e.code).toBe('ERR_LOCKFILE_ENTRY');
      expect(e.message).toContain('not from a registry');
      expect(e.details).toMatchObject({ path: 'node_modules/x' });
    }
  });

  it('treats a v2 lockfile without "packages" like v1', () => {
    expect(set(parseLockfile({ lockfileVersion: 2, dependencies: { a: { version: '1.0.0' } } }).packages)).toEqual([
      'a@1.0.0',
    ]);
  });
});

describe('lockfile v2/v3 entries', () => {
  it('derives names from node_modules paths, scoped and nested', () => {
    const parsed = parseLockfile(
      v3({
        'node_modules/a': { version: '1.0.0' },
        'node_modules/@s/b': { version: '1.0.0' },
        'node_modules/a/node_modules/@s/b': { version: '2.0.0' },
        'node_modules/a/node_modules/c/node_modules/d': { version: '0.0.1-beta.1' },
      }),
    );
    expect(set(parsed.packages)).toEqual(['@s/b@1.0.0', '@s/b@2.0.0', 'a@1.0.0', 'd@0.0.1-beta.1']);
  });

  it('lets a "name" field win over the folder (aliases)', () => {
    const parsed = parseLockfile(v3({ 'node_modules/my-alias': { name: 'real-pkg', version: '1.0.0' } }));
    expect(parsed.packages[0]!.name).toBe('real-pkg');
  });

  it('skips the root, workspace folders, links and bundled dependencies', () => {
    const parsed = parseLockfile(
      v3({
        'packages/ws': { name: 'ws-local', version: '1.0.0' },
        'node_modules/ws-local': { resolved: 'packages/ws', link: true },
        'node_modules/a': { version: '1.0.0' },
        'node_modules/a/node_modules/inner': { version: '1.0.0', inBundle: true },
      }),
    );
    expect(set(parsed.packages)).toEqual(['a@1.0.0']);
    expect(parsed.skipped.map((s) => s.reason).sort()).toEqual(['bundled', 'link', 'root', 'workspace']);
  });

  it('deduplicates name@version; needed in production if any occurrence is', () => {
    const parsed = parseLockfile(
      v3({
        'node_modules/a': { version: '1.0.0', dev: true, integrity: SHA512 },
        'node_modules/b/node_modules/a': { version: '1.0.0', integrity: SHA512 },
        'node_modules/c/node_modules/a': { version: '1.0.0', optional: true, dev: true },
      }),
    );
    expect(parsed.packages).toHaveLength(1);
    expect(parsed.packages[0]).toMatchObject({ dev: false, optional: false, integrity: SHA512 });
  });

  it('rejects the same name@version with conflicting integrity', () => {
    const e = errorOf(() =>
      parseLockfile(
        v3({
          'node_modules/a': { version: '1.0.0', integrity: SHA512 },
          'node_modules/b/node_modules/a': { version: '1.0.0', integrity: SHA512_B },
        }),
      ),
    );
    expect(e.code).toBe('ERR_LOCKFILE_ENTRY');
    expect(e.details).toMatchObject({ path: 'node_modules/b/node_modules/a', other_path: 'node_modules/a' });
  });

  it('maps devOptional to dev and optional together', () => {
    const parsed = parseLockfile(v3({ 'node_modules/a': { version: '1.0.0', devOptional: true } }));
    expect(parsed.packages[0]).toMatchObject({ dev: true, optional: true });
  });

  it('keeps a string licence and serialises legacy object and array forms', () => {
    const parsed = parseLockfile(
      v3({
        'node_modules/a': { version: '1.0.0', license: '(MIT OR Apache-2.0)' },
        'node_modules/b': { version: '1.0.0', license: { type: 'MIT', url: 'https://example.test/l' } },
        'node_modules/c': { version: '1.0.0', licenses: [{ type: 'BSD' }] },
      }),
    );
    const byName = new Map(parsed.packages.map((p) => [p.name, p.license]));
    expect(byName.get('a')).toBe('(MIT OR Apache-2.0)');
    expect(JSON.parse(byName.get('b')!)).toEqual({ type: 'MIT', url: 'https://example.test/l' });
    expect(JSON.parse(byName.get('c')!)).toEqual([{ type: 'BSD' }]);
  });

  it('accepts legacy names that were valid when published (capitals, core module names)', () => {
    const parsed = parseLockfile(
      v3({ 'node_modules/JSONStream': { version: '1.3.5' }, 'node_modules/events': { version: '3.3.0' } }),
    );
    expect(set(parsed.packages)).toEqual(['JSONStream@1.3.5', 'events@3.3.0']);
  });

  it('accepts sha1, sha256, sha384, sha512 and multi-hash integrity', () => {
    const sha256 = `sha256-${Buffer.alloc(32).toString('base64')}`;
    const sha384 = `sha384-${Buffer.alloc(48).toString('base64')}`;
    const parsed = parseLockfile(
      v3({
        'node_modules/a': { version: '1.0.0', integrity: SHA1 },
        'node_modules/b': { version: '1.0.0', integrity: sha256 },
        'node_modules/c': { version: '1.0.0', integrity: sha384 },
        'node_modules/d': { version: '1.0.0', integrity: `${SHA512} ${SHA1}` },
      }),
    );
    expect(parsed.packages).toHaveLength(4);
  });

  it('records resolved registry URLs but never requires them', () => {
    const parsed = parseLockfile(
      v3({
        'node_modules/a': { version: '1.0.0', resolved: tgz('a', '1.0.0') },
        'node_modules/b': { version: '2.0.0' },
      }),
    );
    expect(parsed.packages.find((p) => p.name === 'a')!.resolved).toBe(tgz('a', '1.0.0'));
    expect(parsed.packages.find((p) => p.name === 'b')!.resolved).toBeNull();
  });

  it('does not let __proto__ or constructor keys change anything', () => {
    const text = `{"lockfileVersion":3,"__proto__":{"polluted":true},"packages":{"__proto__":{"version":"1.0.0"},"node_modules/a":{"version":"1.0.0","__proto__":{"dev":true}}}}`;
    const parsed = parseLockfileText(text);
    expect(set(parsed.packages)).toEqual(['a@1.0.0']);
    expect(parsed.packages[0]!.dev).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const e = errorOf(() =>
      parseLockfileText(`{"lockfileVersion":3,"packages":{"node_modules/__proto__":{"version":"1.0.0"}}}`),
    );
    expect(e.code).toBe('ERR_LOCKFILE_ENTRY');
    // An inherited property is never read as a field.
    expect(set(parseLockfile(v3({ 'node_modules/constructor': { version: '1.0.0' } })).packages)).toEqual([
      'constructor@1.0.0',
    ]);
  });

  it('falls back to top-level name and version when the root entry lacks them', () => {
    const parsed = parseLockfile({
      name: 'top',
      version: '9.9.9',
      lockfileVersion: 3,
      packages: { 'node_modules/a': { version: '1.0.0' } },
    });
    expect(parsed).toMatchObject({ applicationName: 'top', applicationVersion: '9.9.9' });
    const bare = parseLockfile({ lockfileVersion: 3, packages: { 'node_modules/a': { version: '1.0.0' } } });
    expect(bare).toMatchObject({ applicationName: null, applicationVersion: null });
  });
});

describe('rejections', () => {
  const cases: Array<[string, unknown, string]> = [
    ['an array', [], 'ERR_NOT_LOCKFILE'],
    ['a string', 'x', 'ERR_NOT_LOCKFILE'],
    ['null', null, 'ERR_NOT_LOCKFILE'],
    ['a package.json', { name: 'x', dependencies: { a: '^1' } }, 'ERR_NOT_LOCKFILE'],
    ['lockfileVersion 0', { lockfileVersion: 0, packages: {} }, 'ERR_LOCKFILE_UNSUPPORTED_VERSION'],
    ['lockfileVersion 4', { lockfileVersion: 4, packages: {} }, 'ERR_LOCKFILE_UNSUPPORTED_VERSION'],
    ['lockfileVersion "3"', { lockfileVersion: '3', packages: {} }, 'ERR_LOCKFILE_UNSUPPORTED_VERSION'],
    ['lockfileVersion 2.5', { lockfileVersion: 2.5 }, 'ERR_LOCKFILE_UNSUPPORTED_VERSION'],
    ['v3 without packages', { lockfileVersion: 3 }, 'ERR_NOT_LOCKFILE'],
    ['packages as an array', { lockfileVersion: 3, packages: [] }, 'ERR_NOT_LOCKFILE'],
    ['v1 dependencies as a string', { lockfileVersion: 1, dependencies: 'x' }, 'ERR_NOT_LOCKFILE'],
    ['empty packages', { lockfileVersion: 3, packages: {} }, 'ERR_LOCKFILE_EMPTY'],
    ['only the root', v3({}), 'ERR_LOCKFILE_EMPTY'],
    ['empty v1', { lockfileVersion: 1, dependencies: {} }, 'ERR_LOCKFILE_EMPTY'],
    ['entry not an object', v3({ 'node_modules/a': 'x' }), 'ERR_LOCKFILE_ENTRY'],
    ['entry without version', v3({ 'node_modules/a': { resolved: tgz('a', '1.0.0') } }), 'ERR_LOCKFILE_ENTRY'],
    ['numeric version', v3({ 'node_modules/a': { version: 1 } }), 'ERR_LOCKFILE_ENTRY'],
    ['non-semver version', v3({ 'node_modules/a': { version: 'latest' } }), 'ERR_LOCKFILE_ENTRY'],
    ['v-prefixed version', v3({ 'node_modules/a': { version: 'v1.0.0' } }), 'ERR_LOCKFILE_ENTRY'],
    [
      'git resolved',
      v3({ 'node_modules/a': { version: '1.0.0', resolved: 'git+ssh://git@example.test/a.git#abc' } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    [
      'file resolved',
      v3({ 'node_modules/a': { version: '1.0.0', resolved: 'file:a-1.0.0.tgz' } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    [
      'tarball URL not from a registry',
      v3({ 'node_modules/a': { version: '1.0.0', resolved: 'https://example.test/a.tgz' } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    ['uppercase scoped name', v3({ 'node_modules/@Scope/a': { version: '1.0.0' } }), 'ERR_LOCKFILE_ENTRY'],
    ['name with ..', v3({ 'node_modules/@s/../../etc': { version: '1.0.0' } }), 'ERR_LOCKFILE_ENTRY'],
    ['name ..', v3({ 'node_modules/..': { version: '1.0.0' } }), 'ERR_LOCKFILE_ENTRY'],
    ['name with a space', v3({ 'node_modules/a b': { version: '1.0.0' } }), 'ERR_LOCKFILE_ENTRY'],
    ['name node_modules', v3({ 'node_modules/node_modules': { version: '1.0.0' } }), 'ERR_LOCKFILE_ENTRY'],
    ['empty name', v3({ 'node_modules/': { version: '1.0.0' } }), 'ERR_LOCKFILE_ENTRY'],
    [
      'name over 214 characters',
      v3({ [`node_modules/${'a'.repeat(215)}`]: { version: '1.0.0' } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    ['name field not a string', v3({ 'node_modules/a': { name: 5, version: '1.0.0' } }), 'ERR_LOCKFILE_ENTRY'],
    [
      'md5 integrity',
      v3({ 'node_modules/a': { version: '1.0.0', integrity: 'md5-AAAAAAAAAAAAAAAAAAAAAA==' } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    [
      'integrity of the wrong length',
      v3({ 'node_modules/a': { version: '1.0.0', integrity: 'sha512-AAAA' } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    [
      'integrity not base64',
      v3({ 'node_modules/a': { version: '1.0.0', integrity: 'sha512-!!!!' } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    ['integrity a number', v3({ 'node_modules/a': { version: '1.0.0', integrity: 1 } }), 'ERR_LOCKFILE_ENTRY'],
    ['dev a string', v3({ 'node_modules/a': { version: '1.0.0', dev: 'yes' } }), 'ERR_LOCKFILE_ENTRY'],
    ['licence a number', v3({ 'node_modules/a': { version: '1.0.0', license: 5 } }), 'ERR_LOCKFILE_ENTRY'],
    [
      '10,000-character licence',
      v3({ 'node_modules/a': { version: '1.0.0', license: 'x'.repeat(10_000) } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    [
      '10,000-character version',
      v3({ 'node_modules/a': { version: `1.0.0-${'a'.repeat(10_000)}` } }),
      'ERR_LOCKFILE_ENTRY',
    ],
    [
      '10,000-character application name',
      {
        ...v3({ 'node_modules/a': { version: '1.0.0' } }),
        packages: { '': { name: 'x'.repeat(10_000) }, 'node_modules/a': { version: '1.0.0' } },
      },
      'ERR_LOCKFILE_ENTRY',
    ],
    [
      'root name a number',
      { lockfileVersion: 3, name: 7, packages: { 'node_modules/a': { version: '1.0.0' } } },
      'ERR_LOCKFILE_ENTRY',
    ],
  ];
  for (const [what, doc, code] of cases) {
    it(`rejects ${what} with ${code}`, () => {
      expect(errorOf(() => parseLockfile(doc)).code).toBe(code);
    });
  }

  it('rejects text that is not JSON, empty, or deeply nested', () => {
    expect(errorOf(() => parseLockfileText('')).code).toBe('ERR_NOT_JSON');
    expect(errorOf(() => parseLockfileText('   ')).code).toBe('ERR_NOT_JSON');
    expect(errorOf(() => parseLockfileText('{"lockfileVersion":3,')).code).toBe('ERR_NOT_JSON');
    expect(errorOf(() => parseLockfileText('['.repeat(1000) + ']'.repeat(1000))).code).toBe('ERR_NOT_LOCKFILE');
  });

  it('rejects NUL characters and unpaired surrogates, which PostgreSQL cannot store', () => {
    expect(
      errorOf(() =>
        parseLockfileText('{"lockfileVersion":3,"x":"a\\u0000b","packages":{"node_modules/a":{"version":"1.0.0"}}}'),
      ).code,
    ).toBe('ERR_LOCKFILE_CONTENT');
    expect(
      errorOf(() =>
        parseLockfileText('{"lockfileVersion":3,"x":"\\ud800","packages":{"node_modules/a":{"version":"1.0.0"}}}'),
      ).code,
    ).toBe('ERR_LOCKFILE_CONTENT');
    // A well-formed pair is fine.
    expect(
      parseLockfileText('{"lockfileVersion":3,"x":"\\ud83d\\ude00","packages":{"node_modules/a":{"version":"1.0.0"}}}')
        .packages,
    ).toHaveLength(1);
  });

  it('names the entry in the error', () => {
    const e = errorOf(() => parseLockfile(v3({ 'node_modules/a/node_modules/@s/b': { version: 'x' } })));
    expect(e.status).toBe(400);
    expect(e.message).toContain('node_modules/a/node_modules/@s/b');
    expect(e.details).toMatchObject({ path: 'node_modules/a/node_modules/@s/b', name: '@s/b', field: 'version' });
  });
});

describe('helpers', () => {
  it('recognises registry tarball URLs', () => {
    expect(isRegistryTarball('https://registry.example.test/a/-/a-1.0.0.tgz')).toBe(true);
    expect(isRegistryTarball('http://localhost:4873/@s/a/-/a-1.0.0.tgz')).toBe(true);
    expect(isRegistryTarball('https://example.test/a.tgz')).toBe(false);
    expect(isRegistryTarball('git+https://example.test/a.git')).toBe(false);
    expect(isRegistryTarball('not a url')).toBe(false);
  });

  it('detects integrity conflicts only for a shared algorithm', () => {
    expect(integrityConflicts(SHA512, SHA512_B)).toBe(true);
    expect(integrityConflicts(SHA512, SHA512)).toBe(false);
    expect(integrityConflicts(SHA512, SHA1)).toBe(false);
  });
});
