import { describe, expect, it } from 'vitest';
import { parseLockfileText } from '../../src/lockfile/index.js';
import { SHA512, errorOf, set } from './helpers.js';

const v9 = (importers: string, packages: string, snapshots: string) =>
  `lockfileVersion: '9.0'\n\nimporters:\n\n${importers}\npackages:\n\n${packages}\nsnapshots:\n\n${snapshots}`;
const pkg = (key: string, extra = '') => `  ${key}:\n    resolution: {integrity: ${SHA512}}\n${extra}\n`;

describe('pnpm-lock.yaml', () => {
  it('9.x: strips peer suffixes, derives dev from importers and takes optional from snapshots', () => {
    const parsed = parseLockfileText(
      v9(
        '  .:\n    dependencies:\n      r-dom:\n        specifier: 1.0.0\n        version: 1.0.0(r@2.0.0)\n      alias:\n        specifier: npm:real@^1\n        version: real@1.1.0\n      ws:\n        specifier: link:packages/ws\n        version: link:packages/ws\n    devDependencies:\n      t:\n        specifier: 3.0.0\n        version: 3.0.0\n    optionalDependencies:\n      o:\n        specifier: 4.0.0\n        version: 4.0.0\n',
        pkg('r-dom@1.0.0') +
          pkg('r@2.0.0') +
          pkg('real@1.1.0') +
          pkg('t@3.0.0') +
          pkg('o@4.0.0') +
          pkg('"@s/tdep@5.0.0"'),
        "  r-dom@1.0.0(r@2.0.0):\n    dependencies:\n      r: 2.0.0\n\n  r@2.0.0: {}\n\n  real@1.1.0: {}\n\n  t@3.0.0:\n    dependencies:\n      '@s/tdep': 5.0.0\n      r: 2.0.0\n\n  o@4.0.0:\n    optional: true\n\n  '@s/tdep@5.0.0': {}\n",
      ),
    );
    expect(parsed).toMatchObject({ format: 'pnpm', lockfileVersion: 9, applicationName: null });
    expect(set(parsed.packages)).toEqual([
      '@s/tdep@5.0.0',
      'o@4.0.0',
      'r-dom@1.0.0',
      'r@2.0.0',
      'real@1.1.0',
      't@3.0.0',
    ]);
    expect(set(parsed.packages.filter((p) => p.dev))).toEqual(['@s/tdep@5.0.0', 't@3.0.0']);
    expect(set(parsed.packages.filter((p) => p.optional))).toEqual(['o@4.0.0']);
    expect(parsed.packages.find((p) => p.name === 'r')!.integrity).toBe(SHA512);
  });

  it('6.x: reads /name@version(peers) keys and the dev and optional flags', () => {
    const parsed = parseLockfileText(
      `lockfileVersion: '6.0'\n\ndependencies:\n  a:\n    specifier: 1.0.0\n    version: 1.0.0(p@1.0.0)\n\npackages:\n\n  /a@1.0.0(p@1.0.0):\n    resolution: {integrity: ${SHA512}}\n    dev: false\n\n  /p@1.0.0:\n    resolution: {integrity: ${SHA512}}\n    dev: true\n    optional: true\n`,
    );
    expect(parsed.lockfileVersion).toBe(6);
    expect(parsed.packages.map((p) => [p.name, p.version, p.dev, p.optional])).toEqual([
      ['a', '1.0.0', false, false],
      ['p', '1.0.0', true, true],
    ]);
  });

  it('skips local directories and refuses git, local tarballs and URLs that are not registry tarballs', () => {
    const base = pkg('a@1.0.0');
    const parsed = parseLockfileText(
      v9(
        '',
        base +
          '  local@file:packages/local:\n    resolution: {directory: packages/local, type: directory}\n    version: 0.1.0\n',
        '',
      ),
    );
    expect(parsed.skipped).toContainEqual({ path: 'local@file:packages/local', reason: 'link' });
    for (const [key, resolution] of [
      ['g@git+https://git.example.test/g.git#abc', '{commit: abc, repo: https://git.example.test/g.git, type: git}'],
      ['t@file:vendor/t-1.0.0.tgz', `{integrity: ${SHA512}, tarball: file:vendor/t-1.0.0.tgz}`],
      ['u@https://files.example.test/u.tgz', `{integrity: ${SHA512}, tarball: https://files.example.test/u.tgz}`],
      [
        'c@https://codeload.example.test/user/c/tar.gz/abc',
        '{tarball: https://codeload.example.test/user/c/tar.gz/abc}',
      ],
    ]) {
      const e = errorOf(() =>
        parseLockfileText(v9('', `${base}  '${key}':\n    resolution: ${resolution}\n    version: 1.0.0\n`, '')),
      );
      expect(e.code, key).toBe('ERR_LOCKFILE_ENTRY');
      expect(e.message, key).toContain('not from a registry');
      expect((e.details as { path?: string }).path, key).toBe(key);
    }
  });

  it('rejects bad entries and documents with a code', () => {
    const cases: Array<[string, string, string]> = [
      ['lockfileVersion 5.4', 'lockfileVersion: 5.4\npackages: {}\n', 'ERR_LOCKFILE_UNSUPPORTED_VERSION'],
      ["lockfileVersion '10.0'", "lockfileVersion: '10.0'\n", 'ERR_LOCKFILE_UNSUPPORTED_VERSION'],
      ['lockfileVersion a list', 'lockfileVersion: [9]\n', 'ERR_LOCKFILE_UNSUPPORTED_VERSION'],
      ['packages a list', "lockfileVersion: '9.0'\npackages: [a]\n", 'ERR_NOT_LOCKFILE'],
      ['an entry without resolution', v9('', '  a@1.0.0:\n    engines: {node: ">=8"}\n', ''), 'ERR_LOCKFILE_ENTRY'],
      ['a range as version', v9('', pkg('a@^1.0.0'), ''), 'ERR_LOCKFILE_ENTRY'],
      ['a bad name', v9('', pkg("'..@1.0.0'"), ''), 'ERR_LOCKFILE_ENTRY'],
      ['a bad integrity', v9('', '  a@1.0.0:\n    resolution: {integrity: sha512-AAAA}\n', ''), 'ERR_LOCKFILE_ENTRY'],
      ['a snapshot without a package', v9('', pkg('a@1.0.0'), '  b@1.0.0: {}\n'), 'ERR_LOCKFILE_ENTRY'],
      ['duplicate keys', v9('', pkg('a@1.0.0') + pkg('a@1.0.0'), ''), 'ERR_LOCKFILE_SYNTAX'],
      [
        'an alias (YAML bombs start so)',
        "lockfileVersion: '9.0'\nx: &x [1]\npackages:\n  a@1.0.0: *x\n",
        'ERR_LOCKFILE_SYNTAX',
      ],
      ['unterminated quote', "lockfileVersion: '9.0'\npackages:\n  'a@1.0.0:\n", 'ERR_LOCKFILE_SYNTAX'],
      ['deeply nested flow', `lockfileVersion: '9.0'\npackages: ${'['.repeat(10_000)}\n`, 'ERR_NOT_LOCKFILE'],
      ['two documents', "lockfileVersion: '9.0'\n---\nlockfileVersion: '9.0'\n", 'ERR_LOCKFILE_SYNTAX'],
      ['no packages', "lockfileVersion: '9.0'\nimporters:\n  .: {}\n", 'ERR_LOCKFILE_EMPTY'],
      [
        'only a local directory',
        v9('', '  l@file:l:\n    resolution: {directory: l, type: directory}\n', ''),
        'ERR_LOCKFILE_EMPTY',
      ],
    ];
    for (const [what, text, code] of cases) expect(errorOf(() => parseLockfileText(text)).code, what).toBe(code);
  });
});
