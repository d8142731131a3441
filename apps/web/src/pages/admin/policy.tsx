import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, call } from '../../api/client';
import { keys, usePolicy, usePolicyVersions } from '../../api/queries';
import type { PolicyDocument, PolicyDryRun, PolicyRule, PolicyVersion } from '../../api/types';
import { ActionBadge } from '../../components/badges';
import { Empty, ErrorMessage, Loading } from '../../components/feedback';
import { Pagination } from '../../components/pagination';
import { TableRegion } from '../../components/table';
import { Time } from '../../components/time';
import { useTitle } from '../../lib/use-title';

/** A rule's conditions in words: `severity at least: high; licence tier: avoid or unknown`. */
export function describeConditions(c: Record<string, unknown> | undefined): string {
  if (!c || Object.keys(c).length === 0) return 'every package';
  return Object.entries(c)
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${Array.isArray(v) ? v.join(' or ') : String(v)}`)
    .join('; ');
}

const VERSIONS_PAGE = 10;

/**
 * The approval policy (admin): the version in force with its rules in words, a change written as JSON and
 * tried first with a dry-run against the packages in the database, and every earlier version.
 */
export function PolicyPage() {
  useTitle('Approval policy');
  const policy = usePolicy();
  const [page, setPage] = useState(1);
  const versions = usePolicyVersions({ page, page_size: VERSIONS_PAGE });
  const p = policy.data;
  // Kept here, not in the editor: a saved version remounts the editor with the new document.
  const [saved, setSaved] = useState('');
  return (
    <>
      <h1>Approval policy</h1>
      <p className="lead">
        After the scan, the policy decides each package: approve, warn (approve and flag), hold for a person, or reject;
        a version younger than the cooldown waits. Reject beats hold beats warn beats approve. Licence tiers are on the{' '}
        <Link to="/admin/licenses">Licences</Link> page; exceptions for one package are waivers.
      </p>
      <ErrorMessage error={policy.error} title="The policy could not be loaded" />
      {!p ? (
        !policy.error && <Loading label="Loading the policy" />
      ) : (
        <>
          <section className="panel" aria-labelledby="in-force-title">
            <h2 id="in-force-title">Version {p.version}, in force</h2>
            <p className="muted small">
              {p.created_by ? `By ${p.created_by}, ` : 'The default, '}
              <Time iso={p.created_at} />
              {p.comment ? ` · “${p.comment}”` : ''}
            </p>
            <Rules document={p.document} />
          </section>
          <p role="status" className="status-line">
            {saved}
          </p>
          <ChangePolicy key={p.version} current={p} onSaved={setSaved} />
        </>
      )}
      <section aria-labelledby="history-title">
        <h2 id="history-title">Earlier versions</h2>
        <ErrorMessage error={versions.error} title="The versions could not be loaded" />
        {versions.data && (
          <>
            <TableRegion label="Policy versions">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">By</th>
                    <th scope="col">When</th>
                    <th scope="col">Why</th>
                    <th scope="col">Rules</th>
                  </tr>
                </thead>
                <tbody>
                  {versions.data.versions.map((v) => (
                    <tr key={v.version}>
                      <td>{v.version}</td>
                      <td>{v.created_by ?? <span className="muted">default</span>}</td>
                      <td>
                        <Time iso={v.created_at} />
                      </td>
                      <td className="small">{v.comment ?? '—'}</td>
                      <td>
                        <details>
                          <summary>
                            {v.document.rules.length} rules
                            <span className="visually-hidden"> of version {v.version}</span>
                          </summary>
                          <pre className="code-block">{JSON.stringify(v.document, null, 2)}</pre>
                        </details>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableRegion>
            <Pagination
              label="Policy version pages"
              page={page}
              pageSize={VERSIONS_PAGE}
              total={versions.data.total}
              onPage={setPage}
            />
          </>
        )}
      </section>
    </>
  );
}

function Rules({ document }: { document: PolicyDocument }) {
  return (
    <>
      <TableRegion label="Rules in force">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Rule</th>
              <th scope="col">Action</th>
              <th scope="col">When</th>
              <th scope="col">Unless</th>
            </tr>
          </thead>
          <tbody>
            {document.rules.map((r: PolicyRule, i) => (
              <tr key={r.id}>
                <td>{i + 1}</td>
                <td>
                  <code>{r.id}</code>
                  {r.description && <div className="muted small">{r.description}</div>}
                </td>
                <td>
                  <ActionBadge action={r.action} />
                </td>
                <td className="small">{describeConditions(r.when)}</td>
                <td className="small">{r.unless ? describeConditions(r.unless) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableRegion>
      <dl className="facts">
        <div>
          <dt>No rule matches</dt>
          <dd>
            <ActionBadge action={document.default_action} />
          </dd>
        </div>
        <div>
          <dt>Cooldown</dt>
          <dd>
            {document.cooldown.minimum_age_hours > 0
              ? `versions younger than ${document.cooldown.minimum_age_hours} hours wait`
              : 'off'}
            {document.cooldown.exceptions.length > 0 && ` · except ${document.cooldown.exceptions.join(', ')}`}
          </dd>
        </div>
      </dl>
    </>
  );
}

/** Parses the editor's text: the document, or why it is not one. */
function parseDraft(text: string): { document?: PolicyDocument; problem?: string } {
  try {
    const doc = JSON.parse(text) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { problem: 'The policy must be a JSON object.' };
    return { document: doc as PolicyDocument };
  } catch (err) {
    return { problem: `Not valid JSON: ${(err as Error).message}` };
  }
}

function ChangePolicy({ current, onSaved }: { current: PolicyVersion; onSaved(message: string): void }) {
  const client = useQueryClient();
  const [text, setText] = useState(() => JSON.stringify(current.document, null, 2));
  const [comment, setComment] = useState('');
  const draft = parseDraft(text);
  const dryRun = useMutation({
    mutationFn: (document: PolicyDocument) =>
      call<PolicyDryRun>('/api/admin/policy/dry-run', { method: 'POST', body: { document } }),
  });
  const save = useMutation({
    mutationFn: (document: PolicyDocument) =>
      call<PolicyVersion & { would_reject_let_through: number }>('/api/admin/policy', {
        method: 'PUT',
        body: { document, ...(comment.trim() ? { comment: comment.trim() } : {}) },
      }),
    onSuccess: (v) => {
      onSaved(
        `Version ${v.version} is in force. Packages still waiting are decided again by the workers` +
          (v.would_reject_let_through > 0
            ? `; ${v.would_reject_let_through} approved or published packages would now be rejected (not changed).`
            : '.'),
      );
      void client.invalidateQueries({ queryKey: keys.policy });
    },
  });
  const onDryRun = (e: FormEvent) => {
    e.preventDefault();
    if (draft.document) dryRun.mutate(draft.document);
  };
  const problems = (err: unknown) =>
    err instanceof ApiError && Array.isArray((err.details as { problems?: unknown })?.problems)
      ? ((err.details as { problems: string[] }).problems as string[])
      : null;
  const listed = problems(dryRun.error) ?? problems(save.error);
  return (
    <section className="panel" aria-labelledby="change-title">
      <h2 id="change-title">Change the policy</h2>
      <details className="disclosure">
        <summary>Edit the rules as JSON</summary>
        <form className="form form--wide" onSubmit={onDryRun}>
          <div className="field">
            <label htmlFor="policy-json">Policy (JSON)</label>
            <textarea
              id="policy-json"
              className="code"
              rows={18}
              spellCheck={false}
              value={text}
              aria-invalid={draft.problem ? true : undefined}
              aria-describedby="policy-json-help policy-json-problem"
              onChange={(e) => {
                setText(e.target.value);
                dryRun.reset();
              }}
            />
            <p id="policy-json-help" className="muted small">
              <code>rules</code> (id, action, when, unless), <code>default_action</code> and <code>cooldown</code>; the
              conditions are described in docs/policy.md.
            </p>
            <p id="policy-json-problem" className="field-error">
              {draft.problem ?? ''}
            </p>
          </div>
          <div className="field">
            <label htmlFor="policy-comment">Why it changes</label>
            <input id="policy-comment" maxLength={2000} value={comment} onChange={(e) => setComment(e.target.value)} />
          </div>
          {listed ? (
            <div className="alert alert--error" role="alert">
              <p className="alert__title">The policy has {listed.length} problem(s)</p>
              <ul>
                {listed.map((x) => (
                  <li key={x}>{x}</li>
                ))}
              </ul>
            </div>
          ) : (
            <ErrorMessage error={dryRun.error ?? save.error} title="The policy was not changed" />
          )}
          <div className="actions">
            <button type="submit" className="button" disabled={!draft.document || dryRun.isPending}>
              Dry run
            </button>
            <button
              type="button"
              className="button button--primary"
              disabled={!draft.document || !dryRun.data || save.isPending}
              onClick={() => draft.document && save.mutate(draft.document)}
            >
              Save as version {current.version + 1}
            </button>
            {!dryRun.data && <span className="muted small">Run a dry run first.</span>}
          </div>
        </form>
        {dryRun.data && <DryRunResult result={dryRun.data} />}
      </details>
    </section>
  );
}

function DryRunResult({ result }: { result: PolicyDryRun }) {
  return (
    <section aria-labelledby="dry-run-title" className="dry-run">
      <h3 id="dry-run-title">What this draft would do</h3>
      <p>
        Of {result.evaluated.toLocaleString()} packages evaluated, {result.changed.toLocaleString()} waiting packages
        would change status
        {result.would_reject_let_through > 0 &&
          `, and ${result.would_reject_let_through.toLocaleString()} approved or published packages would be rejected (they are reported, never changed)`}
        .
      </p>
      <p className="counts">
        {(Object.keys(result.outcomes) as Array<keyof PolicyDryRun['outcomes']>).map((k) => (
          <span key={k} className="count-pair">
            <ActionBadge action={k} /> <strong>{result.outcomes[k]}</strong>
          </span>
        ))}
      </p>
      {result.items.length === 0 ? (
        <Empty>No package would change.</Empty>
      ) : (
        <TableRegion label="Packages the draft changes">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Now</th>
                <th scope="col">Would be</th>
                <th scope="col">Deciding rule now → draft</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {result.items.map((i) => (
                <tr key={i.package_id}>
                  <td>
                    <Link to={`/packages/${i.package_id}`}>
                      {i.name}@{i.version}
                    </Link>
                  </td>
                  <td>{i.status}</td>
                  <td>{i.would_be}</td>
                  <td className="small">
                    <code>{i.current.rule ?? '—'}</code> → <code>{i.draft.rule ?? 'default'}</code>
                  </td>
                  <td className="small">{i.draft.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      {result.truncated && <p className="muted small">Only the first 500 are listed; the counts are complete.</p>}
    </section>
  );
}
