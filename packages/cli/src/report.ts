import type { RequestResult } from './outcome.js';

/** Plain-text tables and summaries for people reading a terminal or a CI log. */

export function table(rows: string[][], headers: string[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The summary a CI log ends with: what is rejected and why, what waits and why, what is allowed. */
export function summary(result: RequestResult, opts: { all: boolean }): string {
  const r = result.request;
  const out: string[] = [];
  out.push(
    `Request ${r.id}: ${r.application_name}@${r.application_version}, ${r.package_count} packages` +
      (r.lockfile_format ? ` (${r.lockfile_format} lockfile)` : ''),
  );
  const c = result.counts;
  out.push(
    `  ${c.allowed} allowed · ${c.rejected} rejected · ${c.pending} waiting for a person · ${c.unsettled} still in progress`,
  );
  const section = (title: string, outcome: string) => {
    const rows = result.packages
      .filter((p) => p.outcome === outcome)
      .map((p) => [`${p.name}@${p.version}`, p.status, clip(p.reason, 160)]);
    if (rows.length === 0) return;
    out.push('', `${title} (${rows.length}):`, table(rows, ['PACKAGE', 'STATUS', 'WHY']));
  };
  section('Rejected', 'rejected');
  section('Waiting for a person', 'pending');
  section('Still in progress', 'unsettled');
  if (opts.all) {
    const rows = result.packages
      .filter((p) => p.outcome === 'allowed')
      .map((p) => [`${p.name}@${p.version}`, p.status]);
    if (rows.length > 0) out.push('', `Allowed (${rows.length}):`, table(rows, ['PACKAGE', 'STATUS']));
  } else if (c.allowed > 0) {
    out.push('', `Allowed: ${c.allowed} packages (--all lists them).`);
  }
  const verdict = {
    allowed: 'Result: allowed.',
    rejected: 'Result: rejected (exit 1).',
    pending: 'Result: waiting for a person (exit 2).',
    timeout: 'Result: not settled before the timeout (exit 2).',
  }[result.outcome];
  out.push('', result.exit_code === 0 ? 'Result: allowed.' : verdict);
  return out.join('\n') + '\n';
}
