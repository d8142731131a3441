import { Link } from 'react-router';
import { DebouncedInput } from '../components/debounced-input';
import { hasRole } from '../api/roles';
import { useRequests } from '../api/queries';
import { useSession } from '../auth/session';
import { Empty, ErrorMessage, Loading } from '../components/feedback';
import { OutcomeCounts } from '../components/outcome-counts';
import { Pagination } from '../components/pagination';
import { ProgressBar } from '../components/progress';
import { TableRegion } from '../components/table';
import { Time } from '../components/time';
import { intParam, useSearchState } from '../lib/search-state';
import { useTitle } from '../lib/use-title';

const PAGE_SIZE = 25;
const STATES = [
  ['', 'Any state'],
  ['processing', 'Being processed'],
  ['pending_approval', 'Waiting for approval'],
  ['rejected', 'With rejected packages'],
  ['done', 'Done'],
] as const;

export function RequestsPage() {
  const { user } = useSession();
  const all = hasRole(user?.role, 'approver');
  const title = all ? 'Requests' : 'My requests';
  useTitle(title);
  const [s, set] = useSearchState({ q: '', state: '', requestor: '', page: '1' });
  const page = intParam(s.page, 1);
  const list = useRequests({
    page,
    page_size: PAGE_SIZE,
    q: s.q || undefined,
    state: s.state || undefined,
    requestor: all ? s.requestor || undefined : undefined,
  });

  return (
    <>
      <div className="page-head">
        <h1>{title}</h1>
        <Link to="/submit" className="button button--primary">
          Submit a lockfile
        </Link>
      </div>
      <form className="filters" role="search" aria-label="Filter requests" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="f-q">Application</label>
          <DebouncedInput id="f-q" type="search" value={s.q} onCommit={(q) => set({ q })} />
        </div>
        <div className="field">
          <label htmlFor="f-state">State</label>
          <select id="f-state" value={s.state} onChange={(e) => set({ state: e.target.value })}>
            {STATES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        {all && (
          <div className="field">
            <label htmlFor="f-requestor">Requested by (username)</label>
            <DebouncedInput id="f-requestor" value={s.requestor} onCommit={(v) => set({ requestor: v.trim() })} />
          </div>
        )}
      </form>
      <ErrorMessage error={list.error} title="The requests could not be loaded" />
      {list.isPending ? (
        <Loading label="Loading requests" />
      ) : list.data && list.data.requests.length === 0 ? (
        <Empty>
          {s.q || s.state || s.requestor ? 'No request matches these filters.' : 'No requests yet. '}
          {!s.q && !s.state && !s.requestor && <Link to="/submit">Submit a lockfile</Link>}
        </Empty>
      ) : (
        list.data && (
          <>
            <TableRegion label={title}>
              <table className="table">
                <caption className="visually-hidden">{title}, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Application</th>
                    {all && <th scope="col">Requested by</th>}
                    <th scope="col">Submitted</th>
                    <th scope="col">Packages</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Outcome</th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.requests.map((r) => (
                    <tr key={r.id}>
                      <td>
                        <Link to={`/requests/${r.id}`}>
                          {r.application_name}@{r.application_version}
                        </Link>
                        <div className="muted small">request {r.id}</div>
                      </td>
                      {all && <td>{r.requestor ?? '—'}</td>}
                      <td>
                        <Time iso={r.created_at} />
                      </td>
                      <td className="num">{r.package_count.toLocaleString()}</td>
                      <td>
                        <ProgressBar
                          value={r.progress_percent}
                          label={`Progress of ${r.application_name}@${r.application_version}`}
                        />
                      </td>
                      <td>
                        <OutcomeCounts counts={r.status_counts} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableRegion>
            <Pagination
              label="Requests pages"
              page={page}
              pageSize={PAGE_SIZE}
              total={list.data.total}
              onPage={(p) => set({ page: String(p) })}
            />
          </>
        )
      )}
    </>
  );
}
