import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where one file's bytes are: in memory, in the spill file, or not kept at all. */
export interface Slot {
  /** Bytes written so far (the final size once the entry has ended). */
  written: number;
  append(chunk: Uint8Array): void;
  read(): Promise<Buffer>;
  head(n: number): Promise<Buffer>;
}

class MemorySlot implements Slot {
  written = 0;
  constructor(private readonly buf: Buffer) {}
  get capacity(): number {
    return this.buf.length;
  }
  append(chunk: Uint8Array): void {
    // A short or overlong entry body never writes past the size its header declared.
    const n = Math.min(chunk.length, this.buf.length - this.written);
    if (n > 0) this.buf.set(n === chunk.length ? chunk : chunk.subarray(0, n), this.written);
    this.written += n;
  }
  read(): Promise<Buffer> {
    return Promise.resolve(this.buf.subarray(0, this.written));
  }
  head(n: number): Promise<Buffer> {
    return Promise.resolve(this.buf.subarray(0, Math.min(n, this.written)));
  }
}

class SpillSlot implements Slot {
  written = 0;
  constructor(
    private readonly store: ContentStore,
    readonly offset: number,
    private readonly size: number,
  ) {}
  append(chunk: Uint8Array): void {
    const n = Math.min(chunk.length, this.size - this.written);
    if (n > 0) this.store.writeAt(chunk.subarray(0, n), this.offset + this.written);
    this.written += n;
  }
  read(): Promise<Buffer> {
    return this.store.readAt(this.offset, this.written);
  }
  head(n: number): Promise<Buffer> {
    return this.store.readAt(this.offset, Math.min(n, this.written));
  }
}

class DiscardedSlot implements Slot {
  written = 0;
  constructor(private readonly path: string) {}
  append(chunk: Uint8Array): void {
    this.written += chunk.length;
  }
  read(): Promise<Buffer> {
    return Promise.reject(
      new Error(`${this.path}: its contents were not kept (the view was read for its manifest only)`),
    );
  }
  head(n: number): Promise<Buffer> {
    return this.read().then((b) => b.subarray(0, n));
  }
}

/**
 * The bytes of an archive's files: in memory up to `memoryBytes`, the rest appended to one private
 * temporary file (mode 0600) created on first need. Writes are synchronous: they happen inside the
 * tar parser's event handlers, one entry after another, and a sequential write to the page cache is
 * cheaper than the scheduling an asynchronous one would need.
 */
export class ContentStore {
  private used = 0;
  private spillDir: string | null = null;
  private fd: number | null = null;
  private end = 0;

  constructor(
    private readonly memoryBytes: number,
    private readonly tmpRoot: string = tmpdir(),
  ) {}

  /** A slot for `size` bytes; `keep: false` counts the bytes and keeps none of them. */
  alloc(path: string, size: number, keep: boolean): Slot {
    if (!keep) return new DiscardedSlot(path);
    if (this.used + size <= this.memoryBytes) {
      this.used += size;
      return new MemorySlot(Buffer.allocUnsafe(size));
    }
    const slot = new SpillSlot(this, this.end, size);
    this.end += size;
    return slot;
  }

  /** Gives a replaced file's memory back (a spilled copy's space is only reclaimed on dispose). */
  release(slot: Slot): void {
    if (slot instanceof MemorySlot) this.used -= slot.capacity;
  }

  /** Bytes written to the spill file so far. */
  get spilledBytes(): number {
    return this.end;
  }

  writeAt(chunk: Uint8Array, position: number): void {
    if (this.fd === null) {
      this.spillDir = mkdtempSync(join(this.tmpRoot, 'spm-tarball-'));
      this.fd = openSync(join(this.spillDir, 'contents'), 'w+', 0o600);
    }
    let done = 0;
    while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done, position + done);
  }

  async readAt(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    if (length === 0 || !this.spillDir) return buf;
    const fh = await open(join(this.spillDir, 'contents'), 'r');
    try {
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** Closes and removes the spill file. Never throws; safe to call twice. */
  dispose(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = null;
    }
    if (this.spillDir) {
      rmSync(this.spillDir, { recursive: true, force: true });
      this.spillDir = null;
    }
  }
}
