/**
 * The one error type with a stable code. `status` is the HTTP status where the error has one.
 * `details` is safe to show to a client; `cause` never is.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  /** Response headers that belong to the error (`retry-after` of a 429). */
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: string,
    message: string,
    opts: { status?: number; details?: unknown; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = opts.status ?? 500;
    this.details = opts.details;
    this.headers = opts.headers;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
