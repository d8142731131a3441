import { useAudit } from '../../api/queries';
import { DebouncedInput } from '../../components/debounced-input';
import { Empty, ErrorMessage, Loading } from '../../components/feedback';
import { Pagination } from '../../components/pagination';
import { TableRegion } from '../../components/table';
import { Time } from '../../components/time';
import { intParam, useSearchState } from '../../lib/search-state';
import { useTitle } from '../../lib/use-title';

const PAGE_SIZE = 50;
/** The actions the API records (apps/api/README.md); `prefix.*` matches a family. */
const KNOWN_ACTIONS = [
  'auth.*',
  'auth.login',
  'auth.login_failed',
  'request.upload',
  'package.*',
  'package.approve',
  'package.reject',
  'processing.retry',
  'license.*',
  'policy.*',
  'token.*',
  'request.*',
  'webhook.*',
  'user.*',
];

/** A datetime-local value (local time) as an ISO instant, or undefined. */
function instant(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function describe(details: unknown): string {
  if (details === null || details === undefined) return '';
  const text = JSON.stringify(details);
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

export function AuditPage() {
  useTitle('Audit log');
  const [s, set] = useSearchState({ action: '', actor: '', from: '', to: '', page: '1' });
  const page = intParam(s.page, 1);
  const audit = useAudit({
    action: s.action || undefined,
    actor: s.actor || undefined,
    from: instant(s.from),
    to: instant(s.to),
    page,
    page_size: PAGE_SIZE,
  });
  return (
    <>
      <h1>Audit log</h1>
      <p className="lead">Every action a person took, newest first.</p>
      <form className="filters" role="search" aria-label="Filter the audit log" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="au-action">Action</label>
          <DebouncedInput
            id="au-action"
            list="au-actions"
            value={s.action}
            aria-describedby="au-action-hint"
            onCommit={(v) => set({ action: v.trim() })}
          />
          <datalist id="au-actions">
            {KNOWN_ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
          <p id="au-action-hint" className="muted small">
            Exact, or a family such as <code>package.*</code>
          </p>
        </div>
        <div className="field">
          <label htmlFor="au-actor">Username</label>
          <DebouncedInput id="au-actor" value={s.actor} onCommit={(v) => set({ actor: v.trim() })} />
        </div>
        <div className="field">
          <label htmlFor="au-from">From</label>
          <input id="au-from" type="datetime-local" value={s.from} onChange={(e) => set({ from: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="au-to">To</label>
          <input id="au-to" type="datetime-local" value={s.to} onChange={(e) => set({ to: e.target.value })} />
        </div>
      </form>
      <ErrorMessage error={audit.error} title="The audit log could not be loaded" />
      {audit.isPending ? (
        <Loading label="Loading the audit log" />
      ) : audit.data?.entries.length === 0 ? (
        <Empty>No entry matches.</Empty>
      ) : (
        audit.data && (
          <>
            <TableRegion label="Audit log entries">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Who</th>
                    <th scope="col">Action</th>
                    <th scope="col">Target</th>
                    <th scope="col">Details</th>
                    <th scope="col">Address</th>
                  </tr>
                </thead>
                <tbody>
                  {audit.data.entries.map((e) => (
                    <tr key={e.id}>
                      <td>
                        <Time iso={e.created_at} />
                      </td>
                      <td>{e.actor_username ?? <span className="muted">anonymous</span>}</td>
                      <td>
                        <code>{e.action}</code>
                      </td>
                      <td>{e.target_type ? `${e.target_type} ${e.target_id ?? ''}` : '—'}</td>
                      <td className="small details-cell">{describe(e.details)}</td>
                      <td className="small">{e.ip ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableRegion>
            <Pagination
              label="Audit log pages"
              page={page}
              pageSize={PAGE_SIZE}
              total={audit.data.total}
              onPage={(p) => set({ page: String(p) })}
            />
          </>
        )
      )}
    </>
  );
}
