import type { ApiClient } from './client.js';
import { EXIT } from './errors.js';

/*
 * What a request's packages mean for a CI job: each package is allowed (approved or published),
 * rejected, pending (waiting for a person) or unsettled (still being processed), and the job's exit
 * code follows from the worst of them and --fail-on.
 */

export type PackageOutcome = 'allowed' | 'rejected' | 'pending' | 'unsettled';
export type FailOn = ReadonlySet<'rejected' | 'pending'>;

export interface RequestInfo {
  id: number;
  application_name: string;
  application_version: string;
  lockfile_format?: string;
  package_count: number;
}

/** One package of the request as the API lists it (the fields the CLI reads). */
export interface ApiPackage {
  package_id: number;
  name: string;
  version: string;
  status: string;
  dev?: boolean;
  optional?: boolean;
  license_tier?: string | null;
  license_expression?: string | null;
  highest_severity?: string | null;
  signals?: string[];
  last_error?: string | null;
  rejection?: { kind: string | null; reason: string | null } | null;
  /** The policy's decision in words (which rule of which version), when a policy decided. */
  decision?: string | null;
  /** Set while the version waits out the policy's release cooldown. */
  cooldown_until?: string | null;
}

export interface PackageResult {
  package_id: number;
  name: string;
  version: string;
  status: string;
  outcome: PackageOutcome;
  /** Why it is rejected or waits for a person (empty for allowed packages). */
  reason: string;
}

export interface RequestResult {
  request: RequestInfo;
  outcome: 'allowed' | 'rejected' | 'pending' | 'timeout';
  exit_code: number;
  counts: Record<PackageOutcome, number>;
  packages: PackageResult[];
}

const ALLOWED = new Set(['Approved', 'Publishing', 'Published']);

export function classify(status: string): PackageOutcome {
  if (ALLOWED.has(status)) return 'allowed';
  if (status === 'Rejected') return 'rejected';
  if (status === 'Pending Approval') return 'pending';
  return 'unsettled';
}

/** Why a package is rejected or pending, in one line, from what the API reports. */
export function reasonOf(p: ApiPackage, outcome: PackageOutcome): string {
  if (outcome === 'rejected') {
    const kind = p.rejection?.kind ? `${p.rejection.kind}: ` : '';
    return `${kind}${p.rejection?.reason ?? p.last_error ?? 'rejected'}`;
  }
  if (outcome === 'pending') {
    // The policy's own words first; the signals beside them say what an approver will look at.
    if (p.decision) return p.signals?.length ? `${p.decision}; signals: ${p.signals.join(', ')}` : p.decision;
    const why: string[] = [];
    if (p.highest_severity && !['none', 'info', 'low'].includes(p.highest_severity)) {
      why.push(`${p.highest_severity} severity`);
    }
    if (p.license_tier && p.license_tier !== 'always_allowed' && p.license_tier !== 'allowed') {
      why.push(`licence ${p.license_expression ?? '?'} (${p.license_tier})`);
    }
    if (p.signals && p.signals.length > 0) why.push(`signals: ${p.signals.join(', ')}`);
    return why.length > 0 ? why.join('; ') : 'waiting for an approver';
  }
  if (outcome === 'unsettled') return p.last_error ? `${p.status} (last error: ${p.last_error})` : p.status;
  return '';
}

/** Every package of a request, a page of 500 at a time. */
export async function fetchPackages(
  client: ApiClient,
  requestId: number,
): Promise<{ request: RequestInfo; packages: ApiPackage[] }> {
  const packages: ApiPackage[] = [];
  let request: RequestInfo | undefined;
  for (let page = 1; ; page++) {
    const body = await client.get<{ request: RequestInfo; packages?: ApiPackage[]; total?: number }>(
      `/api/packages/requests/${requestId}?page=${page}&page_size=500&sort=name`,
    );
    request = body.request;
    const got = body.packages ?? [];
    packages.push(...got);
    if (got.length < 500 || packages.length >= (body.total ?? 0)) break;
  }
  return { request: request!, packages };
}

export function decide(request: RequestInfo, packages: ApiPackage[], failOn: FailOn, timedOut: boolean): RequestResult {
  const counts: Record<PackageOutcome, number> = { allowed: 0, rejected: 0, pending: 0, unsettled: 0 };
  const results = packages.map((p) => {
    // A version in its release cooldown waits (for time, not for the machine): pending, with the date why.
    const outcome = p.cooldown_until ? 'pending' : classify(p.status);
    counts[outcome]++;
    return {
      package_id: p.package_id,
      name: p.name,
      version: p.version,
      status: p.status,
      outcome,
      reason: reasonOf(p, outcome),
    };
  });
  let outcome: RequestResult['outcome'] = 'allowed';
  let exit: number = EXIT.allowed;
  if (counts.rejected > 0 && failOn.has('rejected')) {
    outcome = 'rejected';
    exit = EXIT.rejected;
  } else if (counts.unsettled > 0) {
    outcome = timedOut ? 'timeout' : 'pending';
    exit = EXIT.waiting;
  } else if (counts.pending > 0 && failOn.has('pending')) {
    outcome = 'pending';
    exit = EXIT.waiting;
  }
  return { request, outcome, exit_code: exit, counts, packages: results };
}

/** Parses --fail-on: a comma-separated subset of rejected,pending (or `none`). */
export function parseFailOn(value: string | undefined): Set<'rejected' | 'pending'> | string {
  if (value === undefined) return new Set(['rejected', 'pending']);
  const out = new Set<'rejected' | 'pending'>();
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (part === 'none') continue;
    if (part !== 'rejected' && part !== 'pending') return part;
    out.add(part);
  }
  return out;
}
