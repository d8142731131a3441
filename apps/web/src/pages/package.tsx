import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { describeBatch, useDecide, type DecisionKind } from '../api/decisions';
import { usePackageImpact, useReport } from '../api/queries';
import { hasRole } from '../api/roles';
import type { PackageReport } from '../api/types';
import { useSession } from '../auth/session';
import { ActionBadge, Badge, SeverityBadge, StatusBadge, TierBadge } from '../components/badges';
import { DecisionForm } from '../components/decision-form';
import { ErrorMessage, Loading, Notice } from '../components/feedback';
import { ProgressBar } from '../components/progress';
import { Time } from '../components/time';
import { readFindings, splitFindings } from '../lib/findings';
import { duration } from '../lib/format';
import { describeLicenseFlag } from '../lib/status';
import { useTitle } from '../lib/use-title';
import { NotFoundPage } from './not-found';
import { ImpactTables } from './quarantine';
import { IncludedIn, Integrity, SupplyChain, Timeline, Vulnerabilities } from './package-sections';

export function PackagePage() {
  const id = Number(useParams().id);
  return Number.isSafeInteger(id) && id > 0 ? <PackageView id={id} /> : <NotFoundPage what="package" />;
}

function PackageView({ id }: { id: number }) {
  const report = useReport(id);
  const rep = report.data;
  useTitle(rep ? `${rep.package.name}@${rep.package.version}` : `Package ${id}`);
  if (report.error && (report.error as { status?: number }).status === 404) return <NotFoundPage what="package" />;
  if (!rep) return report.error ? <ErrorMessage error={report.error} /> : <Loading label="Loading the report" />;

  const findings = readFindings(rep.security.scan?.findings);
  const { vulnerabilities, signals } = splitFindings(findings);
  const scanners = Array.isArray(rep.security.scan?.scanners)
    ? (rep.security.scan!.scanners as Array<{ name?: string; version?: string; durationMs?: number }>)
    : [];
  const licenceEvent = [...rep.events].reverse().find((e) => e.from === 'Checking Licence');
  return (
    <>
      <p className="breadcrumb">
        {rep.requests[0] ? (
          <Link to={`/requests/${rep.requests[0].id}`}>
            {rep.requests[0].application_name}@{rep.requests[0].application_version}
          </Link>
        ) : (
          <Link to="/requests">Requests</Link>
        )}{' '}
        / package
      </p>
      <div className="page-head">
        <h1>
          {rep.package.name}@{rep.package.version}
        </h1>
        <StatusBadge status={rep.status.status} />
      </div>
      <StatusSummary rep={rep} />
      <AfterApproval id={rep.package.id} />
      <PolicySection rep={rep} />
      <Decide rep={rep} />

      <div className="report-grid">
        <section className="panel" aria-labelledby="licence-title">
          <h2 id="licence-title">Licence</h2>
          <dl className="facts facts--stacked">
            <div>
              <dt>Declared</dt>
              <dd>{rep.license.declared_license ?? <span className="muted">nothing in the lockfile</span>}</dd>
            </div>
            <div>
              <dt>Evaluated as</dt>
              <dd>{rep.license.license_expression ?? <span className="muted">not evaluated yet</span>}</dd>
            </div>
            <div>
              <dt>Tier</dt>
              <dd>
                {rep.license.license_tier || rep.license.license_expression ? (
                  <TierBadge tier={rep.license.license_tier} />
                ) : (
                  '—'
                )}
                {rep.license.license_score !== null && (
                  <span className="muted"> · score {rep.license.license_score}</span>
                )}
              </dd>
            </div>
            <div>
              <dt>How it was decided</dt>
              <dd>
                {licenceEvent ? (
                  <>
                    {licenceEvent.reason ?? licenceEvent.to} ({describeSource(licenceEvent.details)},{' '}
                    <Time iso={licenceEvent.at} />)
                  </>
                ) : (
                  <span className="muted">not checked yet</span>
                )}
              </dd>
            </div>
          </dl>
          {rep.license.license_flags.length > 0 && (
            <>
              <h3>Why a person should look</h3>
              <ul className="plain">
                {rep.license.license_flags.map((f) => (
                  <li key={f}>
                    <Badge tone="warning" icon="!">
                      {f.split(':')[0]}
                    </Badge>{' '}
                    {describeLicenseFlag(f)}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>

        <section className="panel" aria-labelledby="scan-title">
          <h2 id="scan-title">Security scan</h2>
          {rep.security.scan ? (
            <dl className="facts facts--stacked">
              <div>
                <dt>Score</dt>
                <dd>
                  <strong>{rep.security.scan.score}</strong> / 100
                  {rep.security.scan.malware && (
                    <>
                      {' '}
                      <SeverityBadge severity="malware" />
                    </>
                  )}
                </dd>
              </div>
              <div>
                <dt>Findings by severity</dt>
                <dd>
                  {(['critical', 'high', 'medium', 'low', 'info'] as const).map((k) => (
                    <span key={k} className="count-pair">
                      {k} <strong>{rep.security.scan!.vulnerabilities[k]}</strong>
                    </span>
                  ))}
                </dd>
              </div>
              <div>
                <dt>Scanned</dt>
                <dd>
                  <Time iso={rep.security.scan.scanned_at} /> in {duration(rep.security.scan.duration_ms / 1000)} by{' '}
                  {scanners.map((x) => `${x.name ?? '?'} ${x.version ?? ''}`.trim()).join(', ') || 'the scanner'}
                </dd>
              </div>
            </dl>
          ) : (
            <p className="muted">Not scanned yet{rep.security.scan_state ? ` (${rep.security.scan_state})` : ''}.</p>
          )}
        </section>
      </div>

      <section>
        <h2>Vulnerabilities ({vulnerabilities.length})</h2>
        <Vulnerabilities findings={vulnerabilities} advisories={rep.advisories} />
      </section>
      <section aria-labelledby="signals-title">
        <h2 id="signals-title">Supply-chain findings ({signals.length})</h2>
        <SupplyChain findings={signals} />
      </section>
      <section className="panel" aria-labelledby="integrity-title">
        <h2 id="integrity-title">Integrity</h2>
        <Integrity report={rep} />
      </section>
      <div className="report-grid">
        <section className="panel" aria-labelledby="timeline-title">
          <h2 id="timeline-title">History</h2>
          <Timeline events={rep.events} />
        </section>
        <section className="panel" aria-labelledby="requests-title">
          <h2 id="requests-title">Included in</h2>
          <IncludedIn requests={rep.requests} />
        </section>
      </div>
    </>
  );
}

function describeSource(details: unknown): string {
  const source = (details as { source?: string } | null)?.source;
  return source === 'registry'
    ? 'licence read from the registry'
    : source === 'lockfile'
      ? 'licence read from the lockfile'
      : 'licence stage';
}

function StatusSummary({ rep }: { rep: PackageReport }) {
  const s = rep.status;
  return (
    <dl className="facts">
      <div>
        <dt>Progress</dt>
        <dd>
          <ProgressBar value={s.progress_percent} label="Progress through the pipeline" />
        </dd>
      </div>
      {s.rejection && (
        <div>
          <dt>Rejected{s.rejection.kind ? ` (${s.rejection.kind})` : ''}</dt>
          <dd>
            {s.rejection.reason}
            {s.rejected_by && ` — by ${s.rejected_by}`}
          </dd>
        </div>
      )}
      {s.approved_by && (
        <div>
          <dt>Approved</dt>
          <dd>
            by {s.approved_by}, <Time iso={s.approved_at} />
          </dd>
        </div>
      )}
      {s.published_at && (
        <div>
          <dt>Published</dt>
          <dd>
            <Time iso={s.published_at} />
            {s.published_to && ` to ${s.published_to}`}
          </dd>
        </div>
      )}
      {s.last_error && !s.rejection && (
        <div>
          <dt>Last error</dt>
          <dd>{s.last_error}</dd>
        </div>
      )}
      <div>
        <dt>Attempts</dt>
        <dd>
          {s.attempts}
          {s.retries > 0 && ` · ${s.retries} manual retries`}
          {s.stuck_resets > 0 && ` · reset ${s.stuck_resets} times after a worker stopped`}
        </dd>
      </div>
    </dl>
  );
}

/** Approve or reject from the report, for an approver, while the package waits. */
function Decide({ rep }: { rep: PackageReport }) {
  const { user } = useSession();
  const decide = useDecide();
  const [done, setDone] = useState<string | null>(null);
  if (!hasRole(user?.role, 'approver')) return null;
  if (rep.status.status !== 'Pending Approval') return done ? <Notice kind="success">{done}</Notice> : null;
  const onDecide = (decision: DecisionKind, reason: string) =>
    decide.mutate(
      { ids: [rep.package.id], decision, reason },
      { onSuccess: (r) => setDone(describeBatch(r, decision)) },
    );
  return (
    <section className="panel panel--attention" aria-labelledby="decide-title">
      <h2 id="decide-title">Decide</h2>
      <p>This package waits for an approver.</p>
      <DecisionForm busy={decide.isPending} onDecide={onDecide} what="this package" />
      <ErrorMessage error={decide.error} title="The decision was not recorded" />
    </section>
  );
}

interface RuleMatchJson {
  ruleId?: string;
  index?: number;
  action?: string;
  because?: string[];
}
interface WaiverJson {
  id?: number;
  kind?: string;
  subject?: string;
  reason?: string;
  owner?: string;
  expiresAt?: string;
}

/** How the approval policy decided: the outcome, the deciding rule and version, every rule that matched, waivers. */
function PolicySection({ rep }: { rep: PackageReport }) {
  const p = rep.policy;
  if (!p) return null;
  const matched = (Array.isArray(p.matched) ? p.matched : []) as RuleMatchJson[];
  const waived = (Array.isArray(p.waived) ? p.waived : []) as WaiverJson[];
  const expired = (Array.isArray(p.expired_waivers) ? p.expired_waivers : []) as WaiverJson[];
  return (
    <section className="panel" aria-labelledby="policy-title">
      <h2 id="policy-title">Policy decision</h2>
      <p>
        <ActionBadge action={p.outcome} /> {p.explanation}
      </p>
      <dl className="facts">
        <div>
          <dt>Deciding rule</dt>
          <dd>{p.rule ? <code>{p.rule}</code> : <span className="muted">none (default action or cooldown)</span>}</dd>
        </div>
        <div>
          <dt>Policy version</dt>
          <dd>
            {p.version}
            {p.evaluated_at && (
              <>
                , <Time iso={p.evaluated_at} />
              </>
            )}
          </dd>
        </div>
        {p.cooldown_until && (
          <div>
            <dt>Cooldown until</dt>
            <dd>
              <Time iso={p.cooldown_until} />
            </dd>
          </div>
        )}
        {p.cooldown_release && (
          <div>
            <dt>Cooldown released</dt>
            <dd>
              by {p.cooldown_release.by}
              {p.cooldown_release.reason && `: ${p.cooldown_release.reason}`}
            </dd>
          </div>
        )}
      </dl>
      {matched.length > 0 && (
        <>
          <h3>Rules that matched</h3>
          <ul className="plain">
            {matched.map((m) => (
              <li key={`${m.ruleId}-${m.index}`}>
                <ActionBadge action={m.action ?? '?'} /> rule {m.index} <code>{m.ruleId}</code>
                {m.because && m.because.length > 0 && <span className="muted">: {m.because.join('; ')}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
      {(waived.length > 0 || expired.length > 0) && (
        <>
          <h3>Waivers</h3>
          <ul className="plain">
            {waived.map((w) => (
              <li key={`w${w.id}`}>
                Waiver #{w.id} on {w.kind} <code>{w.subject}</code> applied{w.owner && `, owned by ${w.owner}`}
                {w.reason && `: ${w.reason}`}
              </li>
            ))}
            {expired.map((w) => (
              <li key={`x${w.id}`}>
                <Badge tone="warning" icon="!">
                  expired
                </Badge>{' '}
                Waiver #{w.id} on {w.kind} <code>{w.subject}</code> no longer applies
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/** Advisories that matched this version after its approval (approvers and admins): quarantine or flag. */
function AfterApproval({ id }: { id: number }) {
  const { user } = useSession();
  const approver = hasRole(user?.role, 'approver');
  const impact = usePackageImpact(id, approver);
  if (!approver || !impact.data || impact.data.findings.length === 0) return null;
  const q = impact.data.package.quarantined_by;
  return (
    <section className={`panel${q ? ' panel--attention' : ''}`} aria-labelledby="after-title">
      <h2 id="after-title">Advisories after approval</h2>
      {q ? (
        <p>
          <Badge tone="danger" icon="✕">
            quarantined
          </Badge>{' '}
          The built-in registry refuses this version because of {q.map((a) => a.id).join(', ')}. Release it or reject it
          on the <Link to="/quarantine">Quarantine</Link> page.
        </p>
      ) : (
        <p>Advisories matched this version after it was approved; it is served.</p>
      )}
      <ImpactTables impact={impact.data} showPackage={false} showRequests={false} />
    </section>
  );
}
