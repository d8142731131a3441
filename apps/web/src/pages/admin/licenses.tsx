import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { LICENSE_TIERS } from '@spm/db/vocabulary';
import { ApiError, call } from '../../api/client';
import { keys, useLicenses } from '../../api/queries';
import type { License } from '../../api/types';
import { TierBadge } from '../../components/badges';
import { Dialog } from '../../components/dialog';
import { Empty, ErrorMessage, Loading } from '../../components/feedback';
import { TableRegion } from '../../components/table';
import { TIER_LABELS } from '../../lib/status';
import { useTitle } from '../../lib/use-title';

const TIER_HELP: Record<string, string> = {
  always_allowed: 'passes',
  allowed: 'passes',
  avoid: 'passes, flagged for the approver',
  blocked: 'rejected by policy',
};

export function LicensesPage() {
  useTitle('Licences');
  const client = useQueryClient();
  const list = useLicenses();
  const [filter, setFilter] = useState('');
  const [message, setMessage] = useState('');
  const [removing, setRemoving] = useState<License | null>(null);
  const refresh = () => client.invalidateQueries({ queryKey: keys.licenses });

  const setTier = useMutation({
    mutationFn: (v: { spdx: string; tier: string }) =>
      call<License>(`/api/admin/licenses/${encodeURIComponent(v.spdx)}`, { method: 'PATCH', body: { tier: v.tier } }),
    onSuccess: (l) => {
      setMessage(`${l.spdx_id} is now ${TIER_LABELS[l.tier]?.toLowerCase() ?? l.tier}: ${TIER_HELP[l.tier] ?? ''}.`);
      client.setQueryData<{ licenses: License[] }>(keys.licenses, (old) =>
        old ? { licenses: old.licenses.map((x) => (x.spdx_id === l.spdx_id ? l : x)) } : old,
      );
    },
  });
  const remove = useMutation({
    mutationFn: (v: { spdx: string; force: boolean }) =>
      call(`/api/admin/licenses/${encodeURIComponent(v.spdx)}${v.force ? '?force=true' : ''}`, { method: 'DELETE' }),
    onSuccess: (_r, v) => {
      setMessage(`${v.spdx} was removed from the policy.`);
      setRemoving(null);
      void refresh();
    },
  });

  const shown = (list.data?.licenses ?? []).filter((l) =>
    `${l.spdx_id} ${l.name} ${l.tier}`.toLowerCase().includes(filter.toLowerCase()),
  );
  const inUse = remove.error instanceof ApiError && remove.error.status === 409;

  return (
    <>
      <h1>Licence policy</h1>
      <p className="lead">
        Each licence has a tier. Always allowed and allowed pass; avoid passes but is flagged for the approver; blocked
        is rejected. Changes apply to the next licence check, without a restart; packages already rejected can be
        retried from Operations.
      </p>
      <AddLicense
        onAdded={(l) => (setMessage(`${l.spdx_id} was added as ${TIER_LABELS[l.tier]?.toLowerCase()}.`), refresh())}
      />
      <div className="filters">
        <div className="field">
          <label htmlFor="l-filter">Find a licence</label>
          <input id="l-filter" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
      </div>
      <p role="status" className="status-line">
        {message}
      </p>
      <ErrorMessage error={list.error ?? setTier.error} title="The licence policy could not be changed" />
      {list.isPending ? (
        <Loading label="Loading the policy" />
      ) : shown.length === 0 ? (
        <Empty>No licence matches.</Empty>
      ) : (
        <TableRegion label="Licences">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">SPDX id</th>
                <th scope="col">Name</th>
                <th scope="col">Tier</th>
                <th scope="col">Notes</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((l) => (
                <tr key={l.id}>
                  <td>
                    <code>{l.spdx_id}</code>
                  </td>
                  <td>{l.name}</td>
                  <td>
                    <div className="tier-cell">
                      <TierBadge tier={l.tier} />
                      <select
                        aria-label={`Tier for ${l.spdx_id}`}
                        value={l.tier}
                        disabled={setTier.isPending}
                        onChange={(e) => setTier.mutate({ spdx: l.spdx_id, tier: e.target.value })}
                      >
                        {LICENSE_TIERS.map((t) => (
                          <option key={t} value={t}>
                            {TIER_LABELS[t]}
                          </option>
                        ))}
                      </select>
                    </div>
                  </td>
                  <td className="small">{l.notes ?? ''}</td>
                  <td>
                    <button
                      type="button"
                      className="button button--quiet"
                      onClick={() => {
                        remove.reset();
                        setRemoving(l);
                      }}
                    >
                      Remove<span className="visually-hidden"> {l.spdx_id}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      <Dialog open={removing !== null} title={`Remove ${removing?.spdx_id ?? ''}?`} onClose={() => setRemoving(null)}>
        <p>
          Packages with this licence will be treated as having a licence the policy does not know (flagged for review).
        </p>
        {inUse && <p className="field-error">{(remove.error as ApiError).message}</p>}
        {!inUse && <ErrorMessage error={remove.error} title="Not removed" />}
        <div className="actions">
          <button
            type="button"
            className="button button--danger"
            disabled={remove.isPending}
            onClick={() => removing && remove.mutate({ spdx: removing.spdx_id, force: inUse })}
          >
            {inUse ? 'Remove anyway' : 'Remove'}
          </button>
          <button type="button" className="button button--quiet" onClick={() => setRemoving(null)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </>
  );
}

function AddLicense({ onAdded }: { onAdded(l: License): void }) {
  const [spdx, setSpdx] = useState('');
  const [name, setName] = useState('');
  const [tier, setTier] = useState<string>('allowed');
  const [notes, setNotes] = useState('');
  const add = useMutation({
    mutationFn: () =>
      call<License>('/api/admin/licenses', {
        method: 'POST',
        body: { spdx_id: spdx.trim(), name: name.trim(), tier, ...(notes.trim() ? { notes: notes.trim() } : {}) },
      }),
    onSuccess: (l) => {
      setSpdx('');
      setName('');
      setNotes('');
      onAdded(l);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  return (
    <details className="panel disclosure">
      <summary>Add a licence</summary>
      <form className="form" onSubmit={submit}>
        <div className="field-row">
          <div className="field">
            <label htmlFor="n-spdx">SPDX id</label>
            <input
              id="n-spdx"
              required
              value={spdx}
              onChange={(e) => setSpdx(e.target.value)}
              placeholder="e.g. MPL-2.0"
            />
          </div>
          <div className="field">
            <label htmlFor="n-name">Name</label>
            <input id="n-name" required value={name} onChange={(e) => setName(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="n-tier">Tier</label>
            <select id="n-tier" value={tier} onChange={(e) => setTier(e.target.value)}>
              {LICENSE_TIERS.map((t) => (
                <option key={t} value={t}>
                  {TIER_LABELS[t]}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div className="field">
          <label htmlFor="n-notes">Notes</label>
          <input id="n-notes" value={notes} onChange={(e) => setNotes(e.target.value)} />
        </div>
        <ErrorMessage error={add.error} title="Not added" />
        <button
          type="submit"
          className="button button--primary"
          disabled={add.isPending || !spdx.trim() || !name.trim()}
        >
          Add
        </button>
      </form>
    </details>
  );
}
