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

/** Caps an excerpt to ~200 characters on one line. */
export function excerpt(s: string, max = 200): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
