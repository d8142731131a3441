import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from 'acorn';
import { describe, expect, it } from 'vitest';
import { loadMalwareCorpus, packageSample, PLACEMENTS } from '@spm/testkit';

const CORPUS = fileURLToPath(new URL('../../fixtures/malware/', import.meta.url));
const corpus = loadMalwareCorpus(CORPUS);

/** The files of a tar archive (ustar names, no pax), enough to check what packageSample wrote. */
function tarFiles(tgz: Buffer): Map<string, string> {
  const tar = gunzipSync(tgz);
  const out = new Map<string, string>();
  for (let off = 0; off + 512 <= tar.length;) {
    const name = tar
      .subarray(off, off + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    if (!name) break;
    const size =
      parseInt(
        tar
          .subarray(off + 124, off + 136)
          .toString('latin1')
          .trim(),
        8,
      ) || 0;
    out.set(name, tar.subarray(off + 512, off + 512 + size).toString('utf8'));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('the malware detection corpus', () => {
  it('holds malicious samples and benign look-alikes, each saying what it is modelled on', () => {
    expect(corpus.filter((s) => s.kind === 'malicious').length).toBeGreaterThanOrEqual(30);
    expect(corpus.filter((s) => s.kind === 'benign').length).toBeGreaterThanOrEqual(25);
    for (const s of corpus) {
      expect(s.behaviour, s.id).not.toBe('');
      expect(s.modelledOn, s.id).not.toBe('');
    }
    expect(new Set(corpus.map((s) => s.id)).size).toBe(corpus.length);
  });

  it.each(corpus.map((s) => [`${s.kind}/${s.id}`, s] as const))('%s is JavaScript that parses', (_, sample) => {
    expect(() =>
      parse(sample.entry, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true }),
    ).not.toThrow();
  });

  it('packages each sample twice: as a postinstall script and as the main module', () => {
    const sample = corpus.find((s) => s.id === 'depconf-internal')!;
    for (const placement of PLACEMENTS) {
      const pkg = packageSample(sample, placement);
      const files = tarFiles(pkg.tarball);
      const manifest = JSON.parse(files.get('package/package.json')!) as Record<string, any>;
      expect(manifest.version).toBe('99.10.9');
      expect(manifest.name).toBe('acme-internal-auth-utils');
      if (placement === 'install') {
        expect(manifest.scripts).toEqual({ postinstall: 'node install.js' });
        expect(files.get('package/install.js')).toBe(sample.entry);
        expect(files.get('package/index.js')).toBe('module.exports = {};\n');
      } else {
        expect(manifest.scripts).toBeUndefined();
        expect(files.get('package/index.js')).toBe(sample.entry);
      }
    }
    const withFiles = packageSample(
      corpus.find((s) => s.id === 'coa-rc-dll')!,
      'runtime',
    );
    expect(tarFiles(withFiles.tarball).get('package/compile.bat')).toContain('regsvr32');
  });
});
