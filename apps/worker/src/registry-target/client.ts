import { PermanentError, TransientError } from '../errors.js';
import { encodePackageName } from './protocol.js';

export type FetchFn = typeof fetch;

export interface Packument {
  name?: string;
  'dist-tags'?: Record<string, string>;
  versions?: Record<
    string,
    { dist?: { integrity?: string; shasum?: string; tarball?: string } } & Record<string, unknown>
  >;
}

export interface PutResult {
  ok: boolean;
  status: number;
  /** The registry's message, for logs and errors (truncated). */
  message: string;
}

export interface TargetRegistryClientOptions {
  /** Base URL ending in `/`. */
  url: string;
  token: string | null;
  timeoutMs: number;
  signal: AbortSignal;
  fetch?: FetchFn;
}

/**
 * Talks the npm registry protocol to the target registry: packuments, publish, dist-tags, tarballs.
 * Failures are classified: authentication, authorisation and validation answers (400, 401, 403, 404 on
 * writes, 413, 422 and other 4xx) are PermanentError; network errors, timeouts, 408, 429 and 5xx are
 * TransientError. An abort of the caller's signal is rethrown as it is.
 */
export class TargetRegistryClient {
  readonly url: string;
  private readonly origin: string;
  private readonly token: string | null;
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal;
  private readonly fetchFn: FetchFn;

  constructor(opts: TargetRegistryClientOptions) {
    this.url = opts.url.endsWith('/') ? opts.url : `${opts.url}/`;
    this.origin = new URL(this.url).origin;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs;
    this.signal = opts.signal;
    this.fetchFn = opts.fetch ?? fetch;
  }

  /** The packument, or null when the registry does not know the name (404). */
  async getPackument(name: string): Promise<Packument | null> {
    const res = await this.request('GET', `${this.url}${encodePackageName(name)}`, {
      headers: { accept: 'application/json', 'cache-control': 'no-cache' },
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw await this.failure(res, `reading the packument of ${name}`);
    try {
      return (await res.json()) as Packument;
    } catch (err) {
      throw new TransientError(`the target registry sent an unreadable packument for ${name}`, { cause: err });
    }
  }

  /**
   * Sends a publish request. A 2xx is `ok`; 400, 403 and 409 are returned (not thrown) so the caller
   * can tell "already exists" from a real refusal by reading the packument; anything else throws.
   */
  async publish(name: string, body: Record<string, unknown>): Promise<PutResult> {
    const res = await this.request('PUT', `${this.url}${encodePackageName(name)}`, {
      headers: { 'content-type': 'application/json', accept: 'application/json', 'npm-command': 'publish' },
      body: JSON.stringify(body),
    });
    const message = await readMessage(res);
    if (res.ok) return { ok: true, status: res.status, message };
    if (res.status === 400 || res.status === 403 || res.status === 409)
      return { ok: false, status: res.status, message };
    throw classify(res.status, message, `publishing ${name}`);
  }

  /**
   * Writes a whole packument back, as `npm deprecate` does (GET, change `versions[v].deprecated`, PUT
   * `/<name>` with no attachments). Throws on anything but a 2xx.
   */
  async putPackument(name: string, packument: Packument, command = 'deprecate'): Promise<void> {
    const res = await this.request('PUT', `${this.url}${encodePackageName(name)}`, {
      headers: { 'content-type': 'application/json', accept: 'application/json', 'npm-command': command },
      body: JSON.stringify(packument),
    });
    if (!res.ok) throw await this.failure(res, `updating the packument of ${name}`);
    await res.body?.cancel();
  }

  /** Points a dist-tag at a version (`PUT /-/package/<name>/dist-tags/<tag>`). */
  async setDistTag(name: string, tag: string, version: string): Promise<void> {
    const res = await this.request(
      'PUT',
      `${this.url}-/package/${encodePackageName(name)}/dist-tags/${encodeURIComponent(tag)}`,
      {
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(version),
      },
    );
    if (!res.ok) throw await this.failure(res, `setting dist-tag ${tag} of ${name}`);
    await res.body?.cancel();
  }

  /**
   * Downloads a tarball. `tarballUrl` (from the registry's own version document) is used only when it
   * is on the target's origin, so the token never leaves it; otherwise the conventional path is used.
   */
  async getTarball(name: string, fileName: string, tarballUrl: string | undefined): Promise<Buffer> {
    let url = `${this.url}${encodePackageName(name)}/-/${encodeURIComponent(fileName)}`;
    if (tarballUrl) {
      try {
        if (new URL(tarballUrl).origin === this.origin) url = tarballUrl;
      } catch {
        // not a URL: keep the conventional path
      }
    }
    const res = await this.request('GET', url, { headers: { accept: 'application/octet-stream' } });
    if (!res.ok) throw await this.failure(res, `downloading ${fileName} back from the target registry`);
    try {
      return Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (this.signal.aborted) throw err;
      throw new TransientError(`reading ${fileName} back from the target registry failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  private async request(
    method: string,
    url: string,
    init: { headers: Record<string, string>; body?: string },
  ): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers, 'user-agent': 'secure-package-manager' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    try {
      return await this.fetchFn(url, {
        method,
        headers,
        body: init.body,
        redirect: 'manual',
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
    } catch (err) {
      if (this.signal.aborted) throw err;
      const e = err as Error;
      const what = e.name === 'TimeoutError' ? `timed out after ${this.timeoutMs} ms` : describeNetworkError(e);
      throw new TransientError(`${method} ${redact(url)} failed: ${what}`, { cause: err });
    }
  }

  private async failure(res: Response, doing: string): Promise<Error> {
    return classify(res.status, await readMessage(res), doing);
  }
}

function describeNetworkError(err: Error): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${cause.code} ${cause.message ?? ''}`.trim() : err.message;
}

/** URLs are logged without credentials or query. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

async function readMessage(res: Response): Promise<string> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    return res.statusText;
  }
  try {
    const body = JSON.parse(text) as {
      error?: unknown;
      reason?: unknown;
      message?: unknown;
      errors?: Array<{ message?: unknown }>;
    };
    const msg = body.error ?? body.reason ?? body.message ?? body.errors?.[0]?.message;
    if (typeof msg === 'string' && msg) text = msg;
  } catch {
    // not JSON: keep the text
  }
  return text.trim().slice(0, 300) || res.statusText;
}

/** Maps a registry's error answer to a transient or permanent failure with an actionable message. */
export function classify(status: number, message: string, doing: string): Error {
  const detail = `${doing}: the target registry answered ${status}${message ? ` (${message})` : ''}`;
  if (status === 401) return new PermanentError('error', `${detail}; check that TARGET_REGISTRY_TOKEN is valid`);
  if (status === 403) return new PermanentError('error', `${detail}; check that the token may publish this package`);
  if (status === 404 || status === 405) {
    return new PermanentError(
      'error',
      `${detail}; check that TARGET_REGISTRY_URL is a hosted npm repository that accepts publishing`,
    );
  }
  if (status === 413)
    return new PermanentError('error', `${detail}; the registry's body size limit is too small for this tarball`);
  if (status === 408 || status === 429 || status >= 500) return new TransientError(detail);
  if (status >= 300 && status < 400)
    return new PermanentError('error', `${detail}; TARGET_REGISTRY_URL redirects, set it to the final URL`);
  return new PermanentError('error', detail);
}
