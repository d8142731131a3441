import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { DB } from '@spm/db';
import { removeDir } from '../temp-dir.js';
import { importAdvisories, isZip, MAX_DOCUMENT_BYTES, type ImportSummary } from './advisory-import.js';

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

/** The most files a directory listing may name: a bigger export belongs in one zip. */
export const MAX_LISTED_FILES = 20_000;

/**
 * Downloads an OSV export from `url` to a temporary folder, with a size cap (for everything it
 * fetches) and a timeout, imports it (see importAdvisories, which also re-evaluates what changed) and
 * removes the folder. The export is either a zip of `<ID>.json` records (the shape of the OSV npm
 * export) or a directory listing: an HTML index (as web servers and bucket browsers serve it) or a JSON
 * array of names, whose `.json` and `.zip` entries are fetched one by one. Only entries under the
 * listing's own folder on the same origin are followed. With the validators of the last import it asks
 * conditionally (for the zip or the listing) and a 304 imports nothing. Throws on HTTP errors, an
 * oversize or timed-out download, or import failure.
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
    const budget = { bytes: 0, max: opts.maxBytes };
    const file = join(dir, 'download');
    await save(res, file, budget, signal);
    let target = file;
    if (!(await isZip(file))) {
      // Not a zip: a directory listing of records (or an error page, which names no record).
      const entries = listingEntries(await readFile(file, 'utf8'), opts.url);
      if (entries.length === 0) {
        throw new Error(`${opts.url} is neither a zip of OSV records nor a listing of .json or .zip files`);
      }
      if (entries.length > MAX_LISTED_FILES) {
        throw new Error(`${opts.url} lists ${entries.length} files, more than ${MAX_LISTED_FILES}: publish a zip`);
      }
      target = join(dir, 'records');
      await mkdir(target);
      for (const [i, entry] of entries.entries()) {
        const one = await (opts.fetch ?? fetch)(entry, {
          headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
          signal,
          redirect: 'error',
        });
        if (!one.ok || !one.body) {
          await one.body?.cancel().catch(() => undefined);
          throw new Error(`downloading ${entry} (listed by ${opts.url}) failed: HTTP ${one.status}`);
        }
        const name = join(
          target,
          `${String(i).padStart(6, '0')}${entry.toLowerCase().endsWith('.zip') ? '.zip' : '.json'}`,
        );
        await save(one, name, budget, signal);
        if (name.endsWith('.json') && (await stat(name)).size > MAX_DOCUMENT_BYTES) {
          throw new Error(`${entry} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
        }
      }
    }
    const summary = await importAdvisories(db, target, {
      force: opts.force,
      quarantineSeverities: opts.quarantineSeverities,
    });
    return { ...summary, notModified: false, status: res.status, bytes: budget.bytes, ...validators };
  } finally {
    await removeDir(dir);
  }
}

/** Streams a response body to `file`, counting every byte against the one budget of the sync. */
async function save(
  res: Response,
  file: string,
  budget: { bytes: number; max: number },
  signal: AbortSignal,
): Promise<void> {
  const cap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      budget.bytes += chunk.length;
      if (budget.bytes > budget.max) cb(new Error(`advisory download exceeds ADVISORIES_MAX_BYTES=${budget.max}`));
      else cb(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(res.body as WebReadableStream), cap, createWriteStream(file), { signal });
}

/**
 * The `.json` and `.zip` files a directory listing names, as absolute URLs: from a JSON array of names
 * or from the `href`s of an HTML index. Only entries inside the listing's folder, on its origin, are
 * kept (no `..`, no other host), once each, in the listing's order.
 */
export function listingEntries(text: string, listingUrl: string): string[] {
  const base = new URL(listingUrl);
  const folder = new URL('.', base);
  let names: string[];
  try {
    const parsed = JSON.parse(text) as unknown;
    names = Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    names = [...text.matchAll(/href\s*=\s*["']([^"'#]+)["']/gi)].map((m) => m[1]!.replace(/&amp;/g, '&'));
  }
  const out: string[] = [];
  for (const name of names) {
    let u: URL;
    try {
      u = new URL(name, base);
    } catch {
      continue;
    }
    const path = u.pathname.toLowerCase();
    if (u.origin !== folder.origin || !u.pathname.startsWith(folder.pathname)) continue;
    if (!path.endsWith('.json') && !path.endsWith('.zip')) continue;
    u.hash = '';
    if (!out.includes(u.href)) out.push(u.href);
  }
  return out;
}
