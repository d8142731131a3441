import { CliError } from './errors.js';
import type { Connection } from './config.js';

/** The API's error body: `{ error: { code, message } }`. */
interface ApiErrorBody {
  error?: { code?: unknown; message?: unknown };
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  etag: string | null;
}

/** A small client of the SPM API: bearer token, JSON answers, every failure a CliError with a code. */
export class ApiClient {
  constructor(
    readonly connection: Connection,
    private readonly timeoutMs = 60_000,
  ) {}

  get url(): string {
    return this.connection.url;
  }

  async request<T>(
    method: string,
    path: string,
    opts: { body?: string | Buffer; contentType?: string; ifNoneMatch?: string | null; auth?: boolean } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'spm-cli' };
    if (opts.auth !== false) {
      if (!this.connection.token) {
        throw new CliError('Not logged in.', 'ERR_NO_TOKEN', 'Set SPM_TOKEN, pass --token, or run `spm login`.');
      }
      headers.authorization = `Bearer ${this.connection.token}`;
    }
    if (opts.contentType) headers['content-type'] = opts.contentType;
    if (opts.ifNoneMatch) headers['if-none-match'] = opts.ifNoneMatch;
    const target = this.url + path;
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers,
        body: opts.body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw connectionError(this.url, err);
    }
    if (res.status === 304 || res.status === 204) {
      await res.body?.cancel().catch(() => undefined);
      return { status: res.status, body: undefined as T, etag: res.headers.get('etag') };
    }
    const text = await res.text().catch((err: unknown) => {
      throw connectionError(this.url, err);
    });
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!res.ok) throw httpError(res.status, body as ApiErrorBody | undefined, text);
    if (body === undefined) {
      throw new CliError(`${method} ${path} answered ${res.status} without JSON.`, 'ERR_BAD_RESPONSE');
    }
    return { status: res.status, body: body as T, etag: res.headers.get('etag') };
  }

  async get<T>(path: string): Promise<T> {
    return (await this.request<T>('GET', path)).body;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return (await this.request<T>('POST', path, { body: JSON.stringify(body), contentType: 'application/json' })).body;
  }
}

function connectionError(url: string, err: unknown): CliError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return new CliError(`${url} did not answer in time.`, 'ERR_CONNECTION');
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  return new CliError(`Cannot reach ${url}: ${why}.`, 'ERR_CONNECTION', 'Check SPM_URL (or --url) and the network.');
}

function httpError(status: number, body: ApiErrorBody | undefined, text: string): CliError {
  const code = typeof body?.error?.code === 'string' ? body.error.code : `ERR_HTTP_${status}`;
  const message =
    typeof body?.error?.message === 'string' ? body.error.message : text.slice(0, 200) || `HTTP ${status}`;
  const hint =
    status === 401
      ? 'The token is missing, expired or revoked: run `spm login` or set a fresh SPM_TOKEN.'
      : code === 'ERR_TOKEN_SCOPE'
        ? 'API tokens cannot approve, reject or change settings (a leaked CI token must not): run `spm login --session`.'
        : status === 403
          ? 'Your account is not allowed to do this.'
          : status === 429
            ? 'Too many requests: try again later.'
            : status >= 500
              ? 'The server failed; try again, and tell its operators if it persists.'
              : undefined;
  return new CliError(message, code, hint);
}
