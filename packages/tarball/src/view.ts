import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, posix, relative, resolve } from 'node:path';
import { Unzip } from 'minizlib';
import { Parser, type ReadEntry } from 'tar';
import { ContentStore, type Slot } from './content-store.js';
import {
  DEFAULT_MEMORY_BYTES,
  DEFAULT_TARBALL_LIMITS,
  MAX_MANIFEST_BYTES,
  TarballError,
  limitError,
  type TarballLimits,
} from './limits.js';
import { NpmLayout, type SkipReason } from './npm-layout.js';

/** One file exactly as npm leaves it in `node_modules/<name>` (the last copy in the archive). */
export interface TarballFile {
  /** Relative to the package folder, `/`-separated, normalised (never absolute, never `..`). */
  readonly path: string;
  readonly size: number;
  read(): Promise<Buffer>;
  /** The first `n` bytes (fewer when the file is shorter). */
  head(n: number): Promise<Buffer>;
}

/**
 * Something about the archive that a reviewer (or the policy) should know. The reader only reports;
 * what is refused and what is a finding is the scanner's decision.
 */
export type TarballIssueCode =
  /** Files under more than one top-level folder: npm strips whatever the first component is. */
  | 'multiple-roots'
  /** A path written more than once with different contents: npm keeps the last copy. */
  | 'duplicate-path'
  /** A path written more than once with the same contents. */
  | 'duplicate-identical'
  /** Copies of package.json that differ: what tools reading the first copy see is not what npm installs. */
  | 'manifest-copies-differ'
  /** A link that stays inside the package (npm skips every link). */
  | 'link'
  /** A link to an absolute path or out of the package. */
  | 'link-escapes'
  /** A device, FIFO or unknown entry type (npm skips them). */
  | 'special-entry'
  /** A path with a `..` segment (npm skips it). */
  | 'dot-dot-path'
  /** An absolute path (or drive or UNC root) that npm strips before writing. */
  | 'absolute-path'
  /** A backslash in a path: a folder separator on Windows, part of the name elsewhere. */
  | 'backslash-path'
  /** A NUL character in a path. */
  | 'nul-in-path'
  /** A file where a folder is or below a file: npm skips it. */
  | 'path-conflict'
  /** A file at the archive's top level (npm skips it). */
  | 'top-level-file'
  /** More than 1024 path segments (npm skips it). */
  | 'too-deep'
  /** A `.gitignore` after a `.npmignore` in the same folder (npm skips it). */
  | 'gitignore-shadowed'
  /** Paths that differ only in letter case: one replaces the other on macOS and Windows. */
  | 'case-conflict'
  /** Headers npm's tar reader skips with a warning (bad checksum, truncated archive, …). */
  | 'invalid-header';

export interface TarballIssue {
  code: TarballIssueCode;
  count: number;
  /** Up to 10 archive paths (or other short evidence) showing it. */
  examples: string[];
}

export interface TarballStats {
  /** Tar entries of every kind except pax/long-name metadata. */
  entries: number;
  /** Files npm writes. */
  files: number;
  /** Sum of every file entry's size, written or not. */
  unpackedBytes: number;
  largestFile: { path: string; size: number } | null;
  compressedBytes: number;
  /** Bytes of the tar stream after decompression (headers and padding included). */
  decompressedBytes: number;
  compressionRatio: number;
  /** Bytes that did not fit in memory and went to a temporary file. */
  spilledBytes: number;
}

export interface ReadTarballOptions {
  limits?: Partial<TarballLimits>;
  /** File contents kept in memory before the rest goes to a temporary file (default 32 MiB). */
  memoryBytes?: number;
  /** Parent of the temporary file (default: the OS temp dir). */
  tmpRoot?: string;
  /** Which files' contents to keep (default all). package.json is always kept. */
  keep?: (path: string, size: number) => boolean;
  signal?: AbortSignal;
}

const EXAMPLES = 10;
// An archive path that is absolute (POSIX or Windows) before anything is stripped.
const ROOTED = /^(?:[\\/]|[a-zA-Z]:)/;
const RATIO_GRACE_BYTES = 1024 * 1024;
const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];

const SKIP_ISSUE: Partial<Record<SkipReason, TarballIssueCode>> = {
  special: 'special-entry',
  'dot-dot': 'dot-dot-path',
  conflict: 'path-conflict',
  'top-level': 'top-level-file',
  'too-deep': 'too-deep',
  'gitignore-shadowed': 'gitignore-shadowed',
};

function startsWith(buf: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => buf[i] === b);
}

function linkEscapes(path: string, type: string, linkpath: string): boolean {
  const target = linkpath.replace(/\\/g, '/');
  if (!target || target.startsWith('/') || /^[a-zA-Z]:/.test(target) || target.includes('\0')) return true;
  // Hardlink targets name another archive member; symlink targets are relative to the link's folder.
  const resolved = type === 'Link' ? posix.normalize(target) : posix.normalize(posix.join(posix.dirname(path), target));
  return resolved === '..' || resolved.startsWith('../') || posix.isAbsolute(resolved);
}

class ViewFile implements TarballFile {
  constructor(
    readonly path: string,
    private readonly slot: Slot,
  ) {}
  get size(): number {
    return this.slot.written;
  }
  read(): Promise<Buffer> {
    return this.slot.read();
  }
  head(n: number): Promise<Buffer> {
    return this.slot.head(n);
  }
  get slotRef(): Slot {
    return this.slot;
  }
}

/**
 * What npm installs from one archive: every file it writes, under the path it writes it to, with the
 * contents of the last copy. Call {@link TarballView.dispose} (or use {@link withTarballView}) when
 * done: a large archive keeps part of its contents in a temporary file.
 */
export class TarballView {
  /** Sorted by path. */
  readonly files: readonly TarballFile[];
  private readonly byPath: ReadonlyMap<string, TarballFile>;

  constructor(
    files: Map<string, TarballFile>,
    /** The parsed package.json npm installs, or null (see manifestError). */
    readonly manifest: Record<string, unknown> | null,
    readonly manifestError: string | null,
    /** Top-level folders of the files npm writes, in order of appearance. */
    readonly roots: readonly string[],
    readonly issues: readonly TarballIssue[],
    readonly stats: TarballStats,
    private readonly store: ContentStore,
  ) {
    this.byPath = files;
    this.files = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  file(path: string): TarballFile | undefined {
    return this.byPath.get(path);
  }

  issue(code: TarballIssueCode): TarballIssue | undefined {
    return this.issues.find((i) => i.code === code);
  }

  /**
   * Writes the files into `dir` (which must exist), as npm would lay them out, for tools that need a
   * real folder (Trivy). Paths come from the view, so nothing lands outside `dir`.
   */
  async materialize(dir: string): Promise<void> {
    const base = resolve(dir);
    for (const f of this.files) {
      const target = resolve(base, f.path);
      const rel = relative(base, target);
      if (!rel || rel.startsWith('..') || isAbsolute(rel))
        throw new Error(`refusing to write ${f.path} outside ${dir}`);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, await f.read(), { mode: 0o644 });
    }
  }

  /** Removes the temporary file, if any. Never throws. */
  dispose(): void {
    this.store.dispose();
  }
}

/** Collects issues by code, each with a count and a few examples. */
class IssueLog {
  private readonly map = new Map<TarballIssueCode, TarballIssue>();
  add(code: TarballIssueCode, example: string): void {
    let i = this.map.get(code);
    if (!i) this.map.set(code, (i = { code, count: 0, examples: [] }));
    i.count++;
    if (i.examples.length < EXAMPLES) i.examples.push(example.length > 300 ? `${example.slice(0, 299)}…` : example);
  }
  list(): TarballIssue[] {
    return [...this.map.values()];
  }
}

/** One pass over one archive. */
class Reader {
  private readonly limits: TarballLimits;
  private readonly layout = new NpmLayout();
  private readonly issues = new IssueLog();
  private readonly files = new Map<string, ViewFile>();
  private readonly roots = new Map<string, number>();
  private readonly store: ContentStore;
  private failure: Error | null = null;
  private readonly pending = new Set<Promise<void>>();
  private entries = 0;
  private unpackedBytes = 0;
  private largest: { path: string; size: number } | null = null;
  compressed = 0;
  decompressed = 0;

  constructor(private readonly opts: ReadTarballOptions) {
    this.limits = { ...DEFAULT_TARBALL_LIMITS, ...opts.limits };
    this.store = new ContentStore(opts.memoryBytes ?? DEFAULT_MEMORY_BYTES, opts.tmpRoot);
  }

  private fail(err: Error): void {
    this.failure ??= err;
  }

  private checkRatio(): void {
    const { maxCompressionRatio } = this.limits;
    if (this.decompressed > RATIO_GRACE_BYTES && this.decompressed > maxCompressionRatio * this.compressed) {
      this.fail(
        limitError(
          'maxCompressionRatio',
          this.limits,
          `the archive decompresses to more than ${maxCompressionRatio} times its size (compression bomb?)`,
        ),
      );
    }
  }

  private onEntry(entry: ReadEntry): void {
    if (this.failure) return void entry.resume();
    const raw = entry.path;
    this.entries++;
    if (this.entries > this.limits.maxEntries) {
      this.fail(limitError('maxEntries', this.limits, `the archive has more than ${this.limits.maxEntries} entries`));
      return void entry.resume();
    }
    const isFile = /File$/.test(entry.type);
    if (isFile) {
      if (entry.size > this.limits.maxFileBytes) {
        this.fail(limitError('maxFileBytes', this.limits, `${raw} is ${entry.size} bytes`));
        return void entry.resume();
      }
      this.unpackedBytes += entry.size;
      if (this.unpackedBytes > this.limits.maxUnpackedBytes) {
        this.fail(
          limitError(
            'maxUnpackedBytes',
            this.limits,
            `the files add up to more than ${this.limits.maxUnpackedBytes} bytes`,
          ),
        );
        return void entry.resume();
      }
      if (!this.largest || entry.size > this.largest.size) this.largest = { path: raw, size: entry.size };
    }
    if (raw.includes('\0')) {
      this.issues.add('nul-in-path', JSON.stringify(raw));
      return void entry.resume();
    }
    if (raw.includes('\\')) this.issues.add('backslash-path', raw);
    if (/Link$/.test(entry.type)) {
      const target = String(entry.linkpath ?? '');
      this.issues.add(linkEscapes(raw, entry.type, target) ? 'link-escapes' : 'link', `${raw} -> ${target}`);
    }

    const placed = this.layout.place(raw, entry.type);
    if (!placed.write) {
      const code = SKIP_ISSUE[placed.reason];
      if (code) this.issues.add(code, raw);
      return void entry.resume();
    }
    if (placed.strippedRoot || ROOTED.test(raw)) this.issues.add('absolute-path', raw);
    this.roots.set(placed.root, (this.roots.get(placed.root) ?? 0) + 1);

    const path = placed.path;
    const isManifest = path === 'package.json';
    const keep = isManifest ? entry.size <= MAX_MANIFEST_BYTES : (this.opts.keep?.(path, entry.size) ?? true);
    const slot = this.store.alloc(path, entry.size, keep);
    const previous = placed.replaces ? this.files.get(path) : undefined;
    const file = new ViewFile(path, slot);
    this.files.set(path, file);
    entry.on('data', (chunk: Buffer) => {
      if (this.failure) return;
      try {
        slot.append(chunk);
      } catch (err) {
        this.fail(
          new TarballError('ERR_TARBALL_UNREADABLE', `could not keep ${path}: ${(err as Error).message}`, {
            cause: err,
          }),
        );
      }
    });
    if (previous) {
      const done = new Promise<void>((res) => entry.once('end', () => res()))
        .then(() => this.compareCopies(path, raw, previous, file))
        .catch((err: unknown) => this.fail(err as Error));
      this.pending.add(done);
      void done.finally(() => this.pending.delete(done));
    }
  }

  private async compareCopies(path: string, raw: string, previous: ViewFile, latest: ViewFile): Promise<void> {
    let identical: boolean | null = null;
    try {
      const [a, b] = await Promise.all([previous.read(), latest.read()]);
      identical = a.equals(b);
    } catch {
      identical = null; // contents not kept: only the fact of the duplicate is known
    }
    this.store.release(previous.slotRef);
    this.issues.add(identical === true ? 'duplicate-identical' : 'duplicate-path', raw);
    if (path === 'package.json' && identical === false) this.issues.add('manifest-copies-differ', raw);
  }

  async run(input: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    const parser = new Parser({
      // The stream the parser sees is always a plain tar stream (decompressed below), as npm's parser
      // sees it once it has unzipped: no second sniffing for compression.
      zstd: false,
      onwarn: (code: string, message: unknown) => {
        this.issues.add('invalid-header', `${code}: ${message instanceof Error ? message.message : String(message)}`);
      },
      onReadEntry: (entry: ReadEntry) => this.onEntry(entry),
    });
    const unreadable = (err: Error) =>
      this.fail(
        new TarballError('ERR_TARBALL_UNREADABLE', `the archive is not a readable tar archive: ${err.message}`, {
          cause: err,
        }),
      );
    const parsed = new Promise<void>((res) => {
      parser.on('end', () => res());
      parser.on('error', (err: Error) => {
        unreadable(err);
        res();
      });
    });

    let unzip: Unzip | null = null;
    let unzipDone: Promise<void> = Promise.resolve();
    let sniffed = false;
    let tarHead: Buffer | null = null;
    const toParser = (chunk: Buffer) => {
      this.decompressed += chunk.length;
      if (!tarHead) {
        tarHead = chunk.subarray(0, 4);
        if (startsWith(tarHead, GZIP) || startsWith(tarHead, ZSTD)) {
          this.fail(
            new TarballError(
              'ERR_TARBALL_UNREADABLE',
              'the archive is compressed twice (a compressed stream inside the gzip stream)',
            ),
          );
          return;
        }
      }
      this.checkRatio();
      if (!this.failure) parser.write(chunk);
    };

    const signal = this.opts.signal;
    const source = input instanceof Uint8Array ? [input] : input;
    try {
      for await (const c of source) {
        signal?.throwIfAborted();
        if (this.failure) break;
        const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        if (chunk.length === 0) continue;
        this.compressed += chunk.length;
        if (!sniffed) {
          sniffed = true;
          if (startsWith(chunk, GZIP)) {
            const z = new Unzip({});
            unzip = z;
            z.on('data', (d: Buffer) => toParser(d));
            unzipDone = new Promise<void>((res) => {
              z.on('end', () => res());
              z.on('error', (err: unknown) => {
                unreadable(err as Error);
                res();
              });
            });
          } else if (startsWith(chunk, ZSTD)) {
            throw new TarballError(
              'ERR_TARBALL_UNREADABLE',
              'the archive is zstd-compressed; npm packages are gzipped tar archives',
            );
          }
        }
        if (unzip) unzip.write(chunk);
        else toParser(chunk);
      }
      signal?.throwIfAborted();
      if (!this.failure) {
        if (unzip) {
          (unzip as Unzip).end();
          await unzipDone;
        }
        parser.end();
        await parsed;
        await Promise.all([...this.pending]);
      }
    } catch (err) {
      if (err instanceof TarballError || (err as Error).name === 'AbortError' || signal?.aborted) throw err;
      throw new TarballError(
        'ERR_TARBALL_UNREADABLE',
        `the archive is not a readable tar archive: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (this.failure) throw this.failure;
    this.checkRatio();
    if (this.failure) throw this.failure;
    if (this.compressed === 0) throw new TarballError('ERR_TARBALL_UNREADABLE', 'the archive is empty');
    if (this.entries === 0) {
      const why = this.issues.list().find((i) => i.code === 'invalid-header')?.examples[0];
      throw new TarballError(
        'ERR_TARBALL_UNREADABLE',
        `the archive is not a readable tar archive: ${why ?? 'it holds no entries'}`,
      );
    }
  }

  async view(): Promise<TarballView> {
    const roots = [...this.roots.keys()];
    if (roots.length > 1) {
      const main = roots[0]!;
      for (const r of roots.slice(1))
        this.issues.add('multiple-roots', `${r}/ (${this.roots.get(r)} files, beside ${main}/)`);
    }
    const byLower = new Map<string, string[]>();
    for (const p of this.files.keys()) {
      const k = p.toLowerCase();
      const group = byLower.get(k);
      if (group) group.push(p);
      else byLower.set(k, [p]);
    }
    for (const group of byLower.values()) if (group.length > 1) this.issues.add('case-conflict', group.join(' / '));

    const { manifest, error } = await this.readManifest();
    const stats: TarballStats = {
      entries: this.entries,
      files: this.files.size,
      unpackedBytes: this.unpackedBytes,
      largestFile: this.largest,
      compressedBytes: this.compressed,
      decompressedBytes: this.decompressed,
      compressionRatio: this.compressed ? Math.round((this.decompressed / this.compressed) * 10) / 10 : 0,
      spilledBytes: this.store.spilledBytes,
    };
    return new TarballView(this.files, manifest, error, roots, this.issues.list(), stats, this.store);
  }

  private async readManifest(): Promise<{ manifest: Record<string, unknown> | null; error: string | null }> {
    const file = this.files.get('package.json');
    if (!file) return { manifest: null, error: 'the tarball has no package.json' };
    if (file.size > MAX_MANIFEST_BYTES) {
      return {
        manifest: null,
        error: `package.json in the tarball is ${file.size} bytes (limit ${MAX_MANIFEST_BYTES})`,
      };
    }
    return parseManifest(await file.read());
  }

  dispose(): void {
    this.store.dispose();
  }
}

/** package.json text → object, or the reason it is not one. */
export function parseManifest(raw: Buffer): { manifest: Record<string, unknown> | null; error: string | null } {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    return { manifest: null, error: `package.json in the tarball is not valid JSON: ${(err as Error).message}` };
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    return { manifest: null, error: 'package.json in the tarball is not a JSON object' };
  }
  return { manifest: doc as Record<string, unknown>, error: null };
}

/**
 * Reads a package archive (gzipped or plain tar, as bytes or a stream of them) once, the way npm
 * extracts it, into a {@link TarballView}. Throws TarballError: `ERR_TARBALL_LIMIT` when a hard limit
 * is passed (the message names the limit and its setting), `ERR_TARBALL_UNREADABLE` when it is not a
 * readable archive. An abort of `signal` is rethrown as is. Nothing is written outside a private
 * temporary file, which is removed on failure and by `dispose()`.
 */
export async function readTarball(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  opts: ReadTarballOptions = {},
): Promise<TarballView> {
  const reader = new Reader(opts);
  try {
    await reader.run(input);
    return await reader.view();
  } catch (err) {
    reader.dispose();
    throw err;
  }
}

/** Reads the archive, runs `fn` on the view and always disposes of it afterwards. */
export async function withTarballView<T>(
  input: Uint8Array | AsyncIterable<Uint8Array>,
  opts: ReadTarballOptions,
  fn: (view: TarballView) => Promise<T>,
): Promise<T> {
  const view = await readTarball(input, opts);
  try {
    return await fn(view);
  } finally {
    view.dispose();
  }
}
