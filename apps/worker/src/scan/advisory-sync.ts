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
}

/**
 * Downloads an OSV zip (the shape of the OSV npm export) from `url` to a temporary file, with a size
 * cap and a timeout, imports it (see importAdvisories) and removes the file. Throws on HTTP errors,
 * an oversize or timed-out download, or import failure.
 */
export async function syncAdvisories(db: DB, opts: SyncOptions): Promise<ImportSummary & { bytes: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'spm-advisories-'));
  try {
    const signal = AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])]);
    const headers: Record<string, string> = { accept: 'application/zip, application/octet-stream' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const res = await (opts.fetch ?? fetch)(opts.url, { headers, signal });
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
    const summary = await importAdvisories(db, file, { force: opts.force });
    return { ...summary, bytes };
  } finally {
    await removeDir(dir);
  }
}
