/**
 * How much work reading one package archive may take. Every number comes from real packages of the
 * public registry, measured with the tarball reader itself (`scripts/measure-tarballs.mjs --from
 * docs/measured-packages.txt` measures them again): the hard limits sit well above the largest real package, so nothing npm
 * installs is refused for its size, and well below what would hurt the machine; the "unusual" sizes
 * sit just above almost every real package and only raise a finding for the approver.
 */
export interface TarballLimits {
  /** Most entries (files, directories, links, …) an archive may hold. Largest measured: 89,814. */
  maxEntries: number;
  /** Most bytes its files may add up to once unpacked. Largest measured: 486,111,681. */
  maxUnpackedBytes: number;
  /** Largest single file. Largest measured: 110,267,392. */
  maxFileBytes: number;
  /**
   * Largest ratio of the decompressed tar stream (headers and padding included, as npm's own reader
   * counts it) to the compressed archive. Largest measured: 34.6. npm itself gives up above 1000.
   */
  maxCompressionRatio: number;
}

/** The setting (environment variable) of each limit, named in every error and finding about it. */
export const LIMIT_SETTINGS: Readonly<Record<keyof TarballLimits, string>> = {
  maxEntries: 'SCAN_MAX_ENTRIES',
  maxUnpackedBytes: 'SCAN_MAX_UNPACKED_BYTES',
  maxFileBytes: 'SCAN_MAX_FILE_BYTES',
  maxCompressionRatio: 'SCAN_MAX_COMPRESSION_RATIO',
};

const MiB = 1024 * 1024;

/** Hard limits: an archive beyond one is refused without being read further. */
export const DEFAULT_TARBALL_LIMITS: Readonly<TarballLimits> = Object.freeze({
  maxEntries: 250_000,
  maxUnpackedBytes: 1024 * MiB,
  maxFileBytes: 512 * MiB,
  maxCompressionRatio: 200,
});

/** Sizes above which a package is unusual enough for the approver to be told (a finding, never a rejection). */
export const UNUSUAL_TARBALL_SIZES: Readonly<TarballLimits> = Object.freeze({
  maxEntries: 20_000,
  maxUnpackedBytes: 256 * MiB,
  maxFileBytes: 64 * MiB,
  maxCompressionRatio: 50,
});

/** Bytes of file contents a view keeps in memory before it writes the rest to a temporary file. */
export const DEFAULT_MEMORY_BYTES = 32 * MiB;

/** package.json files larger than this are not read (the largest real ones are a few hundred KB). */
export const MAX_MANIFEST_BYTES = 5 * MiB;

/** Why an archive could not be read: `limit` (a hard limit was passed) or `unreadable`. */
export class TarballError extends Error {
  readonly code: 'ERR_TARBALL_LIMIT' | 'ERR_TARBALL_UNREADABLE';
  /** The limit that was passed, for ERR_TARBALL_LIMIT. */
  readonly limit?: keyof TarballLimits;
  constructor(
    code: TarballError['code'],
    message: string,
    opts: { limit?: keyof TarballLimits; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TarballError';
    this.code = code;
    this.limit = opts.limit;
  }
}

/** The error for a passed hard limit; the message names the limit, its setting and its value. */
export function limitError(limit: keyof TarballLimits, limits: TarballLimits, what: string): TarballError {
  return new TarballError(
    'ERR_TARBALL_LIMIT',
    `${what}: over the limit of ${limits[limit]} (${LIMIT_SETTINGS[limit]}=${limits[limit]})`,
    { limit },
  );
}
