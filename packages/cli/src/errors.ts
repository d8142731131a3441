/**
 * The exit codes of every `spm` command (documented in the package README and `spm --help`):
 * 0 everything allowed, 1 something rejected, 2 something still waiting (for a person, or the timeout
 * passed), 3 usage, connection or server error.
 */
export const EXIT = {
  allowed: 0,
  rejected: 1,
  waiting: 2,
  error: 3,
} as const;

/** A failure that ends the command with exit code 3 and one clear message (no stack trace). */
export class CliError extends Error {
  constructor(
    message: string,
    /** A stable code: ERR_USAGE, ERR_CONNECTION, ERR_HTTP_<status>, or the API's own error code. */
    readonly code: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, 'ERR_USAGE', 'Run `spm --help` for the commands and options.');
}
