import { useEffect, useRef } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { keys, useRequestSummary } from '../api/queries';
import { ErrorMessage } from '../components/feedback';
import { ProgressBar } from '../components/progress';
import { groupCounts, GROUP_LABELS, groupLook, type StatusGroup } from '../lib/status';
import { Badge } from '../components/badges';

const GROUPS: StatusGroup[] = ['queued', 'working', 'waiting', 'published', 'rejected'];

/**
 * The live view of a request: a summary of a few hundred bytes polled every 2 s (an empty 304 while
 * nothing changed) until every package has settled. When the counts move, the package table is refreshed
 * (one page, not the whole request).
 */
export function RequestProgress({ id }: { id: number }) {
  const client = useQueryClient();
  const summary = useRequestSummary(id);
  const data = summary.data;
  const fingerprint = data ? JSON.stringify(data.summary.by_status) + data.summary.with_errors : '';
  const last = useRef(fingerprint);
  useEffect(() => {
    if (fingerprint && last.current && fingerprint !== last.current) {
      void client.invalidateQueries({ queryKey: [...keys.request(id), 'packages'] });
      void client.invalidateQueries({ queryKey: keys.requests });
    }
    last.current = fingerprint;
  }, [fingerprint, client, id]);

  if (summary.error) return <ErrorMessage error={summary.error} title="The progress could not be loaded" />;
  if (!data) return null;
  const g = groupCounts(data.summary.by_status);
  const s = data.summary;
  return (
    <section className="panel progress-panel" aria-labelledby="progress-title">
      <div className="progress-panel__head">
        <h2 id="progress-title">Progress</h2>
        <p className={`live ${data.done ? 'live--done' : ''}`} role="status">
          {data.done
            ? s.pending_approval > 0
              ? `Checked: ${s.pending_approval.toLocaleString()} waiting for an approver`
              : 'Every package has settled'
            : `Processing: ${s.settled.toLocaleString()} of ${s.total.toLocaleString()} settled`}
        </p>
      </div>
      <ProgressBar value={data.progress_percent} label="Progress of this request" />
      <ul className="group-counts">
        {GROUPS.map((k) => {
          const look = groupLook(k);
          return (
            <li key={k} className={g[k] === 0 ? 'is-zero' : undefined}>
              <Badge tone={look.tone} icon={look.icon}>
                {GROUP_LABELS[k]}
              </Badge>
              <span className="group-counts__n">{g[k].toLocaleString()}</span>
            </li>
          );
        })}
        {s.with_errors > 0 && (
          <li>
            <Badge tone="danger" icon="!">
              With errors
            </Badge>
            <span className="group-counts__n">{s.with_errors.toLocaleString()}</span>
          </li>
        )}
      </ul>
    </section>
  );
}
