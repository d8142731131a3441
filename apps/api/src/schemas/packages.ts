import { Type } from '@sinclair/typebox';
import type { ScanSummary } from '@spm/db';
import { Nullable, Timestamp } from './common.js';

export const Vulnerabilities = Type.Object({
  critical: Type.Integer(),
  high: Type.Integer(),
  medium: Type.Integer(),
  low: Type.Integer(),
  info: Type.Integer(),
});

export const ScanSummarySchema = Type.Object({
  vulnerabilities: Vulnerabilities,
  malware: Type.Boolean(),
  findings_count: Type.Integer(),
  score: Type.Integer(),
  scanned_at: Timestamp,
});

export function scanSummaryJson(s: ScanSummary | null) {
  if (!s) return null;
  return {
    vulnerabilities: { critical: s.critical, high: s.high, medium: s.medium, low: s.low, info: s.info },
    malware: s.malware,
    findings_count: s.findingsCount,
    score: s.score,
    scanned_at: s.scannedAt,
  };
}

export const LicenseInfo = {
  declared_license: Nullable(Type.String()),
  license_expression: Nullable(Type.String()),
  license_tier: Nullable(Type.String()),
  license_score: Nullable(Type.Integer()),
  license_flags: Type.Array(Type.String()),
};

export const Rejection = Nullable(
  Type.Object({
    kind: Nullable(Type.String({ description: 'policy | error | approver' })),
    reason: Nullable(Type.String()),
  }),
);

const SEVERITY_RANK: Record<string, number> = { critical: 0, high: 1, medium: 2, moderate: 2, low: 3, info: 4 };

/** The most severe findings first (findings are the worker's JSON objects; severity read if present). */
export function topFindings(findings: unknown, n: number): unknown[] {
  if (!Array.isArray(findings)) return [];
  const rank = (f: unknown) => {
    const s =
      typeof f === 'object' && f !== null && 'severity' in f
        ? String((f as { severity: unknown }).severity).toLowerCase()
        : '';
    return SEVERITY_RANK[s] ?? 5;
  };
  return [...findings].sort((a, b) => rank(a) - rank(b)).slice(0, n);
}
