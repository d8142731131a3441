import { SEVERITIES, type Finding, type Severity } from './types.js';

/**
 * Points taken off a perfect 100 for each finding (after deduplication), by severity. The security
 * score is `max(0, 100 − Σ weight(finding))`, and 0 for known malware. So one critical leaves 60, one
 * high 80, one medium 92, one low 97; info findings cost nothing. A clean package scores 100.
 */
export const SEVERITY_WEIGHTS: Readonly<Record<Severity, number>> = Object.freeze({
  critical: 40,
  high: 20,
  medium: 8,
  low: 3,
  info: 0,
});

export type SeverityCounts = Record<Severity, number>;

export function countBySeverity(findings: Finding[]): SeverityCounts {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as SeverityCounts;
  for (const f of findings) counts[f.severity]++;
  return counts;
}

/** The security score (0–100, higher is safer); see SEVERITY_WEIGHTS for the formula. */
export function securityScore(findings: Finding[]): number {
  if (findings.some((f) => f.malware)) return 0;
  const penalty = findings.reduce((sum, f) => sum + SEVERITY_WEIGHTS[f.severity], 0);
  return Math.max(0, 100 - penalty);
}
