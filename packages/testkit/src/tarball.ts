import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  /** Path inside the archive, e.g. `package/index.js`. Written as given (tests may make it hostile). */
  path: string;
  content?: string | Buffer;
  /**
   * '0' file (default), '1' hardlink, '2' symlink, '3' char device, '4' block device, '5' directory,
   * '6' FIFO, '7' contiguous file, '\0' old-style file, 'x' pax header for the next entry.
   */
  type?: '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '\0' | 'x';
  linkpath?: string;
  mode?: number;
  /** Write a wrong header checksum (tar readers skip such a header with a warning). */
  badChecksum?: boolean;
}

/** Types whose entries carry a body of `content`. */
const WITH_BODY = new Set(['0', '7', '\0', 'x']);

/** The body of a pax extended header setting `records` (e.g. `{ path: 'package/x.js' }`). */
export function paxRecords(records: Record<string, string>): string {
  return Object.entries(records)
    .map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      const bodyLen = Buffer.byteLength(body);
      // The length counts its own digits.
      let len = bodyLen + 1;
      while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
      return `${len}${body}`;
    })
    .join('');
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512, 0);
  const write = (s: string, off: number, len: number) => h.write(s.slice(0, len), off, len, 'utf8');
  const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  let name = entry.path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const i = name.lastIndexOf('/', name.length - 1);
    prefix = name.slice(0, i);
    name = name.slice(i + 1);
  }
  write(name, 0, 100);
  write(octal(entry.mode ?? (entry.type === '5' ? 0o755 : 0o644), 8), 100, 8);
  write(octal(0, 8), 108, 8);
  write(octal(0, 8), 116, 8);
  write(octal(size, 12), 124, 12);
  write(octal(Math.floor(Date.UTC(1985, 9, 26, 8, 15) / 1000), 12), 136, 12);
  h.fill(' ', 148, 156);
  write(entry.type ?? '0', 156, 1);
  write(entry.linkpath ?? '', 157, 100);
  write('ustar\0', 257, 6);
  write('00', 263, 2);
  write(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  write((entry.badChecksum ? sum + 1 : sum).toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** Builds an uncompressed ustar archive from entries, byte for byte as given. */
export function buildTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
    const size = e.type === undefined || WITH_BODY.has(e.type) ? body.length : 0;
    parts.push(header(e, size));
    if (size > 0) {
      parts.push(body);
      const pad = (512 - (size % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

export interface BuiltPackage {
  name: string;
  version: string;
  tarball: Buffer;
  /** sha512 SRI of the gzipped tarball, as npm writes it in lockfiles. */
  integrity: string;
  /** Hex sha1 of the gzipped tarball (npm's `dist.shasum`). */
  shasum: string;
  manifest: Record<string, unknown>;
}

export function sri(buf: Buffer, algo: 'sha512' | 'sha1' = 'sha512'): string {
  return `${algo}-${createHash(algo).update(buf).digest('base64')}`;
}

/**
 * Builds a real npm package tarball (gzipped tar with everything under `package/`), the way `npm pack`
 * lays it out. `files` maps paths relative to the package root to contents; package.json is generated
 * from `manifest` unless given in `files`. `extraEntries` are appended raw (for hostile archives).
 */
export function buildPackage(opts: {
  name: string;
  version: string;
  manifest?: Record<string, unknown>;
  files?: Record<string, string | Buffer>;
  extraEntries?: TarEntry[];
}): BuiltPackage {
  const manifest = { name: opts.name, version: opts.version, license: 'MIT', main: 'index.js', ...opts.manifest };
  const files: Record<string, string | Buffer> = {
    'package.json': JSON.stringify(manifest, null, 2) + '\n',
    'index.js': `module.exports = ${JSON.stringify(`${opts.name}@${opts.version}`)};\n`,
    ...opts.files,
  };
  const entries: TarEntry[] = Object.entries(files).map(([p, content]) => ({ path: `package/${p}`, content }));
  entries.push(...(opts.extraEntries ?? []));
  const tarball = gzipSync(buildTar(entries));
  return {
    name: opts.name,
    version: opts.version,
    tarball,
    integrity: sri(tarball),
    shasum: createHash('sha1').update(tarball).digest('hex'),
    manifest,
  };
}
