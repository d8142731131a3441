import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { DB } from '@spm/db';
import { removeDir } from '../temp-dir.js';
import { importAdvisories, type ImportSummary } from './advisory-import.js';

export interface SyncOptions {
  url: string;
  token?: string | null;
  maxBytes: number;
  timeoutMs: number;
  signal?: AbortSignal;
  force?: boolean;
  fetch?: typeof fetch;
  /** Validators of the copy imported last: sent as If-None-Match / If-Modified-Since (a 304 imports nothing). */
  etag?: string | null;
  lastModified?: string | null;
  quarantineSeverities?: readonly string[];
}

/** What the source said: nothing new (304), or the import of what it sent. */
export type SyncResult =
  | { notModified: true; status: number; etag: string | null; lastModified: string | null }
  | (ImportSummary & {
      notModified: false;
      status: number;
      bytes: number;
      etag: string | null;
      lastModified: string | null;
    });

/**
 * Downloads an OSV zip (the shape of the OSV npm export) from `url` to a temporary file, with a size
 * cap and a timeout, imports it (see importAdvisories, which also re-evaluates what changed) and
 * removes the file. With the validators of the last import it asks conditionally and a 304 imports
 * nothing. Throws on HTTP errors, an oversize or timed-out download, or import failure.
 */
export async function syncAdvisories(db: DB, opts: SyncOptions): Promise<SyncResult> {
  const dir = await mkdtemp(join(tmpdir(), 'spm-advisories-'));
  try {
    const signal = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])]);
    const headers: Record<string, string> = { accept: 'application/zip, application/octet-stream' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.etag && !opts.force) headers['if-none-match'] = opts.etag;
    if (opts.lastModified && !opts.force) headers['if-modified-since'] = opts.lastModified;
    const res = await (opts.fetch ?? fetch)(opts.url, { headers, signal });
    const validators = { etag: res.headers.get('etag'), lastModified: res.headers.get('last-modified') };
    if (res.status === 304) {
      await res.body?.cancel().catch(() => undefined);
      return {
        notModified: true,
        status: 304,
        etag: validators.etag ?? opts.etag ?? null,
        lastModified: validators.lastModified ?? opts.lastModified ?? null,
      };
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new Error(`downloading advisories from ${opts.url} failed: HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      await res.body.cancel().catch(() => undefined);
      throw new Error(`advisory download is ${declared} bytes, more than ADVISORIES_MAX_BYTES=${opts.maxBytes}`);
    }
    let bytes = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > opts.maxBytes) cb(new Error(`advisory download exceeds ADVISORIES_MAX_BYTES=${opts.maxBytes}`));
        else cb(null, chunk);
      },
    });
    const file = join(dir, 'advisories.zip');
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), cap, createWriteStream(file), { signal });
    const summary = await importAdvisories(db, file, {
      force: opts.force,
      quarantineSeverities: opts.quarantineSeverities,
    });
    return { ...summary, notModified: false, status: res.status, bytes, ...validators };
  } finally {
    await removeDir(dir);
  }
}
