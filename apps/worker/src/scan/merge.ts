import { maxSeverity, severityRank, type Finding } from './types.js';

/**
 * Merges vulnerability findings that name the same vulnerability, by id or any alias (GHSA-x with
 * alias CVE-y from the advisories, and CVE-y with vendor id GHSA-x from Trivy, become one). The
 * kept finding is the most severe (the built-in one on a tie); it gains the others' aliases, fixed
 * versions and sources. Signals are never merged. Order is otherwise preserved.
 */
export function dedupeFindings(findings: Finding[]): Finding[] {
  const vulns = findings.filter((f) => f.source !== 'signal');
  const parent = vulns.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const byName = new Map<string, number>();
  vulns.forEach((f, i) => {
    for (const name of [f.id, ...(f.aliases ?? [])]) {
      const key = name.toUpperCase();
      const j = byName.get(key);
      if (j === undefined) byName.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, Finding[]>();
  vulns.forEach((f, i) => {
    const r = find(i);
    groups.set(r, [...(groups.get(r) ?? []), f]);
  });
  const merged = new Map<Finding, Finding>();
  for (const group of groups.values()) {
    const keep = group.reduce((best, f) => {
      const d = severityRank(f.severity) - severityRank(best.severity);
      if (d > 0) return f;
      if (d < 0) return best;
      return best.source === 'osv' || f.source !== 'osv' ? best : f;
    });
    const out: Finding = { ...keep };
    for (const f of group) {
      if (f === keep) continue;
      out.severity = maxSeverity(out.severity, f.severity);
      out.malware = out.malware || f.malware || undefined;
      const names = new Set([...(out.aliases ?? []), f.id, ...(f.aliases ?? [])]);
      names.delete(out.id);
      out.aliases = [...names];
      const fixed = new Set([...(out.fixedVersions ?? []), ...(f.fixedVersions ?? [])]);
      if (fixed.size) out.fixedVersions = [...fixed];
      out.url ??= f.url;
      if (f.source !== out.source && f.source !== 'signal') {
        out.alsoReportedBy = [...new Set([...(out.alsoReportedBy ?? []), f.source])];
      }
    }
    if (out.malware === undefined) delete out.malware;
    merged.set(group[0]!, out);
  }
  const out: Finding[] = [];
  for (const f of findings) {
    if (f.source === 'signal') out.push(f);
    else if (merged.has(f)) out.push(merged.get(f)!);
  }
  return out;
}
