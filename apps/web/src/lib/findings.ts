import { SEVERITIES } from '@spm/db/vocabulary';
import type { Finding } from '../api/types';

/** The findings of a scan as stored (a JSON array), keeping only well-formed ones, most severe first. */
export function readFindings(raw: unknown): Finding[] {
  if (!Array.isArray(raw)) return [];
  const out: Finding[] = [];
  for (const f of raw) {
    if (typeof f !== 'object' || f === null) continue;
    const x = f as Record<string, unknown>;
    if (typeof x.id !== 'string' || typeof x.title !== 'string') continue;
    const { line, evidence } = lineOf(x.line, x.evidence);
    out.push({
      id: x.id,
      source: typeof x.source === 'string' ? x.source : 'unknown',
      severity: typeof x.severity === 'string' ? x.severity : 'info',
      title: x.title,
      file: typeof x.file === 'string' ? x.file : undefined,
      line,
      evidence,
      explanation: typeof x.explanation === 'string' ? x.explanation : undefined,
      aliases: Array.isArray(x.aliases) ? x.aliases.filter((a): a is string => typeof a === 'string') : undefined,
      fixedVersions: Array.isArray(x.fixedVersions)
        ? x.fixedVersions.filter((a): a is string => typeof a === 'string')
        : undefined,
      url: typeof x.url === 'string' ? x.url : undefined,
      malware: x.malware === true,
    });
  }
  return out.sort((a, b) => rank(a) - rank(b));
}

/**
 * The line of a finding: its `line` field, or the `line N: ` the built-in scanner puts in front of the
 * excerpt (which is then shown without it).
 */
function lineOf(line: unknown, evidence: unknown): { line?: number; evidence?: string } {
  const text = typeof evidence === 'string' ? evidence : undefined;
  if (typeof line === 'number' && Number.isInteger(line) && line > 0) return { line, evidence: text };
  const m = text === undefined ? null : /^line (\d+): ([\s\S]*)$/.exec(text);
  return m ? { line: Number(m[1]), evidence: m[2] } : { evidence: text };
}

function rank(f: Finding): number {
  if (f.malware) return -1;
  const i = SEVERITIES.indexOf(f.severity as (typeof SEVERITIES)[number]);
  return i < 0 ? SEVERITIES.length : i;
}

/** Vulnerabilities (advisories from OSV or Trivy) and supply-chain signals, apart. */
export function splitFindings(findings: Finding[]) {
  return {
    vulnerabilities: findings.filter((f) => f.source !== 'signal'),
    signals: findings.filter((f) => f.source === 'signal'),
  };
}

/** Only http(s) links are made clickable: a finding's URL comes from advisory data, not from us. */
export function safeUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.toString() : null;
  } catch {
    return null;
  }
}
