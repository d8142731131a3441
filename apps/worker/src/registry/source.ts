import type { WorkerConfig } from '../config.js';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type ssri from 'ssri';
import { MultiHasher } from '../cache.js';
import { PermanentError, TransientError } from '../errors.js';

/** The part of a registry version document the worker reads. */
export interface VersionDocument {
  name?: string;
  version?: string;
  license?: unknown;
  licenses?: unknown;
  dist?: { tarball?: unknown; integrity?: unknown; shasum?: unknown };
  [key: string]: unknown;
}

/** A version document and the registry's facts about the version that the policy reads. */
export interface VersionFacts {
  doc: VersionDocument;
  /** `time[version]` of the packument; null when the registry gives none. */
  publishedAt: Date | null;
  /** The version document carries a `deprecated` message. */
  deprecated: boolean;
}

function factsOf(doc: VersionDocument, publishedAt: Date | null): VersionFacts {
  const d = doc.deprecated;
  return { doc, publishedAt, deprecated: (typeof d === 'string' && d.length > 0) || d === true };
}

export type FetchFn = typeof fetch;

export interface SourceRegistryOptions {
  /** Base URL ending in `/` (SOURCE_REGISTRY_URL). */
  url: string;
  token: string | null;
  /** Per-request timeout for metadata and (separately) the whole tarball download. */
  timeoutMs: number;
  /** The HTTP seam; Node's fetch unless a test passes its own. */
  fetch?: FetchFn;
  /** How long a version document is reused (licence then download stage of the same package). */
  cacheTtlMs?: number;
  /** Same-origin redirects followed per request (DOWNLOAD_MAX_REDIRECTS, default 10). */
  maxRedirects?: number;
}

/** Same-origin redirects followed per request unless configured: npm's fetcher follows up to 20. */
export const DEFAULT_MAX_REDIRECTS = 10;

// npm package names: optional @scope/, lower-case url-safe characters (old packages may have capitals).
const NAME_RE = /^(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/i;

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (err as { code?: string })?.code;
  const msg = cause?.message ?? (err as Error)?.message ?? String(err);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}

/**
 * The source registry client: every byte the worker takes from outside comes through here, only from
 * SOURCE_REGISTRY_URL's origin. Failures are classified for the queue: 404/410 → PermanentError,
 * 408/429/5xx, timeouts and connection errors → TransientError. An abort of the caller's signal is
 * rethrown unchanged.
 */
export class SourceRegistry {
  readonly base: URL;
  private readonly token: string | null;
  private readonly timeoutMs: number;
  private readonly fetchFn: FetchFn;
  private readonly ttlMs: number;
  private readonly maxRedirects: number;
  private readonly docs = new Map<string, { doc: VersionDocument; publishedAt: Date | null; expires: number }>();

  constructor(opts: SourceRegistryOptions) {
    this.base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs;
    this.fetchFn = opts.fetch ?? fetch;
    this.ttlMs = opts.cacheTtlMs ?? 60_000;
    this.maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  }

  /** The client for SOURCE_REGISTRY_URL with its token and the download timeout. */
  static fromConfig(
    config: Pick<
      WorkerConfig,
      'sourceRegistryUrl' | 'sourceRegistryToken' | 'downloadTimeoutSeconds' | 'downloadMaxRedirects'
    >,
  ): SourceRegistry {
    return new SourceRegistry({
      url: config.sourceRegistryUrl,
      token: config.sourceRegistryToken,
      timeoutMs: config.downloadTimeoutSeconds * 1000,
      maxRedirects: config.downloadMaxRedirects,
    });
  }

  /** The packument URL; scoped names are encoded `@scope%2fname` as the public registry expects. */
  packumentUrl(name: string): URL {
    if (!NAME_RE.test(name) || name.length > 214) {
      throw new PermanentError('policy', `"${name}" is not a valid npm package name`);
    }
    const path = name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
    return new URL(path, this.base);
  }

  /** True when `url` is on the registry's origin (scheme, host and port). */
  isOnOrigin(url: string | URL): boolean {
    try {
      return new URL(url).origin === this.base.origin;
    } catch {
      return false;
    }
  }

  private headers(accept: string): Record<string, string> {
    const h: Record<string, string> = { accept, 'user-agent': 'secure-package-manager-worker' };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  private async get(
    url: URL,
    what: string,
    accept: string,
    signal: AbortSignal,
    timeout: AbortSignal,
    redirects = 0,
  ): Promise<Response> {
    if (!this.isOnOrigin(url))
      throw new PermanentError(
        'policy',
        `refusing to fetch ${url.href}: not on the source registry's origin ${this.base.origin}`,
      );
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        headers: this.headers(accept),
        signal: AbortSignal.any([signal, timeout]),
        redirect: 'manual',
      });
    } catch (err) {
      throw this.classify(err, what, signal, timeout);
    }
    if (res.ok) return res;
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 300 && res.status < 400) {
      // Redirects could lead off the registry's origin; follow only same-origin ones.
      const loc = res.headers.get('location');
      const next = loc ? new URL(loc, url) : null;
      if (next && this.isOnOrigin(next)) {
        if (redirects >= this.maxRedirects) {
          throw new PermanentError(
            'error',
            `${what}: the source registry redirected more than ${this.maxRedirects} times (DOWNLOAD_MAX_REDIRECTS=${this.maxRedirects}); last to ${next.href}`,
          );
        }
        return this.get(next, what, accept, signal, timeout, redirects + 1);
      }
      throw new PermanentError(
        'policy',
        `${what}: the source registry redirected to ${next?.href ?? 'nowhere'}, which is not on its origin`,
      );
    }
    if (res.status === 404 || res.status === 410)
      throw new PermanentError('error', `${what}: not found in the source registry (HTTP ${res.status})`);
    if (res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500) {
      throw new TransientError(`${what}: the source registry answered HTTP ${res.status}`);
    }
    if (res.status === 401 || res.status === 403) {
      throw new TransientError(
        `${what}: the source registry refused access (HTTP ${res.status}); check SOURCE_REGISTRY_TOKEN`,
      );
    }
    throw new PermanentError('error', `${what}: the source registry answered HTTP ${res.status}`);
  }

  private classify(err: unknown, what: string, signal: AbortSignal, timeout: AbortSignal): unknown {
    if (signal.aborted) return signal.reason ?? err;
    if (err instanceof PermanentError || err instanceof TransientError) return err;
    if (timeout.aborted) return new TransientError(`${what}: timed out after ${this.timeoutMs} ms`, { cause: err });
    if (isAbort(err)) return new TransientError(`${what}: aborted`, { cause: err });
    return new TransientError(`${what}: ${describeNetworkError(err)}`, { cause: err });
  }

  /**
   * The registry's document for name@version (from the packument). A missing package or version is a
   * PermanentError (`… not found in the source registry`). Successful answers are reused for a short
   * while, so the licence and download stages of one package fetch the packument once.
   */
  async versionDocument(name: string, version: string, signal: AbortSignal): Promise<VersionDocument> {
    return (await this.versionFacts(name, version, signal)).doc;
  }

  /**
   * The version document with what the policy reads about the version from the packument: its
   * publication time (`time[version]`, null when the registry gives none or an unreadable one) and
   * whether it is deprecated. Same caching and errors as {@link versionDocument}.
   */
  async versionFacts(name: string, version: string, signal: AbortSignal): Promise<VersionFacts> {
    const key = `${name}@${version}`;
    const hit = this.docs.get(key);
    if (hit && hit.expires > Date.now()) return factsOf(hit.doc, hit.publishedAt);
    const url = this.packumentUrl(name);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const res = await this.get(url, `${name}@${version}`, 'application/json', signal, timeout).catch((err: unknown) => {
      if (err instanceof PermanentError && /not found/.test(err.message)) {
        throw new PermanentError(
          'error',
          `${name}@${version} not found in the source registry: the package does not exist there`,
        );
      }
      throw err;
    });
    let packument: { versions?: Record<string, VersionDocument>; time?: Record<string, unknown> };
    try {
      packument = (await res.json()) as typeof packument;
    } catch (err) {
      throw this.classify(err, `${name}@${version}: reading the packument`, signal, timeout);
    }
    const doc = packument?.versions?.[version];
    if (!doc || typeof doc !== 'object') {
      throw new PermanentError(
        'error',
        `${name}@${version} not found in the source registry: the package has no version ${version}`,
      );
    }
    const published = packument.time?.[version];
    const at = typeof published === 'string' ? new Date(published) : null;
    const publishedAt = at && Number.isFinite(at.getTime()) ? at : null;
    this.remember(key, doc, publishedAt);
    return factsOf(doc, publishedAt);
  }

  private remember(key: string, doc: VersionDocument, publishedAt: Date | null): void {
    this.docs.delete(key);
    this.docs.set(key, { doc, publishedAt, expires: Date.now() + this.ttlMs });
    while (this.docs.size > 500) this.docs.delete(this.docs.keys().next().value!);
  }

  /**
   * Streams a tarball to `dest`, hashing it on the way (sha512, sha1 and `algorithms`). More than
   * `maxBytes` → PermanentError(policy, oversize) and the partial file is removed; so it is on any
   * other failure. The whole download must finish within the client's timeout.
   */
  async downloadTo(
    url: URL,
    dest: string,
    opts: { maxBytes: number; signal: AbortSignal; what: string; algorithms?: string[] },
  ): Promise<{ integrity: ssri.IntegrityMap; size: number }> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const res = await this.get(url, `${opts.what}: tarball`, 'application/octet-stream', opts.signal, timeout);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    const oversize = () =>
      new PermanentError(
        'policy',
        `${opts.what}: the tarball is oversize (over DOWNLOAD_MAX_BYTES = ${opts.maxBytes} bytes)`,
      );
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw oversize();
    }
    if (!res.body) throw new TransientError(`${opts.what}: the source registry sent no tarball body`);
    const hasher = new MultiHasher(opts.algorithms);
    try {
      await pipeline(
        Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
        async function* (src: AsyncIterable<Buffer>) {
          for await (const chunk of src) {
            hasher.update(chunk);
            if (hasher.size > opts.maxBytes) throw oversize();
            yield chunk;
          }
        },
        createWriteStream(dest),
        { signal: AbortSignal.any([opts.signal, timeout]) },
      );
    } catch (err) {
      await rm(dest, { force: true });
      throw this.classify(err, `${opts.what}: tarball download`, opts.signal, timeout);
    }
    return hasher.digest();
  }
}
