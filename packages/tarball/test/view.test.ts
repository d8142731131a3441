import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { constants, createGzip, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, buildTar, type TarEntry } from '@spm/testkit';
import {
  DEFAULT_TARBALL_LIMITS,
  NpmLayout,
  TarballError,
  readTarball,
  readTarballManifest,
  withTarballView,
  type TarballView,
} from '../src/index.js';
import { oddTarballs } from './corpus.js';

let sandbox: string;
beforeAll(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'spm-tarball-test-'));
});
afterAll(async () => {
  await rm(sandbox, { recursive: true, force: true });
});

const tgz = (entries: TarEntry[]) => gzipSync(buildTar(entries));

async function contents(view: TarballView): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of view.files) out[f.path] = (await f.read()).toString('utf8');
  return out;
}

async function failure(p: Promise<unknown>): Promise<TarballError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TarballError);
  return err as TarballError;
}

/** Gzip of `head` followed by `zeroMiB` MiB of zeros, in 64 KiB pieces as a file stream delivers them. */
/**
 * `head` and `zeroMiB` MiB of zeros, gzipped as they are read: only what the reader consumes is ever
 * compressed, so a bomb it stops early costs almost nothing (the test stays fast on a loaded machine).
 */
function bomb(head: Buffer, zeroMiB: number): Readable {
  const zero = Buffer.alloc(1024 * 1024);
  const raw = Readable.from(
    (function* () {
      yield head;
      for (let i = 0; i < zeroMiB; i++) yield zero;
    })(),
  );
  return raw.pipe(createGzip({ level: constants.Z_BEST_COMPRESSION }));
}

describe('the npm view of a tarball', () => {
  it('strips the first path component and reads package.json and every file', async () => {
    const pkg = buildPackage({ name: 'plain', version: '1.0.0', files: { 'lib/a.js': 'exports.a = 1;\n' } });
    await withTarballView(pkg.tarball, {}, async (view) => {
      expect(view.files.map((f) => f.path)).toEqual(['index.js', 'lib/a.js', 'package.json']);
      expect(view.manifest).toMatchObject({ name: 'plain', version: '1.0.0' });
      expect(view.roots).toEqual(['package']);
      expect(view.issues).toEqual([]);
      expect(view.stats).toMatchObject({ entries: 3, files: 3, spilledBytes: 0 });
      expect(view.stats.compressedBytes).toBe(pkg.tarball.length);
      expect((await view.file('lib/a.js')!.read()).toString()).toBe('exports.a = 1;\n');
    });
  });

  it.each(oddTarballs().map((t) => [t.name, t] as const))('reports what npm does with %s', async (_name, odd) => {
    await withTarballView(odd.tarball, {}, async (view) => {
      expect(view.issues.map((i) => i.code).sort()).toEqual([...new Set(odd.issues)].sort());
      expect(view.manifest).toMatchObject({ name: odd.name });
    });
  });

  it('lets the last copy win: a second top folder replaces index.js, the last package.json is the manifest', async () => {
    const [second, dup] = oddTarballs().filter((t) => ['eq-second-root', 'eq-dup-manifest'].includes(t.name));
    await withTarballView(second!.tarball, {}, async (view) => {
      expect(await contents(view)).toMatchObject({ 'index.js': 'require("child_process").execSync("id");\n' });
      expect(view.roots).toEqual(['package', 'zzz']);
      expect(view.issue('multiple-roots')!.examples).toEqual(['zzz/ (1 files, beside package/)']);
    });
    await withTarballView(dup!.tarball, {}, async (view) => {
      expect(view.manifest).toMatchObject({ description: 'second' });
      expect(await contents(view)).toMatchObject({ 'index.js': 'module.exports = 2;\n' });
      expect(view.issue('duplicate-path')).toMatchObject({ count: 2 });
      expect(view.issue('duplicate-identical')).toMatchObject({ count: 1, examples: ['package/same.js'] });
    });
  });

  it('writes what npm writes for odd paths, and nothing for what npm skips', async () => {
    const byName = new Map(oddTarballs().map((t) => [t.name, t]));
    const paths = async (name: string) =>
      withTarballView(byName.get(name)!.tarball, {}, async (v) => v.files.map((f) => f.path));
    expect(await paths('eq-absolute')).toEqual([
      'backslash-root.js',
      'drive.js',
      'etc/stripped.js',
      'package.json',
      'package/abs.js',
    ]);
    expect(await paths('eq-dotdot')).toEqual(['kept.js', 'package.json']);
    expect(await paths('eq-links')).toEqual(['index.js', 'package.json']);
    expect(await paths('eq-gitignore')).toEqual(['.npmignore', 'other/.npmignore', 'package.json', 'sub/.npmignore']);
    expect(await paths('eq-conflict')).toEqual(['a', 'd/e.js', 'package.json']);
    expect(await paths('eq-top-level')).toEqual(['package.json']);
    expect(await paths('eq-pax-path')).toEqual(['package.json', 'pax-name.js']);
    expect(await paths('eq-smuggled')).toEqual(['package.json', 'smuggled.js']);
    expect(await paths('eq-plain-tar')).toEqual(['index.js', 'package.json']);
    expect(await paths('eq-multi-member')).toEqual(['index.js', 'package.json']);
  });

  it('keeps contents beyond the memory budget in a temporary file and reads them back', async () => {
    const big = Buffer.alloc(300_000, 'b');
    const pkg = buildPackage({
      name: 'spill',
      version: '1.0.0',
      files: { 'a.bin': Buffer.alloc(200_000, 'a'), 'b.bin': big, 'c.txt': 'small\n' },
    });
    const view = await readTarball(pkg.tarball, { memoryBytes: 250_000, tmpRoot: sandbox });
    expect(view.stats.spilledBytes).toBeGreaterThanOrEqual(300_000);
    expect((await view.file('b.bin')!.read()).equals(big)).toBe(true);
    expect((await view.file('b.bin')!.head(4)).toString()).toBe('bbbb');
    expect((await view.file('c.txt')!.read()).toString()).toBe('small\n');
    expect(await readdir(sandbox)).toHaveLength(1);
    view.dispose();
    expect(await readdir(sandbox)).toEqual([]);
  });

  it('writes the view into a folder for tools that need one', async () => {
    const odd = oddTarballs().find((t) => t.name === 'eq-second-root')!;
    const dir = await mkdtemp(join(sandbox, 'materialized-'));
    await withTarballView(odd.tarball, {}, (v) => v.materialize(dir));
    expect(await readFile(join(dir, 'index.js'), 'utf8')).toContain('child_process');
    expect(existsSync(join(dir, 'zzz'))).toBe(false);
  });

  it('keeps only what `keep` asks for (package.json always)', async () => {
    const pkg = buildPackage({ name: 'keep', version: '1.0.0' });
    await withTarballView(pkg.tarball, { keep: () => false }, async (view) => {
      expect(view.manifest).toMatchObject({ name: 'keep' });
      await expect(view.file('index.js')!.read()).rejects.toThrow(/not kept/);
    });
  });

  it('reports a package.json that is missing or not an object, without failing', async () => {
    await withTarballView(tgz([{ path: 'package/index.js', content: '1' }]), {}, async (v) => {
      expect(v.manifest).toBeNull();
      expect(v.manifestError).toMatch(/no package.json/);
    });
    await withTarballView(tgz([{ path: 'package/package.json', content: '[1]' }]), {}, async (v) => {
      expect(v.manifestError).toMatch(/not a JSON object/);
    });
  });
});

describe('bounded work', () => {
  it('refuses more entries than SCAN_MAX_ENTRIES', async () => {
    const entries: TarEntry[] = [{ path: 'package/package.json', content: '{}' }];
    for (let i = 0; i < 50; i++) entries.push({ path: `package/f/${i}.js`, content: '' });
    const err = await failure(readTarball(tgz(entries), { limits: { maxEntries: 40 } }));
    expect(err).toMatchObject({ code: 'ERR_TARBALL_LIMIT', limit: 'maxEntries' });
    expect(err.message).toBe('the archive has more than 40 entries: over the limit of 40 (SCAN_MAX_ENTRIES=40)');
  });

  it('refuses a file over SCAN_MAX_FILE_BYTES and files adding up to over SCAN_MAX_UNPACKED_BYTES', async () => {
    const pkg = buildPackage({
      name: 'big',
      version: '1.0.0',
      files: { 'a.bin': Buffer.alloc(5000), 'b.bin': Buffer.alloc(5000) },
    });
    const one = await failure(readTarball(pkg.tarball, { limits: { maxFileBytes: 4096 } }));
    expect(one.message).toBe('package/a.bin is 5000 bytes: over the limit of 4096 (SCAN_MAX_FILE_BYTES=4096)');
    const all = await failure(readTarball(pkg.tarball, { limits: { maxUnpackedBytes: 8000 } }));
    expect(all).toMatchObject({ limit: 'maxUnpackedBytes' });
    expect(all.message).toMatch(/SCAN_MAX_UNPACKED_BYTES=8000/);
  });

  it('stops a compression bomb by its ratio, before reading it all', async () => {
    // 500 MiB of zeros in one file: about 0.5 MB compressed, as in the report.
    const head = buildTar([{ path: 'package/package.json', content: '{}' }]).subarray(0, 1024);
    const fileHeader = buildTar([{ path: 'package/zeros.bin', content: '' }]).subarray(0, 512);
    fileHeader.write((500 * 1024 * 1024).toString(8).padStart(11, '0') + '\0', 124, 12, 'utf8');
    fileHeader.fill(' ', 148, 156);
    let sum = 0;
    for (const b of fileHeader) sum += b;
    fileHeader.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'utf8');
    const err = await failure(
      readTarball(bomb(Buffer.concat([head, fileHeader]), 500), {
        limits: { maxUnpackedBytes: 2 ** 40, maxFileBytes: 2 ** 40 },
      }),
    );
    expect(err).toMatchObject({ code: 'ERR_TARBALL_LIMIT', limit: 'maxCompressionRatio' });
    expect(err.message).toMatch(/more than 200 times its size .*SCAN_MAX_COMPRESSION_RATIO=200/);
  });

  it('stops a bomb hidden after the end of the archive', async () => {
    const err = await failure(readTarball(bomb(buildTar([{ path: 'package/package.json', content: '{}' }]), 64)));
    expect(err.limit).toBe('maxCompressionRatio');
  });

  it('uses the measured defaults', () => {
    expect(DEFAULT_TARBALL_LIMITS).toEqual({
      maxEntries: 250_000,
      maxUnpackedBytes: 1024 * 1024 * 1024,
      maxFileBytes: 512 * 1024 * 1024,
      maxCompressionRatio: 200,
    });
  });
});

describe('unreadable archives', () => {
  it('refuses garbage, an empty input, zstd and a gzip inside the gzip', async () => {
    for (const input of [
      gzipSync(Buffer.from('this is not a tar archive at all'.repeat(40))),
      Buffer.alloc(0),
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]),
      gzipSync(gzipSync(buildTar([{ path: 'package/package.json', content: '{}' }]))),
      Buffer.from('definitely not a tarball'),
      // npm fails on these too: zlib refuses bytes after the gzip stream that are not another member.
      Buffer.concat([buildPackage({ name: 'junk', version: '1.0.0' }).tarball, Buffer.from('trailing junk')]),
    ]) {
      const err = await failure(readTarball(input));
      expect(err.code).toBe('ERR_TARBALL_UNREADABLE');
    }
  });

  it('refuses a truncated gzip stream', async () => {
    const pkg = buildPackage({ name: 'cut', version: '1.0.0', files: { 'x.bin': Buffer.alloc(100_000, 7) } });
    const err = await failure(readTarball(pkg.tarball.subarray(0, pkg.tarball.length - 100)));
    expect(err.code).toBe('ERR_TARBALL_UNREADABLE');
  });

  it('rethrows an abort as it is', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop now'));
    await expect(
      readTarball(buildPackage({ name: 'a', version: '1.0.0' }).tarball, { signal: ac.signal }),
    ).rejects.toThrow('stop now');
  });
});

describe('readTarballManifest', () => {
  it('reads the package.json npm installs', async () => {
    const dup = oddTarballs().find((t) => t.name === 'eq-dup-manifest')!;
    expect(await readTarballManifest(dup.tarball)).toMatchObject({ description: 'second' });
    await expect(readTarballManifest(Buffer.from('nope'))).rejects.toThrow(/not a readable tar archive/);
  });
});

describe('npm layout rules', () => {
  it('follows node-tar for roots, dots and conflicts', () => {
    const l = new NpmLayout();
    expect(l.place('package/a.js', 'File')).toMatchObject({ write: true, path: 'a.js', root: 'package' });
    expect(l.place('other/a.js', 'File')).toMatchObject({ write: true, path: 'a.js', replaces: true, root: 'other' });
    expect(l.place('package/a.js/b', 'File')).toEqual({ write: false, reason: 'conflict' });
    expect(l.place('package/x/../y', 'File')).toEqual({ write: false, reason: 'dot-dot' });
    expect(l.place('package//abs', 'File')).toMatchObject({ write: true, path: 'abs', strippedRoot: '/' });
    expect(l.place('package/./z/', 'OldFile')).toMatchObject({ write: true, path: 'z' });
    expect(l.place('lonely', 'File')).toEqual({ write: false, reason: 'top-level' });
    expect(l.place('package/dir', 'Directory')).toEqual({ write: false, reason: 'directory' });
    expect(l.place('package/fifo', 'FIFO')).toEqual({ write: false, reason: 'special' });
  });
});
