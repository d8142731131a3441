import type { Severity } from './types.js';

const W = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

/** CVSS v3.1 "Roundup": the smallest number with one decimal that is >= the input, float-safe. */
function roundUp(x: number): number {
  const i = Math.round(x * 100_000);
  return i % 10_000 === 0 ? i / 100_000 : (Math.floor(i / 10_000) + 1) / 10;
}

/** Qualitative rating of a CVSS (v3 or v4) base score. A 0.0 score maps to info. */
export function severityFromScore(score: number): Severity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'info';
}

/**
 * Base score of a CVSS v3.0/v3.1 vector (`CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H` → 9.8), per the
 * FIRST v3.1 specification §7. Returns null for anything that is not a complete, valid v3 base vector.
 */
export function cvss3BaseScore(vector: string): { score: number; severity: Severity } | null {
  const parts = vector.trim().split('/');
  if (!/^CVSS:3\.[01]$/.test(parts[0] ?? '')) return null;
  const m = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const [k, v] = p.split(':');
    if (!k || !v || m.has(k)) return null;
    m.set(k, v);
  }
  const get = <T extends Record<string, number>>(key: string, table: T): number | null => {
    const v = m.get(key);
    return v !== undefined && v in table ? table[v as keyof T]! : null;
  };
  const scope = m.get('S');
  if (scope !== 'U' && scope !== 'C') return null;
  const changed = scope === 'C';
  const av = get('AV', W.AV);
  const ac = get('AC', W.AC);
  const ui = get('UI', W.UI);
  const pr = get('PR', changed ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 });
  const c = get('C', W.CIA);
  const i = get('I', W.CIA);
  const a = get('A', W.CIA);
  if (av === null || ac === null || ui === null || pr === null || c === null || i === null || a === null) return null;

  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * av * ac * pr * ui;
  let score: number;
  if (impact <= 0) score = 0;
  else if (changed) score = roundUp(Math.min(1.08 * (impact + exploitability), 10));
  else score = roundUp(Math.min(impact + exploitability, 10));
  return { score, severity: severityFromScore(score) };
}
