import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildPackage, buildTar, type TarEntry } from '@spm/testkit';
import { PermanentError } from '../../src/errors.js';
import { extractTarball, HostileArchiveError, withExtracted } from '../../src/scan/extract.js';

const limits = { maxEntries: 20_000, maxUnpackedBytes: 512 * 1024 * 1024 };

let sandbox: string;
let tmpRoot: string;
let outside: string;

beforeEach(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'spm-extract-test-'));
  tmpRoot = join(sandbox, 'tmp');
  outside = join(sandbox, 'outside');
  await mkdir(tmpRoot);
  await mkdir(outside);
});

afterEach(async () => {
  await rm(sandbox, { recursive: true, force: true });
});

async function writeTgz(name: string, entries: TarEntry[]): Promise<string> {
  const file = join(sandbox, name);
  await writeFile(file, gzipSync(buildTar(entries)));
  return file;
}

/** Asserts the archive is refused with a reason matching `reason`, and that nothing was left behind. */
async function expectRejected(file: string, reason: RegExp, l: Partial<typeof limits> = {}): Promise<void> {
  const err = await extractTarball(file, { ...limits, ...l, tmpRoot }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HostileArchiveError);
  expect(err).toBeInstanceOf(PermanentError);
  expect((err as PermanentError).kind).toBe('policy');
  expect((err as Error).message).toMatch(reason);
  expect(await readdir(tmpRoot)).toEqual([]);
  expect(await readdir(outside)).toEqual([]);
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

/** Gzips `head` followed by `zeroMiB` MiB of zero bytes, streaming, into a file. */
async function writeBomb(name: string, head: Buffer, zeroMiB: number): Promise<string> {
  const file = join(sandbox, name);
  const zero = Buffer.alloc(1024 * 1024);
  async function* body() {
    yield head;
    for (let i = 0; i < zeroMiB; i++) yield zero;
  }
  await pipeline(Readable.from(body()), createGzip({ level: 1 }), createWriteStream(file));
  return file;
}

describe('safe extraction', () => {
  it('extracts a normal package and removes the directory afterwards', async () => {
    const pkg = buildPackage({ name: 'plain', version: '1.0.0', files: { 'lib/a.js': 'exports.a = 1;\n' } });
    const file = join(sandbox, 'plain.tgz');
    await writeFile(file, pkg.tarball);
    let seen = '';
    const out = await withExtracted(file, { ...limits, tmpRoot }, async (x) => {
      seen = x.dir;
      expect(x.root).toBe(join(x.dir, 'package'));
      expect(x.entries).toBe(3);
      expect(await readFile(join(x.root, 'lib/a.js'), 'utf8')).toContain('exports.a');
      return 'ok';
    });
    expect(out).toBe('ok');
    expect(existsSync(seen)).toBe(false);
    expect(await readdir(tmpRoot)).toEqual([]);
  });

  it('removes the directory when the callback throws', async () => {
    const file = join(sandbox, 'plain.tgz');
    await writeFile(file, buildPackage({ name: 'plain', version: '1.0.0' }).tarball);
    await expect(
      withExtracted(file, { ...limits, tmpRoot }, async () => {
        throw new Error('scanner broke');
      }),
    ).rejects.toThrow('scanner broke');
    expect(await readdir(tmpRoot)).toEqual([]);
  });

  it('validates links that stay inside but never creates them', async () => {
    const file = await writeTgz('links.tgz', [
      { path: 'package/package.json', content: '{"name":"l","version":"1.0.0"}' },
      { path: 'package/lib/real.js', content: '1' },
      { path: 'package/alias.js', type: '2', linkpath: 'lib/real.js' },
      { path: 'package/hard.js', type: '1', linkpath: 'package/lib/real.js' },
    ]);
    await withExtracted(file, { ...limits, tmpRoot }, async (x) => {
      expect(x.skippedLinks).toEqual(['package/alias.js', 'package/hard.js']);
      expect(existsSync(join(x.root, 'alias.js'))).toBe(false);
      expect(existsSync(join(x.root, 'hard.js'))).toBe(false);
    });
  });

  it('rejects path traversal with ..', async () => {
    const file = await writeTgz('traversal.tgz', [
      { path: 'package/package.json', content: '{}' },
      { path: 'package/../../outside/evil.txt', content: 'pwned' },
    ]);
    await expectRejected(file, /'\.\.' path segment/);
  });

  it('rejects an absolute path', async () => {
    const target = join(outside, 'abs.txt');
    const file = await writeTgz('absolute.tgz', [
      { path: 'package/package.json', content: '{}' },
      { path: target, content: 'pwned' },
    ]);
    await expectRejected(file, /absolute path/);
    expect(existsSync(target)).toBe(false);
  });

  it('rejects a symlink leaving the directory, and a file written through it', async () => {
    const file = await writeTgz('symlink.tgz', [
      { path: 'package/package.json', content: '{}' },
      { path: 'package/escape', type: '2', linkpath: '../../outside' },
      { path: 'package/escape/evil.txt', content: 'pwned' },
    ]);
    await expectRejected(file, /symlink "package\/escape" -> "\.\.\/\.\.\/outside" leaves/);
  });

  it('rejects a symlink to an absolute path', async () => {
    const file = await writeTgz('symlink-abs.tgz', [{ path: 'package/passwd', type: '2', linkpath: '/etc/passwd' }]);
    await expectRejected(file, /symlink "package\/passwd" points to the absolute path/);
  });

  it('rejects a hardlink leaving the directory', async () => {
    const file = await writeTgz('hardlink.tgz', [
      { path: 'package/package.json', content: '{}' },
      { path: 'package/hl', type: '1', linkpath: '../outside/secret' },
    ]);
    await expectRejected(file, /hardlink "package\/hl" -> "\.\.\/outside\/secret" leaves/);
  });

  it('rejects a character device entry', async () => {
    const file = await writeTgz('device.tgz', [
      { path: 'package/package.json', content: '{}' },
      { path: 'package/null', type: '3' },
    ]);
    await expectRejected(file, /"package\/null" is a CharacterDevice/);
  });

  it('rejects a FIFO entry', async () => {
    const file = await writeTgz('fifo.tgz', [{ path: 'package/pipe', type: '6' as TarEntry['type'] }]);
    await expectRejected(file, /"package\/pipe" is a FIFO/);
  });

  it('rejects an archive of 100,000 entries without extracting it', async () => {
    const entries: TarEntry[] = [{ path: 'package/package.json', content: '{}' }];
    for (let i = 0; i < 100_000; i++) entries.push({ path: `package/f/${i}.js`, content: '' });
    const file = await writeTgz('many.tgz', entries);
    await expectRejected(file, /more than 20000 entries/);
  }, 30_000);

  it('rejects a gzip bomb whose file claims more than the unpacked cap', async () => {
    // 600 MiB of zeros compress to well under a megabyte; the header alone gives it away.
    const file = await writeBomb('bomb.tgz', fileHeader('package/zeros.bin', 600 * 1024 * 1024), 600);
    await expectRejected(file, /unpacked size exceeds 536870912 bytes/);
  }, 30_000);

  it('stops a gzip bomb hidden after the end of the archive once the decompressed bytes pass the cap', async () => {
    const small = buildTar([{ path: 'package/package.json', content: '{}' }]);
    const file = await writeBomb('trailing-bomb.tgz', small, 64);
    await expectRejected(file, /decompressed archive exceeds \d+ bytes/, {
      maxEntries: 10,
      maxUnpackedBytes: 1024 * 1024,
    });
  });

  it('rejects something that is not a tar archive', async () => {
    const file = join(sandbox, 'junk.tgz');
    await writeFile(file, gzipSync(Buffer.from('this is not a tar archive at all'.repeat(40))));
    const err = await extractTarball(file, { ...limits, tmpRoot }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(await readdir(tmpRoot)).toEqual([]);
  });

  it('stops when the job is cancelled', async () => {
    const file = join(sandbox, 'plain.tgz');
    await writeFile(file, buildPackage({ name: 'plain', version: '1.0.0' }).tarball);
    const ac = new AbortController();
    ac.abort();
    await expect(extractTarball(file, { ...limits, tmpRoot, signal: ac.signal })).rejects.toThrow();
    expect(await readdir(tmpRoot)).toEqual([]);
  });
});
