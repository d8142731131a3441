import { dateTime, relativeTime } from '../lib/format';

/** A relative time ("5 minutes ago") with the exact time for hover and machines. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <>—</>;
  return (
    <time dateTime={iso} title={dateTime(iso)}>
      {relativeTime(iso)}
    </time>
  );
}
