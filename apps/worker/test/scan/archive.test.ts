import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildPackage, buildTar, type TarEntry } from '@spm/testkit';
import type { TarballLimits } from '@spm/tarball';
import { PermanentError } from '../../src/errors.js';
import { archiveFindings, ArchiveRefusedError, sizeFindings, withPackageView } from '../../src/scan/archive.js';
import type { Finding } from '../../src/scan/types.js';

let sandbox: string;
let tmpRoot: string;

beforeEach(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'spm-archive-test-'));
  tmpRoot = join(sandbox, 'tmp');
  await mkdir(tmpRoot);
});

afterEach(async () => {
  await rm(sandbox, { recursive: true, force: true });
});

async function writeTgz(name: string, entries: TarEntry[]): Promise<string> {
  const file = join(sandbox, name);
  await writeFile(file, gzipSync(buildTar(entries)));
  return file;
}

/** The files (path → text) and findings the scanner gets from an archive. */
async function scanView(
  file: string,
  limits: Partial<TarballLimits> = {},
): Promise<{ files: Record<string, string>; findings: Finding[] }> {
  return withPackageView(file, { limits, tmpRoot }, async (view) => {
    const files: Record<string, string> = {};
    for (const f of view.files) files[f.path] = (await f.read()).toString('utf8');
    return { files, findings: archiveFindings(view) };
  });
}

/** Asserts the archive is refused (policy) with a reason matching `reason`, leaving nothing behind. */
async function expectRefused(file: string, reason: RegExp, limits: Partial<TarballLimits> = {}): Promise<void> {
  const err = await scanView(file, limits).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveRefusedError);
  expect(err).toBeInstanceOf(PermanentError);
  expect((err as PermanentError).kind).toBe('policy');
  expect((err as Error).message).toMatch(reason);
  expect(await readdir(tmpRoot)).toEqual([]);
}

/** A ustar header for one regular file claiming `size` bytes (the body is supplied separately). */
function fileHeader(path: string, size: number): Buffer {
  const h = Buffer.from(buildTar([{ path, content: '' }]).subarray(0, 512));
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 12, 'utf8');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'utf8');
  return h;
}

/**
 * `head` followed by `zeroMiB` MiB of zero bytes as a gzip file of one member per MiB (gzip allows
 * concatenated members; npm's zlib reads them as one stream): about 1 KB per MiB, made in milliseconds.
 */
async function writeBomb(name: string, head: Buffer, zeroMiB: number): Promise<string> {
  const file = join(sandbox, name);
  const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
  await writeFile(file, Buffer.concat([gzipSync(head), ...Array.from({ length: zeroMiB }, () => member)]));
  return file;
}

const severityOf = (fs: Finding[], id: string) => fs.find((f) => f.id === id)?.severity;

describe('the scanner sees exactly what npm installs', () => {
  it('gives the files of a normal package, with no archive findings', async () => {
    const pkg = buildPackage({ name: 'plain', version: '1.0.0', files: { 'lib/a.js': 'exports.a = 1;\n' } });
    const file = join(sandbox, 'plain.tgz');
    await writeFile(file, pkg.tarball);
    const { files, findings } = await scanView(file);
    expect(Object.keys(files)).toEqual(['index.js', 'lib/a.js', 'package.json']);
    expect(files['lib/a.js']).toContain('exports.a');
    expect(findings).toEqual([]);
  });

  // Finding 1 of issue 11: npm strips the first component whatever its name.
  it('scans a file under a second top-level folder where npm installs it, over the harmless one, and flags it high', async () => {
    const file = await writeTgz('two-roots.tgz', [
      { path: 'package/package.json', content: '{"name":"two-roots","version":"1.0.0"}' },
      { path: 'package/index.js', content: 'module.exports = 1;\n' },
      { path: 'zzz/index.js', content: 'require("child_process").execSync("id");\n' },
    ]);
    const { files, findings } = await scanView(file);
    expect(files['index.js']).toContain('child_process');
    expect(severityOf(findings, 'archive-multiple-roots')).toBe('high');
    expect(severityOf(findings, 'archive-duplicate-path')).toBe('high');
    expect(findings.find((f) => f.id === 'archive-multiple-roots')!.evidence).toContain('zzz/');
  });

  // Finding 2 of issue 11: the last duplicate wins.
  it('reads the last of two package.json entries, as npm does, and flags the differing copies high', async () => {
    const file = await writeTgz('two-manifests.tgz', [
      { path: 'package/package.json', content: '{"name":"dup","version":"1.0.0"}' },
      {
        path: 'package/package.json',
        content: '{"name":"dup","version":"1.0.0","dependencies":{"x":"http://evil.example.test/x.tgz"}}',
      },
    ]);
    const seen = await withPackageView(file, { tmpRoot }, async (view) => ({
      manifest: view.manifest,
      findings: archiveFindings(view),
    }));
    expect(seen.manifest).toMatchObject({ dependencies: { x: 'http://evil.example.test/x.tgz' } });
    expect(severityOf(seen.findings, 'archive-manifest-copies-differ')).toBe('high');
    expect(severityOf(seen.findings, 'archive-duplicate-path')).toBe('high');
  });

  it('notes identical duplicates and links inside the package as info, never creating a link', async () => {
    const file = await writeTgz('links.tgz', [
      { path: 'package/package.json', content: '{"name":"l","version":"1.0.0"}' },
      { path: 'package/lib/real.js', content: '1' },
      { path: 'package/lib/real.js', content: '1' },
      { path: 'package/alias.js', type: '2', linkpath: 'lib/real.js' },
      { path: 'package/hard.js', type: '1', linkpath: 'package/lib/real.js' },
    ]);
    const { files, findings } = await scanView(file);
    expect(Object.keys(files)).toEqual(['lib/real.js', 'package.json']);
    expect(findings.map((f) => [f.id, f.severity]).sort()).toEqual([
      ['archive-duplicate-identical', 'info'],
      ['archive-link', 'info'],
    ]);
  });

  it('flags an absolute path, a device and a FIFO high (npm writes the first inside, skips the others)', async () => {
    const file = await writeTgz('odd.tgz', [
      { path: 'package/package.json', content: '{}' },
      { path: '/etc/abs.txt', content: 'x' },
      { path: 'package/null', type: '3' },
      { path: 'package/pipe', type: '6' },
    ]);
    const { findings } = await scanView(file);
    expect(severityOf(findings, 'archive-absolute-path')).toBe('high');
    expect(severityOf(findings, 'archive-special-entry')).toBe('high');
  });
});

describe('archives refused before they are scanned (Rejected, kind policy)', () => {
  it('refuses path traversal with ..', async () => {
    const file = await writeTgz('traversal.tgz', [
      { path: 'package/package.json', content: '{}' },
      { path: 'package/../../outside/evil.txt', content: 'pwned' },
    ]);
    await expectRefused(
      file,
      /hostile archive: entry "package\/\.\.\/\.\.\/outside\/evil\.txt" has a '\.\.' path segment/,
    );
  });

  it('refuses a symlink or hardlink leaving the package', async () => {
    await expectRefused(
      await writeTgz('symlink.tgz', [
        { path: 'package/package.json', content: '{}' },
        { path: 'package/escape', type: '2', linkpath: '../../outside' },
      ]),
      /hostile archive: entry "package\/escape -> \.\.\/\.\.\/outside" links out of the package folder/,
    );
    await expectRefused(
      await writeTgz('symlink-abs.tgz', [{ path: 'package/passwd', type: '2', linkpath: '/etc/passwd' }]),
      /links out of the package folder/,
    );
    await expectRefused(
      await writeTgz('hardlink.tgz', [
        { path: 'package/package.json', content: '{}' },
        { path: 'package/hl', type: '1', linkpath: '../outside/secret' },
      ]),
      /"package\/hl -> \.\.\/outside\/secret" links out/,
    );
  });

  it('refuses an archive over the entry limit, naming the limit and its setting', async () => {
    const entries: TarEntry[] = [{ path: 'package/package.json', content: '{}' }];
    for (let i = 0; i < 2_000; i++) entries.push({ path: `package/f/${i}.js`, content: '' });
    await expectRefused(
      await writeTgz('many.tgz', entries),
      /^archive over a hard limit: the archive has more than 1000 entries: over the limit of 1000 \(SCAN_MAX_ENTRIES=1000\)$/,
      { maxEntries: 1000 },
    );
  });

  // Finding 4 of issue 11: 0.5 MB expanding to 500 MB.
  it('refuses a compression bomb at the default limits without unpacking it', async () => {
    const file = await writeBomb('bomb.tgz', fileHeader('package/zeros.bin', 500 * 1024 * 1024), 500);
    expect((await stat(file)).size).toBeLessThan(600 * 1024);
    await expectRefused(file, /more than 200 times its size .*\(SCAN_MAX_COMPRESSION_RATIO=200\)/);
  });

  it('refuses a single file over SCAN_MAX_FILE_BYTES from its header alone', async () => {
    const file = await writeBomb('big-file.tgz', fileHeader('package/big.bin', 8 * 1024 * 1024), 1);
    await expectRefused(
      file,
      /package\/big\.bin is 8388608 bytes: over the limit of 1048576 \(SCAN_MAX_FILE_BYTES=1048576\)/,
      {
        maxFileBytes: 1024 * 1024,
      },
    );
  });

  it('refuses something that is not a tar archive', async () => {
    const file = join(sandbox, 'junk.tgz');
    await writeFile(file, gzipSync(Buffer.from('this is not a tar archive at all'.repeat(40))));
    await expectRefused(file, /^unreadable archive: /);
  });

  it('stops when the job is cancelled', async () => {
    const file = join(sandbox, 'plain.tgz');
    await writeFile(file, buildPackage({ name: 'plain', version: '1.0.0' }).tarball);
    const ac = new AbortController();
    ac.abort();
    await expect(withPackageView(file, { tmpRoot, signal: ac.signal }, async () => 'scanned')).rejects.toThrow();
    expect(await readdir(tmpRoot)).toEqual([]);
  });
});

describe('unusual sizes are findings for the approver, not rejections', () => {
  it('reports 20,001 files (above the unusual mark, far below the hard limit) as a low finding', async () => {
    const entries: TarEntry[] = [{ path: 'package/package.json', content: '{"name":"icons","version":"1.0.0"}' }];
    // Random contents keep the compression ratio of a real icon set (a few dozen at most).
    for (let i = 0; i < 20_001; i++)
      entries.push({ path: `package/icons/${i}.js`, content: randomBytes(24).toString('hex') });
    const { files, findings } = await scanView(await writeTgz('icons.tgz', entries));
    expect(Object.keys(files)).toHaveLength(20_002);
    expect(findings).toEqual([
      expect.objectContaining({ id: 'unusual-size', severity: 'low', title: 'Unusually many entries: 20002' }),
    ]);
  }, 60_000);

  it('names every size above its unusual mark', () => {
    const stats = {
      entries: 10,
      files: 10,
      unpackedBytes: 300 * 1024 * 1024,
      largestFile: { path: 'package/typescript.js', size: 100 * 1024 * 1024 },
      compressedBytes: 1000,
      decompressedBytes: 60_000,
      compressionRatio: 60,
      spilledBytes: 0,
    };
    expect(sizeFindings(stats).map((f) => f.title)).toEqual([
      'Unusually large when unpacked: 300.0 MiB',
      'Unusually large file: package/typescript.js (100.0 MiB)',
      'Unusually high compression ratio: 60',
    ]);
  });
});
