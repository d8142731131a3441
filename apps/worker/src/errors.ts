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

// SQLSTATE classes of failures that retrying cannot fix: 22 data exception (22P05 an unsupported
// Unicode escape, 22021 a NUL in text, 22001 a value too long, …) and 23 integrity constraint violation.
const PERMANENT_SQLSTATE = /^2[23][0-9A-Z]{3}$/;
// Programming errors: the same input fails the same way every time.
const PROGRAMMING_ERRORS = [TypeError, ReferenceError, RangeError, SyntaxError] as const;

function sqlState(err: unknown): string | null {
  const e = err as { code?: unknown; severity?: unknown } | null;
  // pg's DatabaseError carries the SQLSTATE in `code` beside a `severity`; Node system errors have no severity.
  return e && typeof e.code === 'string' && typeof e.severity === 'string' ? e.code : null;
}

/** A TypeError from fetch ("fetch failed") is a network failure, not a bug. */
function isNetworkTypeError(err: Error): boolean {
  return (
    err instanceof TypeError &&
    (err.message === 'fetch failed' || (err.cause as { code?: unknown })?.code !== undefined)
  );
}

/**
 * Why a failure is deterministic although it was not thrown as a PermanentError, or null when it may
 * be transient. PostgreSQL data and integrity errors (SQLSTATE classes 22 and 23) count wherever they
 * are in the `cause` chain (a stage may have wrapped one in a TransientError); programming errors
 * (TypeError, ReferenceError, RangeError, SyntaxError) only when thrown as they are, since a stage
 * that wraps one (a truncated registry answer is a SyntaxError) has classified it on purpose.
 */
export function permanentCause(err: unknown): string | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = sqlState(e);
    if (code && PERMANENT_SQLSTATE.test(code)) return `the database refused the data (SQLSTATE ${code}): ${e.message}`;
  }
  if (err instanceof Error && PROGRAMMING_ERRORS.some((k) => err instanceof k) && !isNetworkTypeError(err)) {
    return `internal error (${err.name}): ${err.message}; report it, then retry the package after the fix`;
  }
  return null;
}
