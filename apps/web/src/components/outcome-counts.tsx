import { groupCounts, GROUP_LABELS, groupLook, type StatusGroup } from '../lib/status';
import { Badge } from './badges';

const ORDER: StatusGroup[] = ['published', 'waiting', 'rejected', 'working', 'queued'];

/** How many packages are in each group ("3 Published, 2 Waiting for approval"), leaving out empty groups. */
export function OutcomeCounts({ counts }: { counts: Record<string, number> }) {
  const g = groupCounts(counts);
  const shown = ORDER.filter((k) => g[k] > 0);
  if (shown.length === 0) return <span className="muted">no packages</span>;
  return (
    <ul className="outcomes">
      {shown.map((k) => {
        const look = groupLook(k);
        return (
          <li key={k}>
            <Badge tone={look.tone} icon={look.icon}>
              {g[k].toLocaleString()} {GROUP_LABELS[k].toLowerCase()}
            </Badge>
          </li>
        );
      })}
    </ul>
  );
}
