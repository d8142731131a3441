import { Link, useLocation, useParams } from 'react-router';
import { DebouncedInput } from '../components/debounced-input';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { LICENSE_TIERS, SEVERITIES, type PriorityName } from '@spm/db/vocabulary';
import { PrioritySelect, priorityLabel } from '../components/priority';
import { call } from '../api/client';
import { keys, useRequestPackages, useRequestSummary } from '../api/queries';
import { hasRole } from '../api/roles';
import { useSession } from '../auth/session';
import { SeverityBadge, StatusBadge, TierBadge } from '../components/badges';
import { Empty, ErrorMessage, Loading, Notice } from '../components/feedback';
import { Pagination } from '../components/pagination';
import { SortHeader, TableRegion, type SortOrder } from '../components/table';
import { Time } from '../components/time';
import { GROUP_LABELS, statusesOf, TIER_LABELS, type StatusGroup } from '../lib/status';
import { intParam, useSearchState } from '../lib/search-state';
import { useTitle } from '../lib/use-title';
import { RequestProgress } from './request-progress';
import { describeLockfile, describeUpload, type SubmittedState } from './submit';
import { NotFoundPage } from './not-found';

const PAGE_SIZE = 50;
type SortKey = 'name' | 'status' | 'license' | 'security_score' | 'severity';
const GROUPS: StatusGroup[] = ['waiting', 'working', 'queued', 'published', 'rejected'];

export function RequestPage() {
  const id = Number(useParams().id);
  const valid = Number.isSafeInteger(id) && id > 0;
  return valid ? <RequestView id={id} /> : <NotFoundPage />;
}

function RequestView({ id }: { id: number }) {
  const { user } = useSession();
  const location = useLocation();
  const submitted = (location.state as SubmittedState | null)?.submitted;
  const [s, set] = useSearchState({ page: '1', sort: 'name', order: 'asc', q: '', group: '', severity: '', tier: '' });
  const page = intParam(s.page, 1);
  const table = useRequestPackages(id, {
    page,
    page_size: PAGE_SIZE,
    sort: s.sort,
    order: s.order,
    q: s.q || undefined,
    status: s.group ? statusesOf(s.group as StatusGroup) : undefined,
    severity: s.severity || undefined,
    license_tier: s.tier ? [s.tier] : undefined,
  });
  const summary = useRequestSummary(id);
  const r = table.data?.request;
  useTitle(r ? `${r.application_name}@${r.application_version}` : `Request ${id}`);

  if (table.error && (table.error as { status?: number }).status === 404) return <NotFoundPage what="request" />;
  if (!r) return table.error ? <ErrorMessage error={table.error} /> : <Loading label="Loading the request" />;

  const onSort = (column: SortKey, order: SortOrder) => set({ sort: column, order });
  const filtered = Boolean(s.q || s.group || s.severity || s.tier);
  return (
    <>
      <p className="breadcrumb">
        <Link to="/requests">{hasRole(user?.role, 'approver') ? 'Requests' : 'My requests'}</Link> / request {r.id}
      </p>
      <h1>
        {r.application_name}@{r.application_version}
      </h1>
      {submitted && submitted.request_id === id && (
        <Notice kind="success">Submitted: {describeUpload(submitted)}. It is being checked now.</Notice>
      )}
      <dl className="facts">
        <div>
          <dt>Requested by</dt>
          <dd>{r.requestor ?? '—'}</dd>
        </div>
        <div>
          <dt>Submitted</dt>
          <dd>
            <Time iso={r.created_at} />
          </dd>
        </div>
        <div>
          <dt>Packages</dt>
          <dd>
            {r.package_count.toLocaleString()} ({r.new_packages.toLocaleString()} new,{' '}
            {r.existing_packages.toLocaleString()} already known)
          </dd>
        </div>
        <div>
          <dt>Lockfile</dt>
          <dd>{describeLockfile(r.lockfile_format, r.lockfile_version)}</dd>
        </div>
        <div>
          <dt>
            <label htmlFor="request-priority">Priority</label>
          </dt>
          <dd>
            <RequestPriority id={id} priority={r.priority} mine={r.requestor_id === user?.id} />
          </dd>
        </div>
        <div>
          <dt>Bill of materials</dt>
          <dd>
            <a href={`/api/packages/requests/${id}/sbom`} download>
              CycloneDX 1.6
            </a>{' '}
            ·{' '}
            <a href={`/api/packages/requests/${id}/sbom?format=spdx`} download>
              SPDX 2.3
            </a>
          </dd>
        </div>
      </dl>
      <RequestProgress id={id} />
      <RequestActions
        id={id}
        pending={summary.data?.summary.pending_approval ?? 0}
        errors={summary.data?.summary.with_errors ?? 0}
      />

      <section aria-labelledby="packages-title">
        <h2 id="packages-title">Packages</h2>
        <form className="filters" role="search" aria-label="Filter packages" onSubmit={(e) => e.preventDefault()}>
          <div className="field">
            <label htmlFor="p-q">Name</label>
            <DebouncedInput id="p-q" type="search" value={s.q} onCommit={(q) => set({ q })} />
          </div>
          <div className="field">
            <label htmlFor="p-group">Status</label>
            <select id="p-group" value={s.group} onChange={(e) => set({ group: e.target.value })}>
              <option value="">Any status</option>
              {GROUPS.map((g) => (
                <option key={g} value={g}>
                  {GROUP_LABELS[g]}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="p-severity">Findings</label>
            <select id="p-severity" value={s.severity} onChange={(e) => set({ severity: e.target.value })}>
              <option value="">Any</option>
              {SEVERITIES.filter((x) => x !== 'info').map((x) => (
                <option key={x} value={x}>
                  {x} or worse
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="p-tier">Licence tier</label>
            <select id="p-tier" value={s.tier} onChange={(e) => set({ tier: e.target.value })}>
              <option value="">Any</option>
              {[...LICENSE_TIERS, 'unknown'].map((t) => (
                <option key={t} value={t}>
                  {TIER_LABELS[t]}
                </option>
              ))}
            </select>
          </div>
        </form>
        <ErrorMessage error={table.error} title="The packages could not be loaded" />
        {table.data?.packages?.length === 0 ? (
          <Empty>{filtered ? 'No package matches these filters.' : 'This request has no packages.'}</Empty>
        ) : (
          <TableRegion label="Packages of this request">
            <table className="table" aria-busy={table.isFetching}>
              <thead>
                <tr>
                  <SortHeader
                    column="name"
                    label="Package"
                    sort={s.sort as SortKey}
                    order={s.order as SortOrder}
                    onSort={onSort}
                  />
                  <SortHeader
                    column="status"
                    label="Status"
                    sort={s.sort as SortKey}
                    order={s.order as SortOrder}
                    onSort={onSort}
                  />
                  <SortHeader
                    column="license"
                    label="Licence"
                    sort={s.sort as SortKey}
                    order={s.order as SortOrder}
                    onSort={onSort}
                  />
                  <SortHeader
                    column="security_score"
                    label="Score"
                    sort={s.sort as SortKey}
                    order={s.order as SortOrder}
                    onSort={onSort}
                  />
                  <SortHeader
                    column="severity"
                    label="Highest severity"
                    sort={s.sort as SortKey}
                    order={s.order as SortOrder}
                    onSort={onSort}
                  />
                  <th scope="col">Signals</th>
                </tr>
              </thead>
              <tbody>
                {table.data?.packages?.map((p) => (
                  <tr key={p.package_id}>
                    <td>
                      <Link to={`/packages/${p.package_id}`}>
                        {p.name}@{p.version}
                      </Link>
                      <div className="muted small">
                        {p.link === 'existing' ? 'already known' : 'new'}
                        {p.dev && ' · dev'}
                        {p.optional && ' · optional'}
                      </div>
                    </td>
                    <td>
                      <StatusBadge status={p.status} />
                      {p.rejection?.reason && <div className="small reason">{p.rejection.reason}</div>}
                      {!p.rejection && p.last_error && <div className="small reason">Retrying: {p.last_error}</div>}
                    </td>
                    <td>
                      <div>
                        {p.license_expression ?? p.declared_license ?? <span className="muted">none declared</span>}
                      </div>
                      {(p.license_tier || p.license_expression) && <TierBadge tier={p.license_tier} />}
                    </td>
                    <td className="num">{p.security_score ?? '—'}</td>
                    <td>
                      <SeverityBadge severity={p.highest_severity} />
                    </td>
                    <td>
                      {p.signals.length === 0 ? (
                        <span className="muted">none</span>
                      ) : (
                        <ul className="chips">
                          {p.signals.map((x) => (
                            <li key={x} className="chip">
                              {x}
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        )}
        {table.data?.total !== undefined && (
          <Pagination
            label="Package pages"
            page={page}
            pageSize={PAGE_SIZE}
            total={table.data.total}
            onPage={(p) => set({ page: String(p) })}
          />
        )}
      </section>
    </>
  );
}

/** What an approver or admin can do from here: review what waits, retry what failed. */
/**
 * The request's priority; approvers and admins change it on any request, its requestor may lower it.
 * Its packages still in the pipeline are re-ranked at once (the answer says how many).
 */
function RequestPriority({ id, priority, mine }: { id: number; priority: PriorityName; mine: boolean }) {
  const { user } = useSession();
  const client = useQueryClient();
  const change = useMutation({
    mutationFn: (p: PriorityName) =>
      call<{ repositioned_packages: number }>(`/api/packages/requests/${id}`, {
        method: 'PATCH',
        body: { priority: p },
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.request(id) }),
  });
  if (!hasRole(user?.role, 'approver') && !mine) return <>{priorityLabel(priority)}</>;
  return (
    <>
      <PrioritySelect
        id="request-priority"
        value={priority}
        role={user?.role}
        disabled={change.isPending}
        onChange={(p) => change.mutate(p)}
      />
      {change.data && (
        <span role="status" className="muted small">
          {' '}
          {change.data.repositioned_packages.toLocaleString()} waiting package
          {change.data.repositioned_packages === 1 ? '' : 's'} re-ranked
        </span>
      )}
      <ErrorMessage error={change.error} title="The priority was not changed" />
    </>
  );
}

function RequestActions({ id, pending, errors }: { id: number; pending: number; errors: number }) {
  const { user } = useSession();
  const client = useQueryClient();
  const retry = useMutation({
    mutationFn: () =>
      call<{ requeued: number }>('/api/packages/processing/retry', { method: 'POST', body: { request_id: id } }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.request(id) }),
  });
  const approver = hasRole(user?.role, 'approver');
  const admin = hasRole(user?.role, 'admin');
  if (!(approver && pending > 0) && !(admin && errors > 0)) return null;
  return (
    <div className="actions actions--bar">
      {approver && pending > 0 && (
        <Link className="button button--primary" to={`/approvals?request=${id}`}>
          Review the {pending.toLocaleString()} waiting package{pending === 1 ? '' : 's'}
        </Link>
      )}
      {admin && errors > 0 && (
        <button type="button" className="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
          Retry packages rejected by errors
        </button>
      )}
      {retry.data && <span role="status">{retry.data.requeued.toLocaleString()} put back in the queue.</span>}
      <ErrorMessage error={retry.error} title="Retry failed" />
    </div>
  );
}
