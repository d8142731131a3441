import { Link } from 'react-router';
import type { Advisory, Finding, PackageEvent, PackageReport } from '../api/types';
import { Badge, SeverityBadge, StatusBadge } from '../components/badges';
import { Empty } from '../components/feedback';
import { TableRegion } from '../components/table';
import { Time } from '../components/time';
import { safeUrl } from '../lib/findings';
import { bytes, dateTime } from '../lib/format';

/** Known vulnerabilities, each with its advisory: ids, severity, affected ranges, fixed versions, link. */
export function Vulnerabilities({ findings, advisories }: { findings: Finding[]; advisories: Advisory[] }) {
  if (findings.length === 0) return <Empty>No known vulnerability affects this version.</Empty>;
  const byId = new Map(advisories.map((a) => [a.id, a]));
  return (
    <TableRegion label="Vulnerabilities">
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Advisory</th>
            <th scope="col">Severity</th>
            <th scope="col">What</th>
            <th scope="col">Affected versions</th>
            <th scope="col">Fixed in</th>
          </tr>
        </thead>
        <tbody>
          {findings.map((f, i) => {
            const adv = byId.get(f.id);
            const url = safeUrl(f.url ?? adv?.url);
            const aliases = [...new Set([...(f.aliases ?? []), ...(adv?.aliases ?? [])])].filter((a) => a !== f.id);
            const fixed = f.fixedVersions?.length ? f.fixedVersions : (adv?.fixed_versions ?? []);
            return (
              <tr key={`${f.id}-${i}`}>
                <td>
                  {url ? (
                    <a href={url} rel="noreferrer noopener" target="_blank">
                      {f.id}
                      <span className="visually-hidden"> (opens in a new tab)</span>
                    </a>
                  ) : (
                    f.id
                  )}
                  {aliases.length > 0 && <div className="muted small">{aliases.join(', ')}</div>}
                  <div className="muted small">from {f.source === 'osv' ? 'the advisory database' : f.source}</div>
                </td>
                <td>
                  <SeverityBadge severity={f.malware ? 'malware' : f.severity} />
                </td>
                <td>
                  <strong>{f.title}</strong>
                  {f.explanation && <p className="small">{f.explanation}</p>}
                </td>
                <td>
                  {adv?.affected_ranges.length ? (
                    <ul className="plain">
                      {adv.affected_ranges.map((r) => (
                        <li key={r}>
                          <code>{r}</code>
                        </li>
                      ))}
                    </ul>
                  ) : (
                    <span className="muted">not recorded</span>
                  )}
                </td>
                <td>{fixed.length ? fixed.join(', ') : <span className="muted">no fix</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </TableRegion>
  );
}

/** Supply-chain findings: what was seen, where (file and line), an excerpt, and why it matters. */
export function SupplyChain({ findings }: { findings: Finding[] }) {
  if (findings.length === 0) return <Empty>No supply-chain signal was found in the tarball.</Empty>;
  return (
    <ul className="findings">
      {findings.map((f, i) => (
        <li key={`${f.id}-${i}`} className="finding">
          <div className="finding__head">
            <SeverityBadge severity={f.malware ? 'malware' : f.severity} />
            <strong>{f.title}</strong>
            <code className="muted">{f.id}</code>
          </div>
          {f.file && (
            <p className="small">
              In <code>{f.file}</code>
              {f.line !== undefined && (
                <>
                  , line <code>{f.line}</code>
                </>
              )}
            </p>
          )}
          {f.evidence && (
            <pre className="excerpt" aria-label={`Excerpt from ${f.file ?? 'the package'}`}>
              <code>{f.evidence}</code>
            </pre>
          )}
          {f.explanation && <p className="small">{f.explanation}</p>}
        </li>
      ))}
    </ul>
  );
}

/** Integrity: what the lockfile and the registry said, what was downloaded, and where it was verified. */
export function Integrity({ report }: { report: PackageReport }) {
  const s = report.status;
  const download = [...report.events].reverse().find((e) => e.from === 'Downloading' && e.to === 'Downloaded');
  const verified = (download?.details as { verifiedAgainst?: { lockfile?: boolean; registry?: boolean } } | null)
    ?.verifiedAgainst;
  const against = [verified?.lockfile && 'the lockfile', verified?.registry && 'the source registry'].filter(Boolean);
  return (
    <dl className="facts facts--stacked">
      <div>
        <dt>Lockfile integrity</dt>
        <dd>
          <code className="hash">{report.package.integrity ?? 'none in the lockfile'}</code>
        </dd>
      </div>
      <div>
        <dt>Registry integrity</dt>
        <dd>
          <code className="hash">{s.registry_integrity ?? 'not read yet'}</code>
        </dd>
      </div>
      <div>
        <dt>Stored tarball (SHA-512)</dt>
        <dd>
          <code className="hash">{s.checksum ?? 'not downloaded yet'}</code>
          {s.size_bytes !== null && <span className="muted"> · {bytes(s.size_bytes)}</span>}
        </dd>
      </div>
      <div>
        <dt>Verified</dt>
        <dd>
          {download ? (
            <>
              <Badge tone="success" icon="✓">
                verified
              </Badge>{' '}
              {against.length ? `against ${against.join(' and ')}` : ''} when it was downloaded,{' '}
              <Time iso={download.at} /> ({download.reason ?? 'downloaded'})
            </>
          ) : (
            <span className="muted">not yet: verification happens at download</span>
          )}
        </dd>
      </div>
      {report.package.resolved && (
        <div>
          <dt>Lockfile's resolved URL</dt>
          <dd>
            <code className="hash">{report.package.resolved}</code>{' '}
            <span className="muted small">(recorded, never fetched)</span>
          </dd>
        </div>
      )}
    </dl>
  );
}

/** Every transition of the package: when, who (a worker or a person), what, and why. */
export function Timeline({ events }: { events: PackageEvent[] }) {
  if (events.length === 0) return <Empty>No history yet.</Empty>;
  return (
    <ol className="timeline">
      {events.map((e) => (
        <li key={e.id} className="timeline__item">
          <div className="timeline__when">
            <time dateTime={e.at}>{dateTime(e.at)}</time>
          </div>
          <div className="timeline__what">
            {e.from ? (
              <>
                <StatusBadge status={e.from} /> <span aria-label="to">→</span> <StatusBadge status={e.to} />
              </>
            ) : (
              <StatusBadge status={e.to} />
            )}
          </div>
          <div className="timeline__who small">
            {e.actor_kind === 'user' ? 'by ' : e.actor_kind === 'worker' ? 'worker ' : ''}
            <strong>{e.actor}</strong>
            {e.attempt !== null && e.attempt > 1 && <span className="muted"> · attempt {e.attempt}</span>}
          </div>
          {e.reason && <p className="timeline__reason small">{e.reason}</p>}
        </li>
      ))}
    </ol>
  );
}

export function IncludedIn({ requests }: { requests: PackageReport['requests'] }) {
  if (requests.length === 0) return <Empty>None of your requests.</Empty>;
  return (
    <ul className="plain">
      {requests.map((r) => (
        <li key={r.id}>
          <Link to={`/requests/${r.id}`}>
            {r.application_name}@{r.application_version}
          </Link>{' '}
          <span className="muted small">
            request {r.id} by {r.requestor ?? 'unknown'}, <Time iso={r.created_at} />
            {r.link === 'new' ? ' · brought it in' : ''}
          </span>
        </li>
      ))}
    </ul>
  );
}
