import { useState } from 'react';
import { Link } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ALL_STATUSES } from '@spm/db/vocabulary';
import { call } from '../../api/client';
import { keys, useProcessing } from '../../api/queries';
import type { SecondsStats } from '../../api/types';
import { Badge, StatusBadge } from '../../components/badges';
import { Empty, ErrorMessage, Loading } from '../../components/feedback';
import { TableRegion } from '../../components/table';
import { Time } from '../../components/time';
import { duration } from '../../lib/format';
import { useTitle } from '../../lib/use-title';

const STAGE_NAMES: Record<string, string> = {
  licence: 'Licence',
  download: 'Download',
  scan: 'Security scan',
  publish: 'Publish',
};

function Seconds({ s }: { s: SecondsStats | null }) {
  if (!s) return <span className="muted">—</span>;
  return (
    <>
      {duration(s.p50)} <span className="muted small">/ {duration(s.p95)}</span>
    </>
  );
}

export function OperationsPage() {
  useTitle('Operations');
  const st = useProcessing();
  const client = useQueryClient();
  const [includePolicy, setIncludePolicy] = useState(false);
  const retry = useMutation({
    mutationFn: () =>
      call<{ requeued: number }>('/api/packages/processing/retry', {
        method: 'POST',
        body: { include_policy: includePolicy },
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.processing }),
  });

  if (!st.data) return st.error ? <ErrorMessage error={st.error} /> : <Loading label="Loading the pipeline" />;
  const d = st.data;
  const max = Math.max(1, ...Object.values(d.counts));
  return (
    <>
      <h1>Operations</h1>
      <p className="lead">The pipeline as a whole, refreshed every 5 seconds.</p>
      <dl className="stats">
        <div>
          <dt>Queue depth</dt>
          <dd>{d.queue_depth.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Runnable now</dt>
          <dd>{d.runnable_now.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Being worked on</dt>
          <dd>{d.in_progress.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Oldest waiting</dt>
          <dd>{duration(d.oldest_runnable_age_seconds)}</dd>
        </div>
        <div>
          <dt>Stuck resets</dt>
          <dd>{d.stuck_resets.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Retries</dt>
          <dd>{d.retries.toLocaleString()}</dd>
        </div>
      </dl>

      <section>
        <h2>Workers</h2>
        {d.workers.length === 0 ? (
          <Empty>No worker has reported in the last hour. Start one: nothing is processed without it.</Empty>
        ) : (
          <TableRegion label="Workers">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Worker</th>
                  <th scope="col">Host and process</th>
                  <th scope="col">State</th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col">In flight</th>
                  <th scope="col">Started</th>
                </tr>
              </thead>
              <tbody>
                {d.workers.map((w) => (
                  <tr key={w.id}>
                    <td>
                      <code>{w.id}</code>
                    </td>
                    <td>
                      {w.hostname} (pid {w.pid})
                    </td>
                    <td>
                      {w.alive ? (
                        <Badge tone="success" icon="✓">
                          alive
                        </Badge>
                      ) : (
                        <Badge tone="danger" icon="✕">
                          not reporting
                        </Badge>
                      )}
                    </td>
                    <td>{duration(w.heartbeat_age_seconds)} ago</td>
                    <td className="num">{w.in_flight}</td>
                    <td>
                      <Time iso={w.started_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        )}
      </section>

      <div className="report-grid">
        <section className="panel" aria-labelledby="counts-title">
          <h2 id="counts-title">Packages by status</h2>
          <p className="muted small">{d.total.toLocaleString()} packages in all</p>
          <ul className="bars">
            {ALL_STATUSES.map((status) => {
              const n = d.counts[status] ?? 0;
              return (
                <li key={status}>
                  <StatusBadge status={status} />
                  <span className="bars__bar" aria-hidden="true">
                    <span style={{ width: `${(n / max) * 100}%` }} />
                  </span>
                  <span className="bars__n">{n.toLocaleString()}</span>
                </li>
              );
            })}
          </ul>
        </section>
        <section className="panel">
          <h2>Stage timings</h2>
          <p className="muted small">
            Median / 95th percentile over the newest {d.stage_timings.events.toLocaleString()} events
            {d.stage_timings.since && (
              <>
                {' '}
                (since <Time iso={d.stage_timings.since} />)
              </>
            )}
            .
          </p>
          <TableRegion label="Stage timings">
            <table className="table table--compact">
              <thead>
                <tr>
                  <th scope="col">Stage</th>
                  <th scope="col">Waiting</th>
                  <th scope="col">Working</th>
                  <th scope="col">Runs</th>
                </tr>
              </thead>
              <tbody>
                {d.stage_timings.stages.map((t) => (
                  <tr key={t.stage}>
                    <th scope="row">{STAGE_NAMES[t.stage] ?? t.stage}</th>
                    <td>
                      <Seconds s={t.wait} />
                    </td>
                    <td>
                      <Seconds s={t.work} />
                    </td>
                    <td className="num">{(t.work?.count ?? 0).toLocaleString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        </section>
      </div>

      <section className="panel" aria-labelledby="retry-title">
        <h2 id="retry-title">Retry</h2>
        <p>
          Put every package rejected because of an error (a registry or scanner failure) back in the queue. A person's
          rejection is never undone.
        </p>
        <div className="actions">
          <label className="checkbox">
            <input type="checkbox" checked={includePolicy} onChange={(e) => setIncludePolicy(e.target.checked)} />
            Also retry packages rejected by policy (after a policy change)
          </label>
          <button type="button" className="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
            Retry rejected packages
          </button>
        </div>
        {retry.data && <p role="status">{retry.data.requeued.toLocaleString()} packages were put back in the queue.</p>}
        <ErrorMessage error={retry.error} title="Retry failed" />
      </section>

      <section aria-labelledby="activity-title">
        <h2 id="activity-title">Recent activity</h2>
        {d.recent_activity.length === 0 ? (
          <Empty>Nothing has happened yet.</Empty>
        ) : (
          <ol className="activity">
            {d.recent_activity.map((a, i) => (
              <li key={`${a.package_id}-${a.at}-${i}`}>
                <Time iso={a.at} /> ·{' '}
                <Link to={`/packages/${a.package_id}`}>
                  {a.name}@{a.version}
                </Link>{' '}
                {a.from ? `${a.from} → ${a.to}` : a.to} <span className="muted">by {a.actor}</span>
                {a.reason && <span className="muted small"> · {a.reason}</span>}
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
