import { gzipSync } from 'node:zlib';
import { buildTar, paxRecords, type TarEntry } from '@spm/testkit';
import type { TarballIssueCode } from '../src/index.js';

/**
 * Odd package archives, each exercising one of npm's extraction rules. Every one still has a
 * package.json npm can install from. `issues` are the codes the view must report.
 */
export interface OddTarball {
  name: string;
  why: string;
  tarball: Buffer;
  issues: TarballIssueCode[];
}

const manifest = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name, version: '1.0.0', license: 'MIT', ...extra });

function pkg(name: string, why: string, entries: TarEntry[], issues: TarballIssueCode[] = []): OddTarball {
  return { name, why, tarball: gzipSync(buildTar(entries)), issues };
}

/** A header block whose checksum is wrong, followed by a body that holds a whole valid entry. */
function smuggled(name: string): Buffer {
  const inner = buildTar([{ path: 'package/smuggled.js', content: 'module.exports = "smuggled";\n' }]).subarray(
    0,
    1024,
  );
  const outer = buildTar([
    { path: 'package/package.json', content: manifest(name) },
    { path: 'package/cover.txt', content: inner, badChecksum: true },
  ]);
  return gzipSync(outer);
}

/** Two gzip members, then zeros: gunzip reads both members and ignores the zeros. */
function multiMember(name: string): Buffer {
  const tar = buildTar([
    { path: 'package/package.json', content: manifest(name) },
    { path: 'package/index.js', content: 'module.exports = 1;\n' },
  ]);
  return Buffer.concat([gzipSync(tar.subarray(0, 1024)), gzipSync(tar.subarray(1024)), Buffer.alloc(1024)]);
}

export function oddTarballs(): OddTarball[] {
  const long = `package/${'deep-folder-name/'.repeat(8)}file-with-a-long-name.js`;
  const veryLong = `package/${'x'.repeat(120)}/${'y'.repeat(120)}/${'z'.repeat(40)}.js`;
  return [
    pkg('eq-plain', 'an ordinary package', [
      { path: 'package/package.json', content: manifest('eq-plain') },
      { path: 'package/index.js', content: 'module.exports = 1;\n' },
      { path: 'package/lib/a.js', content: 'exports.a = 1;\n' },
    ]),
    pkg(
      'eq-second-root',
      'a second top-level folder whose index.js replaces the package one',
      [
        { path: 'package/package.json', content: manifest('eq-second-root') },
        { path: 'package/index.js', content: 'module.exports = "harmless";\n' },
        { path: 'zzz/index.js', content: 'require("child_process").execSync("id");\n' },
      ],
      ['multiple-roots', 'duplicate-path'],
    ),
    pkg(
      'eq-dup-manifest',
      'two package.json copies and two index.js copies: the last ones win',
      [
        { path: 'package/package.json', content: manifest('eq-dup-manifest', { description: 'first' }) },
        { path: 'package/index.js', content: 'module.exports = "first, and longer than the second copy";\n' },
        { path: 'package/package.json', content: manifest('eq-dup-manifest', { description: 'second' }) },
        { path: 'package/index.js', content: 'module.exports = 2;\n' },
        { path: 'package/same.js', content: 'same\n' },
        { path: 'package/same.js', content: 'same\n' },
      ],
      ['duplicate-path', 'manifest-copies-differ', 'duplicate-identical'],
    ),
    pkg('eq-other-root', 'an old package whose only folder is not called package', [
      { path: 'node-thing/package.json', content: manifest('eq-other-root') },
      { path: 'node-thing/index.js', content: 'module.exports = "old";\n' },
    ]),
    pkg(
      'eq-absolute',
      'absolute, drive and backslash roots, which npm strips before writing',
      [
        { path: 'package/package.json', content: manifest('eq-absolute') },
        { path: '/package/abs.js', content: 'abs\n' },
        { path: 'package//etc/stripped.js', content: 'stripped\n' },
        { path: 'package/c:drive.js', content: 'drive\n' },
        { path: 'package/\\backslash-root.js', content: 'backslash root\n' },
      ],
      ['absolute-path', 'backslash-path', 'multiple-roots'],
    ),
    pkg(
      'eq-dotdot',
      'paths with .. segments, which npm skips',
      [
        { path: 'package/package.json', content: manifest('eq-dotdot') },
        { path: 'package/../escape.js', content: 'escape\n' },
        { path: 'package/a/../b.js', content: 'b\n' },
        { path: 'package/sub\\..\\..\\win-escape.js', content: 'win\n' },
        { path: 'package/kept.js', content: 'kept\n' },
      ],
      ['dot-dot-path', 'backslash-path'],
    ),
    pkg(
      'eq-links',
      'symbolic and hard links (inside and outside), which npm never creates',
      [
        { path: 'package/package.json', content: manifest('eq-links') },
        { path: 'package/index.js', content: 'module.exports = 1;\n' },
        { path: 'package/alias.js', type: '2', linkpath: 'index.js' },
        { path: 'package/hard.js', type: '1', linkpath: 'package/index.js' },
        { path: 'package/passwd', type: '2', linkpath: '/etc/passwd' },
      ],
      ['link', 'link-escapes'],
    ),
    pkg('eq-dirs', 'directory entries, one of them empty: npm makes no folder for them', [
      { path: 'package/', type: '5' },
      { path: 'package/package.json', content: manifest('eq-dirs') },
      { path: 'package/empty/', type: '5' },
      { path: 'package/lib/', type: '5' },
      { path: 'package/lib/x.js', content: 'x\n' },
    ]),
    pkg(
      'eq-gitignore',
      '.gitignore is renamed .npmignore, unless a .npmignore came first',
      [
        { path: 'package/package.json', content: manifest('eq-gitignore') },
        { path: 'package/.gitignore', content: 'node_modules\n' },
        { path: 'package/sub/.npmignore', content: 'npmignore\n' },
        { path: 'package/sub/.gitignore', content: 'gitignore\n' },
        { path: 'package/other/.gitignore', content: 'first\n' },
        { path: 'package/other/.npmignore', content: 'second\n' },
      ],
      ['gitignore-shadowed', 'duplicate-path'],
    ),
    pkg(
      'eq-conflict',
      'a file below a file, and a file where a folder is',
      [
        { path: 'package/package.json', content: manifest('eq-conflict') },
        { path: 'package/a', content: 'a is a file\n' },
        { path: 'package/a/b.js', content: 'below a file\n' },
        { path: 'package/d/e.js', content: 'in d\n' },
        { path: 'package/d', content: 'd as a file\n' },
      ],
      ['path-conflict'],
    ),
    pkg(
      'eq-top-level',
      'files at the top level of the archive, including a package.json',
      [
        { path: 'package.json', content: manifest('eq-top-level', { description: 'top level, never installed' }) },
        { path: 'README', content: 'top\n' },
        { path: 'package/package.json', content: manifest('eq-top-level') },
      ],
      ['top-level-file'],
    ),
    pkg(
      'eq-special',
      'a character device and a FIFO',
      [
        { path: 'package/package.json', content: manifest('eq-special') },
        { path: 'package/null', type: '3' },
        { path: 'package/pipe', type: '6' },
      ],
      ['special-entry'],
    ),
    pkg('eq-long-paths', 'a ustar prefix path and a pax path', [
      { path: 'package/package.json', content: manifest('eq-long-paths') },
      { path: long, content: 'long\n' },
      { path: 'PaxHeader', type: 'x', content: paxRecords({ path: veryLong }) },
      { path: 'package/short-name.js', content: 'very long\n' },
    ]),
    pkg('eq-pax-path', 'a pax header renames the next entry', [
      { path: 'package/package.json', content: manifest('eq-pax-path') },
      { path: 'PaxHeader', type: 'x', content: paxRecords({ path: 'package/pax-name.js' }) },
      { path: 'package/ustar-name.js', content: 'which name?\n' },
    ]),
    pkg(
      'eq-names',
      'backslashes, case and dot segments in names',
      [
        { path: 'package/package.json', content: manifest('eq-names') },
        { path: 'package/dir\\file.js', content: 'backslash in the name\n' },
        { path: 'package/Readme.md', content: 'mixed\n' },
        { path: 'package/README.md', content: 'upper\n' },
        { path: 'package/./dot.js', content: 'dot\n' },
        { path: 'package//double.js', content: 'double\n' },
        { path: 'package/caf\u00e9.js', content: 'nfc\n' },
        { path: 'package/cafe\u0301.js', content: 'nfd\n' },
      ],
      ['backslash-path', 'case-conflict', 'absolute-path'],
    ),
    pkg('eq-types', 'old-style and contiguous file entries', [
      { path: 'package/package.json', content: manifest('eq-types') },
      { path: 'package/old.js', type: '\0', content: 'old\n' },
      { path: 'package/contiguous.js', type: '7', content: 'contiguous\n' },
    ]),
    {
      name: 'eq-plain-tar',
      why: 'a tar archive that is not gzipped',
      tarball: buildTar([
        { path: 'package/package.json', content: manifest('eq-plain-tar') },
        { path: 'package/index.js', content: 'plain\n' },
      ]),
      issues: [],
    },
    {
      name: 'eq-multi-member',
      why: 'two gzip members and trailing zeros',
      tarball: multiMember('eq-multi-member'),
      issues: [],
    },
    {
      name: 'eq-smuggled',
      why: 'a header with a bad checksum hides a valid entry in its body',
      tarball: smuggled('eq-smuggled'),
      issues: ['invalid-header'],
    },
  ];
}
