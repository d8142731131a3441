import { execa } from 'execa';

export interface RunOptions {
  /** Kill the process (SIGTERM, then SIGKILL after 2 s) when it runs longer than this. */
  timeoutMs: number;
  /** The job's cancel signal: aborting it kills the process. */
  signal?: AbortSignal;
  cwd?: string;
  /** Extra environment variables (the parent's environment is inherited). */
  env?: Record<string, string>;
  /** Cap on captured stdout/stderr, in bytes (default 64 MiB). */
  maxBuffer?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A subprocess that could not be started, timed out, was cancelled or was killed. */
export class ExecError extends Error {
  readonly command: string;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(
    message: string,
    opts: {
      command: string;
      timedOut: boolean;
      cancelled: boolean;
      exitCode?: number;
      stderr: string;
      cause?: unknown;
    },
  ) {
    super(message, { cause: opts.cause });
    this.name = 'ExecError';
    this.command = opts.command;
    this.timedOut = opts.timedOut;
    this.cancelled = opts.cancelled;
    this.exitCode = opts.exitCode;
    this.stderr = opts.stderr;
  }
}

/**
 * The one way the worker runs a subprocess: an argument array (never a shell), a timeout and the job's
 * cancel signal. Resolves with the exit code and output for any process that ran to completion (a
 * non-zero exit is the caller's to judge); rejects with ExecError when the process could not be
 * started, timed out, was cancelled or died from a signal.
 */
export async function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const res = await execa(cmd, args, {
    shell: false,
    reject: false,
    stdin: 'ignore',
    timeout: opts.timeoutMs,
    forceKillAfterDelay: 2000,
    cancelSignal: opts.signal,
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    maxBuffer: opts.maxBuffer ?? 64 * 1024 * 1024,
    stripFinalNewline: false,
    encoding: 'utf8',
  });
  const stderr = typeof res.stderr === 'string' ? res.stderr : '';
  const stdout = typeof res.stdout === 'string' ? res.stdout : '';
  const command = [cmd, ...args].join(' ');
  const tail = stderr.trim().slice(-500);
  if (res.timedOut) {
    throw new ExecError(`${cmd} timed out after ${opts.timeoutMs} ms`, {
      command,
      timedOut: true,
      cancelled: false,
      stderr,
    });
  }
  if (res.isCanceled) {
    throw new ExecError(`${cmd} was cancelled`, { command, timedOut: false, cancelled: true, stderr });
  }
  if (res.failed && res.exitCode === undefined) {
    const why = res.signal ? `was killed by ${res.signal}` : `could not be run: ${res.shortMessage ?? res.message}`;
    throw new ExecError(`${cmd} ${why}${tail ? `: ${tail}` : ''}`, {
      command,
      timedOut: false,
      cancelled: false,
      stderr,
      cause: res.cause,
    });
  }
  return { exitCode: res.exitCode ?? 0, stdout, stderr, durationMs: Date.now() - started };
}
