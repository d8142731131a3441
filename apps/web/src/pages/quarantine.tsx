import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { call } from '../api/client';
import { keys, useAdvisoryImpact, useQuarantine } from '../api/queries';
import type { Impact, QuarantinedPackage } from '../api/types';
import { Badge, SeverityBadge, StatusBadge } from '../components/badges';
import { Dialog } from '../components/dialog';
import { Empty, ErrorMessage, Loading } from '../components/feedback';
import { TableRegion } from '../components/table';
import { Time } from '../components/time';
import { useTitle } from '../lib/use-title';

const DEFAULT_RELEASE_DAYS = 30;

/** A date `days` from today as a date input's value (yyyy-mm-dd). */
function dateInDays(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

type Decision = { pkg: QuarantinedPackage; kind: 'release' | 'reject' };

/**
 * Versions held back because an advisory arrived after their approval: npm gets a 451 naming the
 * advisory until an approver releases the version (a waiver with a reason and an end date) or rejects it
 * for good. Below, who is affected by any advisory.
 */
export function QuarantinePage() {
  useTitle('Quarantine');
  const client = useQueryClient();
  const list = useQuarantine();
  const [deciding, setDeciding] = useState<Decision | null>(null);
  const [message, setMessage] = useState('');
  const done = (text: string) => {
    setMessage(text);
    setDeciding(null);
    void client.invalidateQueries({ queryKey: keys.quarantine });
    void client.invalidateQueries({ queryKey: keys.impact });
  };
  return (
    <>
      <h1>Quarantine</h1>
      <p className="lead">
        These versions were approved, then an advisory arrived. The built-in registry refuses them (npm gets a 451
        naming the advisory), and <code>latest</code> points at the newest version still served. Release one until a
        date if you accept the risk, or reject it for good.
      </p>
      <p role="status" className="status-line">
        {message}
      </p>
      <ErrorMessage error={list.error} title="The quarantine could not be loaded" />
      {list.isPending ? (
        <Loading label="Loading the quarantine" />
      ) : (list.data?.packages.length ?? 0) === 0 ? (
        <Empty>No version is in quarantine.</Empty>
      ) : (
        <TableRegion label="Quarantined versions">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Status</th>
                <th scope="col">Advisories</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data!.packages.map((p) => (
                <tr key={p.package_id}>
                  <td>
                    <Link to={`/packages/${p.package_id}`}>
                      {p.name}@{p.version}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={p.status} />
                  </td>
                  <td>
                    <ul className="plain">
                      {p.advisories.map((a) => (
                        <li key={a.id}>
                          <code>{a.id}</code>
                          {a.summary && <span className="muted small"> {a.summary}</span>}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td>
                    <div className="actions">
                      <button type="button" className="button" onClick={() => setDeciding({ pkg: p, kind: 'release' })}>
                        Release
                        <span className="visually-hidden">
                          {' '}
                          {p.name}@{p.version}
                        </span>
                      </button>
                      <button
                        type="button"
                        className="button button--quiet"
                        onClick={() => setDeciding({ pkg: p, kind: 'reject' })}
                      >
                        Reject
                        <span className="visually-hidden">
                          {' '}
                          {p.name}@{p.version}
                        </span>
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      {deciding && <DecideQuarantine decision={deciding} onClose={() => setDeciding(null)} onDone={done} />}
      <AdvisoryLookup />
    </>
  );
}

function DecideQuarantine({
  decision,
  onClose,
  onDone,
}: {
  decision: Decision;
  onClose(): void;
  onDone(message: string): void;
}) {
  const { pkg, kind } = decision;
  const [reason, setReason] = useState('');
  const [until, setUntil] = useState(dateInDays(DEFAULT_RELEASE_DAYS));
  const spec = `${pkg.name}@${pkg.version}`;
  const decide = useMutation({
    mutationFn: () =>
      kind === 'release'
        ? call<{ advisories: string[] }>(`/api/approvals/quarantine/${pkg.package_id}/release`, {
            method: 'POST',
            // The end of the chosen day, in UTC.
            body: { reason: reason.trim(), expires_at: new Date(`${until}T23:59:59Z`).toISOString() },
          })
        : call<{ advisories: string[] }>(`/api/approvals/quarantine/${pkg.package_id}/reject`, {
            method: 'POST',
            body: { reason: reason.trim() },
          }),
    onSuccess: (r) =>
      onDone(
        kind === 'release'
          ? `${spec} is released until ${until} (${r.advisories.join(', ')}): npm can install it again.`
          : `${spec} is rejected for good.`,
      ),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    decide.mutate();
  };
  return (
    <Dialog open title={kind === 'release' ? `Release ${spec}?` : `Reject ${spec} for good?`} onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <p>
          {kind === 'release'
            ? 'It is served again until the date you choose; then the quarantine is back unless the advisory is withdrawn.'
            : 'It stays refused, and retrying never undoes it.'}
        </p>
        <div className="field">
          <label htmlFor="q-reason">Reason</label>
          <textarea id="q-reason" required rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />
        </div>
        {kind === 'release' && (
          <div className="field">
            <label htmlFor="q-until">Released until</label>
            <input
              id="q-until"
              type="date"
              required
              min={dateInDays(1)}
              max={dateInDays(366)}
              value={until}
              onChange={(e) => setUntil(e.target.value)}
            />
          </div>
        )}
        <ErrorMessage error={decide.error} title="Not recorded" />
        <div className="actions">
          <button
            type="submit"
            className={kind === 'release' ? 'button button--primary' : 'button button--danger'}
            disabled={decide.isPending || !reason.trim() || (kind === 'release' && !until)}
          >
            {kind === 'release' ? 'Release' : 'Reject for good'}
          </button>
          <button type="button" className="button button--quiet" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Who is affected by an advisory: the versions it matched after approval, and who includes them. */
function AdvisoryLookup() {
  const [text, setText] = useState('');
  const [id, setId] = useState('');
  const impact = useAdvisoryImpact(id);
  return (
    <section className="panel" aria-labelledby="lookup-title">
      <h2 id="lookup-title">Who is affected by an advisory?</h2>
      <form
        className="filters"
        role="search"
        aria-label="Find an advisory's impact"
        onSubmit={(e) => {
          e.preventDefault();
          setId(text.trim());
        }}
      >
        <div className="field">
          <label htmlFor="a-id">Advisory id or alias</label>
          <input
            id="a-id"
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="GHSA-…, CVE-…, MAL-…"
            pattern="[A-Za-z0-9._:\-]+"
          />
        </div>
        <button type="submit" className="button" disabled={!text.trim()}>
          Show impact
        </button>
      </form>
      {id !== '' &&
        (impact.isPending ? (
          <Loading label="Looking it up" />
        ) : impact.error ? (
          <ErrorMessage error={impact.error} title={`No impact for ${id}`} />
        ) : (
          impact.data && (
            <>
              <p>
                <strong>{impact.data.advisory.id}</strong>
                {impact.data.advisory.severity && (
                  <>
                    {' '}
                    <SeverityBadge
                      severity={impact.data.advisory.malware ? 'malware' : impact.data.advisory.severity}
                    />
                  </>
                )}{' '}
                {impact.data.advisory.summary}
                {impact.data.advisory.withdrawn && (
                  <>
                    {' '}
                    <Badge tone="neutral">withdrawn</Badge>
                  </>
                )}
              </p>
              <ImpactTables impact={impact.data} />
            </>
          )
        ))}
    </section>
  );
}

/** The findings of an impact answer and the requests, applications and requestors it reaches. */
export function ImpactTables({
  impact,
  showPackage = true,
  showRequests = true,
}: {
  impact: Impact;
  showPackage?: boolean;
  showRequests?: boolean;
}) {
  return (
    <>
      {impact.findings.length === 0 ? (
        <Empty>No approved or published version matched it after approval.</Empty>
      ) : (
        <TableRegion label="Advisory findings after approval">
          <table className="table">
            <thead>
              <tr>
                {showPackage && <th scope="col">Version</th>}
                <th scope="col">Advisory</th>
                <th scope="col">Severity</th>
                <th scope="col">What it does</th>
                <th scope="col">Since</th>
                <th scope="col">Now</th>
              </tr>
            </thead>
            <tbody>
              {impact.findings.map((f) => (
                <tr key={`${f.package_id}-${f.advisory_id}`}>
                  {showPackage && (
                    <td>
                      <Link to={`/packages/${f.package_id}`}>
                        {f.name}@{f.version}
                      </Link>
                    </td>
                  )}
                  <td>
                    <code>{f.advisory_id}</code>
                    {f.summary && <div className="muted small">{f.summary}</div>}
                  </td>
                  <td>
                    <SeverityBadge severity={f.malware ? 'malware' : f.severity} />
                  </td>
                  <td>{f.action === 'quarantine' ? 'quarantines the version' : 'flags it'}</td>
                  <td>
                    <Time iso={f.first_matched_at} />
                  </td>
                  <td className="small">
                    {f.resolved_at ? (
                      `resolved: ${f.resolved_reason ?? ''}`
                    ) : f.release_waiver_id ? (
                      <>
                        released until <Time iso={f.release_expires_at} />
                      </>
                    ) : f.quarantining ? (
                      <Badge tone="danger" icon="✕">
                        quarantined
                      </Badge>
                    ) : (
                      'open'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      {showRequests && impact.requests.length > 0 && (
        <>
          <h3>
            Included in {impact.requests.length.toLocaleString()}
            {impact.truncated ? '+' : ''} requests
          </h3>
          <p className="small">
            Applications:{' '}
            {impact.applications.map((a) => `${a.name}@${a.version}`).join(', ') || <span className="muted">none</span>}
            {' · '}Requestors: {impact.requestors.map((r) => r ?? 'a removed user').join(', ')}
          </p>
          <TableRegion label="Requests that include affected versions">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Request</th>
                  <th scope="col">Requested by</th>
                  <th scope="col">Submitted</th>
                </tr>
              </thead>
              <tbody>
                {impact.requests.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <Link to={`/requests/${r.id}`}>
                        {r.application_name}@{r.application_version}
                      </Link>
                    </td>
                    <td>{r.requestor ?? '—'}</td>
                    <td>
                      <Time iso={r.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
        </>
      )}
    </>
  );
}
