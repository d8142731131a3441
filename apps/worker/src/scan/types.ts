/** Severities in order, most severe first. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Higher is more severe: critical 4 … info 0. */
export function severityRank(s: Severity): number {
  return SEVERITIES.length - 1 - SEVERITIES.indexOf(s);
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

/**
 * One thing a reviewer should know about a package. Stored as JSON in `security_scans.findings`
 * (an array of these) and shown by the API as is.
 */
export interface Finding {
  /** Advisory id (GHSA-…, CVE-…, MAL-…) for vulnerabilities; a stable signal code (`install-script`, …) otherwise. */
  id: string;
  source: 'osv' | 'signal' | 'trivy';
  severity: Severity;
  title: string;
  /** Path relative to the package root, when the finding is about one file. */
  file?: string;
  /** 1-based line in `file` the evidence comes from. */
  line?: number;
  /** A short excerpt (at most ~200 characters) of what was seen. */
  evidence?: string;
  /** Why it matters, in words a reviewer understands. */
  explanation: string;
  aliases?: string[];
  fixedVersions?: string[];
  url?: string;
  /** True for known-malicious packages (OSV `MAL-` records): the package is rejected. */
  malware?: boolean;
  /** Other scanners that reported the same vulnerability (after deduplication). */
  alsoReportedBy?: Array<'osv' | 'trivy'>;
}

/** What one scanner reports about its run, stored in `security_scans.scanners`. */
export interface ScannerRun {
  name: string;
  version: string;
  durationMs: number;
  findings: number;
  /** Scanner-specific facts worth keeping (advisory count, registry comparison state, …). */
  details?: Record<string, unknown>;
}

/** A finding of the built-in signals (source `signal`), its evidence cut to an excerpt. */
export function signalFinding(f: Omit<Finding, 'source'>): Finding {
  const out: Finding = { source: 'signal', ...f };
  if (out.evidence !== undefined) out.evidence = excerpt(out.evidence);
  return out;
}

/** Caps an excerpt to ~200 characters on one line. */
export function excerpt(s: string, max = 200): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/**
 * One file of a package exactly as `npm install` leaves it in `node_modules/<name>` (the last copy of a
 * path in the archive, whatever top-level folder it sat under). Scanners see nothing else: the files
 * come from the archive's one view (`@spm/tarball`'s TarballView), never from a folder on disk.
 */
export interface PackageFile {
  /** Relative to the package folder, `/`-separated, normalised (never absolute, never `..`). */
  readonly path: string;
  readonly size: number;
  read(): Promise<Buffer>;
  /** The first `n` bytes (fewer when the file is shorter). */
  head(n: number): Promise<Buffer>;
}

/** Every file npm installs from one archive, sorted by path, and a lookup by path. */
export interface PackageFiles {
  readonly files: readonly PackageFile[];
  file(path: string): PackageFile | undefined;
}

/** A file's contents as UTF-8 text, or null when it is larger than `maxBytes`. */
export async function readText(f: PackageFile, maxBytes: number): Promise<string | null> {
  if (f.size > maxBytes) return null;
  return (await f.read()).toString('utf8');
}
