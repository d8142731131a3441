import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Parser, Unpack, type ReadEntry } from 'tar';
import { PermanentError } from '../errors.js';

export interface ExtractLimits {
  /** Most entries (files, directories, links) an archive may hold. */
  maxEntries: number;
  /** Most bytes the archive's files may add up to once unpacked. */
  maxUnpackedBytes: number;
  /** Parent of the temporary directory (default: the OS temp dir). */
  tmpRoot?: string;
  signal?: AbortSignal;
}

export interface ExtractedPackage {
  /** The temporary directory everything was extracted into. */
  dir: string;
  /** The package root inside it (normally `<dir>/package`). */
  root: string;
  entries: number;
  unpackedBytes: number;
  /** Links inside the archive that stay inside it: validated, but never created on disk (as npm does). */
  skippedLinks: string[];
}

/** An archive that breaks the extraction policy. The message says which entry and why. */
export class HostileArchiveError extends PermanentError {
  constructor(message: string) {
    super('policy', `hostile archive: ${message}`);
    this.name = 'HostileArchiveError';
  }
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const LINK_TYPES = new Set(['Link', 'SymbolicLink']);
// Per-entry allowance for tar headers, pax records and padding when capping the decompressed stream.
const HEADER_ALLOWANCE = 3 * 1024;

function show(p: string): string {
  const s = JSON.stringify(p);
  return s.length > 120 ? `${s.slice(0, 117)}…"` : s;
}

function isAbsoluteLike(p: string): boolean {
  return p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p);
}

function escapes(normalised: string): boolean {
  return normalised === '..' || normalised.startsWith('../') || posix.isAbsolute(normalised);
}

/**
 * The extraction policy, applied to every entry header in order. Throws HostileArchiveError for the
 * first entry that breaks it; returns what to do with the entry otherwise.
 */
class EntryPolicy {
  entries = 0;
  unpackedBytes = 0;
  skippedLinks: string[] = [];

  constructor(private readonly limits: ExtractLimits) {}

  check(entry: Pick<ReadEntry, 'path' | 'type' | 'size' | 'linkpath'>): 'extract' | 'skip' {
    this.entries++;
    if (this.entries > this.limits.maxEntries) {
      throw new HostileArchiveError(`more than ${this.limits.maxEntries} entries (SCAN_MAX_ENTRIES)`);
    }
    const path = entry.path;
    if (path.includes('\0')) throw new HostileArchiveError(`entry ${show(path)} has a NUL byte in its path`);
    if (isAbsoluteLike(path)) throw new HostileArchiveError(`entry ${show(path)} has an absolute path`);
    const segments = path.split(/[\\/]/);
    if (segments.includes('..'))
      throw new HostileArchiveError(`entry ${show(path)} has a '..' path segment (path traversal)`);

    if (FILE_TYPES.has(entry.type)) {
      this.unpackedBytes += entry.size;
      if (this.unpackedBytes > this.limits.maxUnpackedBytes) {
        throw new HostileArchiveError(
          `unpacked size exceeds ${this.limits.maxUnpackedBytes} bytes (SCAN_MAX_UNPACKED_BYTES) at entry ${show(path)}`,
        );
      }
      return 'extract';
    }
    if (entry.type === 'Directory') return 'extract';
    if (LINK_TYPES.has(entry.type)) {
      const target = (entry.linkpath ?? '').replace(/\\/g, '/');
      const kind = entry.type === 'Link' ? 'hardlink' : 'symlink';
      if (!target) throw new HostileArchiveError(`${kind} ${show(path)} has no target`);
      if (target.includes('\0') || isAbsoluteLike(target)) {
        throw new HostileArchiveError(`${kind} ${show(path)} points to the absolute path ${show(target)}`);
      }
      // Hardlink targets name another archive member; symlink targets are relative to the link's directory.
      const resolved =
        entry.type === 'Link'
          ? posix.normalize(target)
          : posix.normalize(posix.join(posix.dirname(path.replace(/\\/g, '/')), target));
      if (escapes(resolved)) {
        throw new HostileArchiveError(`${kind} ${show(path)} -> ${show(target)} leaves the extraction directory`);
      }
      this.skippedLinks.push(path);
      return 'skip';
    }
    throw new HostileArchiveError(
      `entry ${show(path)} is a ${entry.type} (only files, directories and links are allowed)`,
    );
  }

  /** Cap for the decompressed stream, which also stops a gzip bomb hidden after the end of the archive. */
  get streamCap(): number {
    return this.limits.maxUnpackedBytes + (this.limits.maxEntries + 2) * HEADER_ALLOWANCE + 1024 * 1024;
  }
}

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

type Sink = Parser | Unpack;

/**
 * Streams the (decompressed) archive into `sink`, counting the bytes actually produced so a gzip bomb
 * stops as soon as it passes the cap, and waits for the sink to close. `policyError()` is checked after
 * every chunk so a violation seen by the sink's entry callback stops the stream at once.
 */
async function pump(
  file: string,
  sink: Sink,
  cap: number,
  policyError: () => Error | null,
  signal?: AbortSignal,
): Promise<void> {
  const source = createReadStream(file);
  const stream: Readable = (await isGzip(file)) ? source.pipe(createGunzip()) : source;
  let sinkError: Error | null = null;
  sink.on('error', (err: Error) => {
    sinkError ??= err;
  });
  const closed = new Promise<void>((resolve) => sink.once('close', () => resolve()));
  const errored = new Promise<void>((resolve) => sink.once('error', () => resolve()));
  let total = 0;
  try {
    for await (const chunk of stream) {
      signal?.throwIfAborted();
      total += (chunk as Buffer).length;
      if (total > cap) throw new HostileArchiveError(`decompressed archive exceeds ${cap} bytes (gzip bomb?)`);
      const ok = sink.write(chunk as Buffer);
      const failed = policyError() ?? sinkError;
      if (failed) throw failed;
      if (!ok) await once(sink, 'drain', { signal });
    }
    sink.end();
    await Promise.race([closed, errored]);
    const failed = policyError() ?? sinkError;
    if (failed) throw failed;
  } catch (err) {
    source.destroy();
    stream.destroy();
    // Let the sink settle before the caller removes the directory it may still be writing into.
    sink.abort(err instanceof Error ? err : new Error(String(err)));
    await Promise.race([closed, new Promise((r) => setTimeout(r, 200))]);
    const policy = policyError();
    if (policy && !(err instanceof HostileArchiveError)) throw policy;
    if (err instanceof HostileArchiveError || (err as Error).name === 'AbortError') throw err;
    const e = err as { code?: string; tarCode?: string; message?: string };
    if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR' || e.tarCode || /^TAR_/.test(e.code ?? e.message ?? '')) {
      throw new PermanentError('policy', `the tarball is not a valid (gzipped) tar archive: ${(err as Error).message}`);
    }
    throw err;
  }
}

async function findRoot(dir: string): Promise<string> {
  const { readdir, stat } = await import('node:fs/promises');
  const pkg = join(dir, 'package');
  try {
    if ((await stat(join(pkg, 'package.json'))).isFile()) return pkg;
  } catch {
    // fall through: some old tarballs use another top-level directory name
  }
  for (const d of await readdir(dir, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    try {
      if ((await stat(join(dir, d.name, 'package.json'))).isFile()) return join(dir, d.name);
    } catch {
      // not this one
    }
  }
  return dir;
}

/**
 * Extracts a package tarball into a fresh temporary directory under the policy: no absolute paths, no
 * `..`, no links leaving the directory (links that stay inside are validated and skipped, never
 * created), no devices or FIFOs, at most `maxEntries` entries and `maxUnpackedBytes` bytes. The whole
 * archive is validated in a first pass that writes nothing, then extracted with the same checks.
 * A policy violation throws HostileArchiveError (a PermanentError of kind policy); the directory is
 * removed before any error is thrown. The caller owns the directory on success: prefer
 * {@link withExtracted}.
 */
export async function extractTarball(file: string, limits: ExtractLimits): Promise<ExtractedPackage> {
  // Pass 1: read every header without writing anything.
  const inspect = new EntryPolicy(limits);
  let violation: Error | null = null;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      if (!violation) {
        try {
          inspect.check(entry);
        } catch (err) {
          violation = err as Error;
        }
      }
      entry.resume();
    },
  });
  await pump(file, parser, inspect.streamCap, () => violation, limits.signal);

  // Pass 2: extract into a fresh directory, applying the same policy again (defence in depth).
  const dir = await mkdtemp(join(limits.tmpRoot ?? tmpdir(), 'spm-scan-'));
  try {
    const policy = new EntryPolicy(limits);
    let violation2: Error | null = null;
    const unpack = new Unpack({
      cwd: dir,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      chmod: false,
      noMtime: true,
      filter: (_path, entry) => {
        const e = entry as ReadEntry;
        if (violation2) return false;
        try {
          if (policy.check(e) === 'skip') return false;
        } catch (err) {
          violation2 = err as Error;
          return false;
        }
        // Normal permissions whatever the archive says, so the directory can always be read and removed.
        e.mode = e.type === 'Directory' ? 0o755 : 0o644;
        return true;
      },
    });
    await pump(file, unpack, policy.streamCap, () => violation2, limits.signal);
    return {
      dir,
      root: await findRoot(dir),
      entries: policy.entries,
      unpackedBytes: policy.unpackedBytes,
      skippedLinks: policy.skippedLinks,
    };
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}

/** Removes a directory tree; never throws. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 }).catch(() => undefined);
}

/**
 * Extracts `file` (see {@link extractTarball}), runs `fn` on the result and always removes the
 * temporary directory afterwards, whether `fn` succeeded or threw.
 */
export async function withExtracted<T>(
  file: string,
  limits: ExtractLimits,
  fn: (pkg: ExtractedPackage) => Promise<T>,
): Promise<T> {
  const extracted = await extractTarball(file, limits);
  try {
    return await fn(extracted);
  } finally {
    await removeDir(extracted.dir);
  }
}
