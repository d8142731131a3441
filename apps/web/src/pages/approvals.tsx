import { useRef, useState } from 'react';
import { Link } from 'react-router';
import { LICENSE_TIERS, SEVERITIES } from '@spm/db/vocabulary';
import { describeBatch, useDecide, type DecisionKind } from '../api/decisions';
import { usePending } from '../api/queries';
import type { PendingPackage } from '../api/types';
import { SeverityBadge, TierBadge } from '../components/badges';
import { DebouncedInput } from '../components/debounced-input';
import { DecisionForm } from '../components/decision-form';
import { Dialog } from '../components/dialog';
import { Empty, ErrorMessage, Loading } from '../components/feedback';
import { Pagination } from '../components/pagination';
import { TableRegion } from '../components/table';
import { Time } from '../components/time';
import { TIER_LABELS } from '../lib/status';
import { intParam, useSearchState } from '../lib/search-state';
import { useShortcuts } from '../lib/use-shortcuts';
import { useTitle } from '../lib/use-title';

const PAGE_SIZE = 50;
const SORTS = [
  ['risk', 'Highest risk first'],
  ['oldest', 'Waiting longest first'],
  ['name', 'Name'],
] as const;

/** The worst thing about a package in one word, for the table. */
function highest(p: PendingPackage): string | null {
  if (!p.scan) return null;
  if (p.scan.malware) return 'malware';
  return SEVERITIES.find((s) => s !== 'info' && p.scan!.vulnerabilities[s] > 0) ?? 'none';
}

export function ApprovalsPage() {
  useTitle('Approvals');
  const [s, set] = useSearchState({ sort: 'risk', q: '', severity: '', tier: '', request: '', page: '1' });
  const page = intParam(s.page, 1);
  const list = usePending({
    sort: s.sort,
    q: s.q || undefined,
    severity: s.severity || undefined,
    license_tier: s.tier ? [s.tier] : undefined,
    request_id: s.request || undefined,
    page,
    page_size: PAGE_SIZE,
  });
  const rows = list.data?.packages ?? [];
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [dialog, setDialog] = useState<DecisionKind | null>(null);
  const [message, setMessage] = useState('');
  // Decided packages leave the list at once; the refetch confirms it.
  const [decided, setDecided] = useState<Map<number, string>>(new Map());
  const decide = useDecide();
  const table = useRef<HTMLTableElement>(null);
  const search = useRef<HTMLInputElement>(null);

  const visible = rows.filter((p) => !decided.has(p.package_id));
  const chosen = visible.filter((p) => selected.has(p.package_id));
  const toggle = (id: number) =>
    setSelected((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const allChosen = visible.length > 0 && chosen.length === visible.length;

  const boxes = () => [...(table.current?.querySelectorAll<HTMLInputElement>('tbody input[type=checkbox]') ?? [])];
  const move = (delta: number) => {
    const list = boxes();
    if (list.length === 0) return;
    const at = list.indexOf(document.activeElement as HTMLInputElement);
    list[Math.max(0, Math.min(list.length - 1, at < 0 ? 0 : at + delta))]!.focus();
  };
  const [help, setHelp] = useState(false);
  useShortcuts({
    j: () => move(1),
    k: () => move(-1),
    x: () => {
      const box = document.activeElement;
      if (box instanceof HTMLInputElement && box.dataset.packageId) toggle(Number(box.dataset.packageId));
    },
    a: () => chosen.length > 0 && setDialog('approve'),
    r: () => chosen.length > 0 && setDialog('reject'),
    '/': () => search.current?.focus(),
    '?': () => setHelp((h) => !h),
  });

  const onDecide = (decision: DecisionKind, reason: string) => {
    const ids = chosen.map((p) => p.package_id);
    decide.mutate(
      { ids, decision, reason },
      {
        onSuccess: (res) => {
          setDecided((prev) => {
            const next = new Map(prev);
            for (const r of res.results) if (r.outcome !== 'skipped') next.set(r.package_id, r.status);
            return next;
          });
          setSelected(new Set());
          setDialog(null);
          setMessage(describeBatch(res, decision));
          // Keyboard users land back on the list.
          requestAnimationFrame(() => boxes()[0]?.focus());
        },
      },
    );
  };

  return (
    <>
      <div className="page-head">
        <h1>Approvals</h1>
        <button type="button" className="button button--quiet" aria-expanded={help} onClick={() => setHelp(!help)}>
          Keyboard shortcuts
        </button>
      </div>
      {help && (
        <section className="panel" aria-label="Keyboard shortcuts">
          <ul className="shortcuts">
            <li>
              <kbd>j</kbd> / <kbd>k</kbd> next / previous package
            </li>
            <li>
              <kbd>x</kbd> or <kbd>Space</kbd> select the package
            </li>
            <li>
              <kbd>a</kbd> approve the selected packages
            </li>
            <li>
              <kbd>r</kbd> reject the selected packages
            </li>
            <li>
              <kbd>Ctrl</kbd>+<kbd>Enter</kbd> confirm in the reason box
            </li>
            <li>
              <kbd>/</kbd> search · <kbd>?</kbd> show or hide this list
            </li>
          </ul>
        </section>
      )}
      <form className="filters" role="search" aria-label="Filter the queue" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="a-q">Package name</label>
          <DebouncedInput ref={search} id="a-q" type="search" value={s.q} onCommit={(q) => set({ q })} />
        </div>
        <div className="field">
          <label htmlFor="a-sort">Order</label>
          <select id="a-sort" value={s.sort} onChange={(e) => set({ sort: e.target.value })}>
            {SORTS.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="a-severity">Findings</label>
          <select id="a-severity" value={s.severity} onChange={(e) => set({ severity: e.target.value })}>
            <option value="">Any</option>
            {SEVERITIES.filter((x) => x !== 'info').map((x) => (
              <option key={x} value={x}>
                {x} or worse
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="a-tier">Licence tier</label>
          <select id="a-tier" value={s.tier} onChange={(e) => set({ tier: e.target.value })}>
            <option value="">Any</option>
            {[...LICENSE_TIERS, 'unknown'].map((t) => (
              <option key={t} value={t}>
                {TIER_LABELS[t]}
              </option>
            ))}
          </select>
        </div>
        <div className="field field--narrow">
          <label htmlFor="a-request">Request</label>
          <DebouncedInput
            id="a-request"
            inputMode="numeric"
            pattern="[0-9]*"
            value={s.request}
            onCommit={(v) => set({ request: v.replace(/\D/g, '') })}
          />
        </div>
      </form>

      <div className="toolbar" role="toolbar" aria-label="Decide on the selected packages">
        <span className="toolbar__count">{chosen.length.toLocaleString()} selected</span>
        <button
          type="button"
          className="button button--primary"
          disabled={chosen.length === 0}
          onClick={() => setDialog('approve')}
        >
          Approve selected
        </button>
        <button
          type="button"
          className="button button--danger"
          disabled={chosen.length === 0}
          onClick={() => setDialog('reject')}
        >
          Reject selected
        </button>
      </div>
      <p role="status" className="status-line">
        {message}
      </p>
      <ErrorMessage error={list.error} title="The queue could not be loaded" />
      <ErrorMessage error={decide.error} title="The decision was not recorded" />

      {list.isPending ? (
        <Loading label="Loading the queue" />
      ) : visible.length === 0 ? (
        <Empty>
          Nothing waits for a decision{s.q || s.severity || s.tier || s.request ? ' among these filters' : ''}.
        </Empty>
      ) : (
        <TableRegion label="Packages waiting for approval">
          <table className="table table--selectable" ref={table}>
            <thead>
              <tr>
                <th scope="col" className="select-col">
                  <input
                    type="checkbox"
                    aria-label="Select every package on this page"
                    checked={allChosen}
                    onChange={() => setSelected(allChosen ? new Set() : new Set(visible.map((p) => p.package_id)))}
                  />
                </th>
                <th scope="col">Package</th>
                <th scope="col">Highest severity</th>
                <th scope="col">Score</th>
                <th scope="col">Licence</th>
                <th scope="col">Top finding</th>
                <th scope="col">Requested by</th>
                <th scope="col">Waiting</th>
              </tr>
            </thead>
            <tbody>
              {visible.map((p) => {
                const top = p.scan?.top_findings[0];
                return (
                  <tr key={p.package_id} className={selected.has(p.package_id) ? 'is-selected' : undefined}>
                    <td className="select-col">
                      <input
                        type="checkbox"
                        data-package-id={p.package_id}
                        aria-label={`Select ${p.name}@${p.version}`}
                        checked={selected.has(p.package_id)}
                        onChange={() => toggle(p.package_id)}
                      />
                    </td>
                    <td>
                      <Link to={`/packages/${p.package_id}`}>
                        {p.name}@{p.version}
                      </Link>
                    </td>
                    <td>
                      <SeverityBadge severity={highest(p)} />
                    </td>
                    <td className="num">{p.security_score ?? '—'}</td>
                    <td>
                      <div>{p.license_expression ?? p.declared_license ?? <span className="muted">none</span>}</div>
                      <TierBadge tier={p.license_tier} />
                    </td>
                    <td>
                      {top ? (
                        <>
                          {top.title}
                          {p.scan!.findings_count > 1 && (
                            <div className="muted small">and {p.scan!.findings_count - 1} more</div>
                          )}
                        </>
                      ) : (
                        <span className="muted">no findings</span>
                      )}
                    </td>
                    <td>{p.requested_by.join(', ') || '—'}</td>
                    <td>
                      <Time iso={p.waiting_since} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableRegion>
      )}
      {list.data && (
        <Pagination
          label="Queue pages"
          page={page}
          pageSize={PAGE_SIZE}
          total={list.data.total}
          onPage={(p) => set({ page: String(p) })}
        />
      )}
      <Dialog
        open={dialog !== null}
        title={`${dialog === 'reject' ? 'Reject' : 'Approve'} ${chosen.length} package${chosen.length === 1 ? '' : 's'}`}
        onClose={() => setDialog(null)}
      >
        <ul className="plain small dialog__list">
          {chosen.slice(0, 8).map((p) => (
            <li key={p.package_id}>
              {p.name}@{p.version}
            </li>
          ))}
          {chosen.length > 8 && <li>and {chosen.length - 8} more</li>}
        </ul>
        <DecisionForm
          decisions={dialog ? [dialog] : []}
          busy={decide.isPending}
          onDecide={onDecide}
          onCancel={() => setDialog(null)}
          what={chosen.length === 1 ? 'this package' : 'these packages'}
          autoFocus
        />
      </Dialog>
    </>
  );
}
