/** A failure worth retrying (network, registry 5xx, timeouts, scanner crash): backoff, then Rejected(error). */
export class TransientError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'TransientError';
  }
}

/**
 * A failure that will not go away by retrying (version not found, integrity mismatch, oversize tarball,
 * hostile archive): the package is Rejected at once with `kind` and a reason a person can act on.
 */
export class PermanentError extends Error {
  readonly kind: 'policy' | 'error';
  constructor(kind: 'policy' | 'error', message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'PermanentError';
    this.kind = kind;
  }
}
