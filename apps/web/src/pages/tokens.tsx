import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { call } from '../api/client';
import { keys, useApiTokens } from '../api/queries';
import type { ApiToken } from '../api/types';
import { Badge } from '../components/badges';
import { Dialog } from '../components/dialog';
import { Empty, ErrorMessage, Loading } from '../components/feedback';
import { TableRegion } from '../components/table';
import { Time } from '../components/time';
import { useTitle } from '../lib/use-title';

/** What each scope lets a token do (the API's words, apps/api/src/routes/api-tokens.ts). */
const SCOPES = [
  { id: 'submit', label: 'Submit lockfiles', help: 'POST /api/packages/upload, as `spm submit` does' },
  { id: 'read', label: 'Read', help: 'requests, reports and statuses, as `spm status` does' },
  { id: 'registry', label: 'Install from the registry', help: 'npm install from /registry/ (an .npmrc _authToken)' },
] as const;

const EXPIRY_DAYS = [7, 30, 90, 365] as const;

/**
 * API tokens for CI jobs, `spm` and npm: each person makes, sees and revokes their own. The secret is
 * shown once, right after it is made; the server keeps only its hash. Tokens cannot approve, reject or
 * manage tokens (the API refuses them there), so a leaked CI token cannot do what a person does.
 */
export function TokensPage() {
  useTitle('API tokens');
  const client = useQueryClient();
  const list = useApiTokens();
  const [made, setMade] = useState<(ApiToken & { token: string }) | null>(null);
  const [message, setMessage] = useState('');
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const revoke = useMutation({
    mutationFn: (t: ApiToken) => call(`/api/auth/tokens/${t.id}`, { method: 'DELETE' }),
    onSuccess: (_r, t) => {
      setMessage(`${t.name} was revoked: it no longer works.`);
      setRevoking(null);
      if (made?.id === t.id) setMade(null);
      void client.invalidateQueries({ queryKey: keys.tokens });
    },
  });

  return (
    <>
      <h1>API tokens</h1>
      <p className="lead">
        A token acts as you, limited to its scopes, until it expires or you revoke it. Use one in a CI job (
        <code>SPM_TOKEN</code>) or for npm (<code>_authToken</code> in <code>.npmrc</code>). Tokens cannot approve,
        reject or make other tokens. A password change ends them all.
      </p>
      <CreateToken
        onCreated={(t) => {
          setMade(t);
          setMessage('');
          void client.invalidateQueries({ queryKey: keys.tokens });
        }}
      />
      {made && <NewSecret token={made} onDone={() => setMade(null)} />}
      <p role="status" className="status-line">
        {message}
      </p>
      <ErrorMessage error={list.error} title="Your tokens could not be loaded" />
      {list.isPending ? (
        <Loading label="Loading your tokens" />
      ) : (list.data?.tokens.length ?? 0) === 0 ? (
        <Empty>You have no live API token.</Empty>
      ) : (
        <TableRegion label="Your API tokens">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Begins with</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data!.tokens.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td>
                    {t.scopes.map((s) => (
                      <span key={s} className="scope">
                        <Badge tone="neutral">{s}</Badge>{' '}
                      </span>
                    ))}
                  </td>
                  <td>
                    <Time iso={t.created_at} />
                  </td>
                  <td>
                    <Time iso={t.expires_at} />
                  </td>
                  <td>{t.last_used_at ? <Time iso={t.last_used_at} /> : <span className="muted">never</span>}</td>
                  <td>
                    <button
                      type="button"
                      className="button button--quiet"
                      onClick={() => {
                        revoke.reset();
                        setRevoking(t);
                      }}
                    >
                      Revoke<span className="visually-hidden"> {t.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      <Dialog open={revoking !== null} title={`Revoke ${revoking?.name ?? ''}?`} onClose={() => setRevoking(null)}>
        <p>Every job or machine using it stops working at once. This cannot be undone.</p>
        <ErrorMessage error={revoke.error} title="Not revoked" />
        <div className="actions">
          <button
            type="button"
            className="button button--danger"
            disabled={revoke.isPending}
            onClick={() => revoking && revoke.mutate(revoking)}
          >
            Revoke
          </button>
          <button type="button" className="button button--quiet" onClick={() => setRevoking(null)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </>
  );
}

function CreateToken({ onCreated }: { onCreated(t: ApiToken & { token: string }): void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['submit', 'read']);
  const [days, setDays] = useState<number>(90);
  const create = useMutation({
    mutationFn: () =>
      call<ApiToken & { token: string }>('/api/auth/tokens', {
        method: 'POST',
        body: { name: name.trim(), scopes, expires_in_days: days },
      }),
    onSuccess: (t) => {
      setName('');
      onCreated(t);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const toggle = (id: string, on: boolean) =>
    setScopes((old) => (on ? [...old.filter((s) => s !== id), id] : old.filter((s) => s !== id)));
  return (
    <section className="panel" aria-labelledby="new-token-title">
      <h2 id="new-token-title">Make a token</h2>
      <form className="form" onSubmit={submit}>
        <div className="field-row">
          <div className="field">
            <label htmlFor="t-name">Name</label>
            <input
              id="t-name"
              required
              maxLength={100}
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="e.g. storefront CI"
            />
          </div>
          <div className="field">
            <label htmlFor="t-days">Expires after</label>
            <select id="t-days" value={days} onChange={(e) => setDays(Number(e.target.value))}>
              {EXPIRY_DAYS.map((d) => (
                <option key={d} value={d}>
                  {d} days
                </option>
              ))}
            </select>
          </div>
        </div>
        <fieldset className="fieldset checkbox-list">
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <div key={s.id} className="checkbox">
              <input
                id={`t-scope-${s.id}`}
                type="checkbox"
                checked={scopes.includes(s.id)}
                onChange={(e) => toggle(s.id, e.target.checked)}
                aria-describedby={`t-scope-${s.id}-help`}
              />
              <label htmlFor={`t-scope-${s.id}`}>{s.label}</label>{' '}
              <span id={`t-scope-${s.id}-help`} className="muted small">
                {s.help}
              </span>
            </div>
          ))}
        </fieldset>
        <ErrorMessage error={create.error} title="The token was not made" />
        <button
          type="submit"
          className="button button--primary"
          disabled={create.isPending || !name.trim() || scopes.length === 0}
        >
          Make token
        </button>
      </form>
    </section>
  );
}

/** The secret, once: with how to use it, and a copy button. */
function NewSecret({ token, onDone }: { token: ApiToken & { token: string }; onDone(): void }) {
  const [copied, setCopied] = useState(false);
  const host = `${window.location.host}/registry/`;
  return (
    <div className="alert alert--success new-secret" role="status">
      <p className="alert__title">
        <span aria-hidden="true">✓ </span>
        <strong>{token.name}</strong> was made. Copy its secret now: it is not shown again.
      </p>
      <div className="field">
        <label htmlFor="t-secret">Secret</label>
        <input id="t-secret" className="secret" readOnly value={token.token} onFocus={(e) => e.target.select()} />
      </div>
      <div className="actions">
        <button
          type="button"
          className="button"
          onClick={() =>
            void navigator.clipboard
              ?.writeText(token.token)
              .then(() => setCopied(true))
              .catch(() => setCopied(false))
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="button button--quiet" onClick={onDone}>
          I have stored it
        </button>
      </div>
      <p className="small">
        In CI: <code>SPM_TOKEN={token.prefix}…</code>
        {token.scopes.includes('registry') && (
          <>
            {' '}
            · in <code>.npmrc</code>:{' '}
            <code>
              //{host}:_authToken={token.prefix}…
            </code>
          </>
        )}
      </p>
    </div>
  );
}
