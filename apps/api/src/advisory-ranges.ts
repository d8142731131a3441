/*
 * OSV affected ranges as a person reads them. A range is a list of events in version order:
 * `introduced` opens an interval, `fixed` (exclusive), `last_affected` (inclusive) and `limit` close it
 * (https://ossf.github.io/osv-schema/#affectedrangesevents-fields). The importer stored them as they came.
 */

type Event = Partial<Record<'introduced' | 'fixed' | 'last_affected' | 'limit', unknown>>;

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** The intervals of one OSV range, e.g. `>= 1.0.0, < 1.2.3`; `all versions` for `introduced: 0` with no end. */
export function describeRange(range: unknown): string[] {
  const events: Event[] =
    typeof range === 'object' && range !== null && Array.isArray((range as { events?: unknown }).events)
      ? ((range as { events: unknown[] }).events.filter((e) => typeof e === 'object' && e !== null) as Event[])
      : [];
  const out: string[] = [];
  let open: string | null = null;
  const lower = (v: string) => (v === '0' ? [] : [`>= ${v}`]);
  for (const e of events) {
    const introduced = str(e.introduced);
    const fixed = str(e.fixed) ?? str(e.limit);
    const last = str(e.last_affected);
    if (introduced !== null) {
      if (open !== null) out.push(lower(open).join('') || 'all versions');
      open = introduced;
    } else if (fixed !== null || last !== null) {
      const upper = fixed !== null ? `< ${fixed}` : `<= ${last}`;
      out.push([...lower(open ?? '0'), upper].join(', '));
      open = null;
    }
  }
  if (open !== null) out.push(lower(open).join('') || 'all versions');
  return out;
}

/**
 * Every affected interval of a package's affected entries. An entry without ranges lists its versions
 * instead (`= 1.2.3`, at most 20, then a count); OSV exports that have both list every version in the
 * ranges, so the list is left out there.
 */
export function describeAffected(affected: Array<{ ranges: unknown; versions: string[] }>): string[] {
  const out: string[] = [];
  for (const a of affected) {
    const ranges = Array.isArray(a.ranges) ? a.ranges.flatMap(describeRange) : [];
    if (ranges.length > 0) {
      out.push(...ranges);
      continue;
    }
    out.push(...a.versions.slice(0, 20).map((v) => `= ${v}`));
    if (a.versions.length > 20) out.push(`and ${a.versions.length - 20} more listed versions`);
  }
  return [...new Set(out)];
}
