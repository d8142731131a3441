import { Type } from '@sinclair/typebox';
import {
  ALL_STATUSES,
  AppError,
  hasRole,
  LICENSE_TIERS,
  PRIORITIES,
  PRIORITY_NAMES,
  priorityName,
  type PriorityName,
  type Role,
  progressPercent,
  REQUEST_PACKAGE_SORTS,
  REQUEST_STATES,
  SEVERITIES,
  type RequestPackage,
  type RequestSummary,
} from '@spm/db';
import { Nullable, Pagination, SearchText, Timestamp } from './common.js';
import { LicenseInfo, Rejection, ScanSummarySchema, scanSummaryJson } from './packages.js';

const literals = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  );

export const StatusName = literals(ALL_STATUSES);

export const Priority = literals(
  PRIORITY_NAMES,
  'Claim priority: urgent, high, normal (default) or low. Users may choose normal or low; approvers and admins any.',
);

/** The stored number of a named priority, refused (403) when the role may not raise a request that far. */
export function allowedPriority(role: Role, name: PriorityName): number {
  const value = PRIORITIES[name];
  if (value < PRIORITIES.normal && !hasRole(role, 'approver')) {
    throw new AppError(
      'ERR_PRIORITY_NOT_ALLOWED',
      `Only approvers and admins may raise a request's priority above normal (asked: ${name}).`,
      { status: 403 },
    );
  }
  return value;
}
export const LicenseTierFilter = literals([...LICENSE_TIERS, 'unknown'], 'A licence tier, or unknown (no tier)');
export const MinSeverity = literals(
  SEVERITIES.filter((s) => s !== 'info'),
  'Only packages whose latest scan has a finding at this severity or above (or malware)',
);

export const RequestSchema = Type.Object({
  id: Type.Integer(),
  application_name: Type.String(),
  application_version: Type.String(),
  requestor_id: Nullable(Type.Integer()),
  requestor: Nullable(Type.String()),
  lockfile_format: Type.String({ description: 'npm, yarn-classic, yarn-berry or pnpm' }),
  lockfile_version: Type.Integer(),
  priority: literals(PRIORITY_NAMES, 'Claim priority of the request'),
  package_count: Type.Integer(),
  new_packages: Type.Integer(),
  existing_packages: Type.Integer(),
  status_counts: Type.Record(Type.String(), Type.Integer()),
  progress_percent: Type.Integer({ description: 'Average progress of its packages through the pipeline' }),
  created_at: Timestamp,
});

/** Average progress of packages counted per status (0–100; 100 for an empty request). */
export function progressOfCounts(counts: Record<string, number>): number {
  let total = 0;
  let sum = 0;
  for (const [status, n] of Object.entries(counts)) {
    total += n;
    sum += n * progressPercent(status);
  }
  return total === 0 ? 100 : Math.floor(sum / total);
}

export function requestJson(r: RequestSummary) {
  return {
    id: r.id,
    application_name: r.applicationName,
    application_version: r.applicationVersion,
    requestor_id: r.requestorId,
    requestor: r.requestorUsername,
    lockfile_format: r.lockfileFormat,
    lockfile_version: r.lockfileVersion,
    priority: priorityName(r.priority),
    package_count: r.packageCount,
    new_packages: r.newCount,
    existing_packages: r.existingCount,
    status_counts: r.statusCounts,
    progress_percent: progressOfCounts(r.statusCounts),
    created_at: r.createdAt,
  };
}

export const RequestListQuery = Type.Object({
  ...Pagination.properties,
  q: Type.Optional(SearchText),
  requestor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$',
      description: 'Username (approvers and admins; a user always sees their own)',
    }),
  ),
  state: Type.Optional(
    literals(
      REQUEST_STATES,
      'processing: some package is with the workers; pending_approval: some package waits for a person; rejected: some package was rejected; done: every package is Published or Rejected',
    ),
  ),
});

export const RequestPackagesQuery = Type.Object({
  ...Pagination.properties,
  summary: Type.Optional(Type.Boolean({ description: 'Only the request and its counts, no packages' })),
  status: Type.Optional(Type.Array(StatusName, { maxItems: ALL_STATUSES.length, description: 'Repeatable' })),
  q: Type.Optional(SearchText),
  license_tier: Type.Optional(Type.Array(LicenseTierFilter, { maxItems: 5, description: 'Repeatable' })),
  severity: Type.Optional(MinSeverity),
  link: Type.Optional(literals(['new', 'existing'] as const)),
  sort: Type.Optional(literals(REQUEST_PACKAGE_SORTS)),
  order: Type.Optional(literals(['asc', 'desc'] as const)),
});

export const RequestPackageSchema = Type.Object({
  package_id: Type.Integer(),
  name: Type.String(),
  version: Type.String(),
  integrity: Nullable(Type.String()),
  link: literals(['new', 'existing'] as const),
  dev: Type.Boolean(),
  optional: Type.Boolean(),
  status: Type.String(),
  progress_percent: Type.Integer(),
  attempts: Type.Integer(),
  ...LicenseInfo,
  security_score: Nullable(Type.Integer()),
  scan_state: Nullable(Type.String()),
  scan: Nullable(ScanSummarySchema),
  highest_severity: Nullable(
    Type.String({ description: 'malware, critical, high, medium, low, info, or none; null when not scanned' }),
  ),
  signals: Type.Array(Type.String(), { description: 'Supply-chain signal codes of the latest scan' }),
  last_error: Nullable(Type.String()),
  rejection: Rejection,
  published_at: Nullable(Timestamp),
  updated_at: Timestamp,
  decision: Nullable(
    Type.String({ description: 'Which rule of which policy version decided, or what the package waits for' }),
  ),
  cooldown_until: Nullable(Timestamp),
});

export function requestPackageJson(p: RequestPackage) {
  return {
    package_id: p.packageId,
    name: p.name,
    version: p.version,
    integrity: p.integrity,
    link: p.link,
    dev: p.dev,
    optional: p.optional,
    status: p.status,
    progress_percent: progressPercent(p.status),
    attempts: p.attempts,
    declared_license: p.declaredLicense,
    license_expression: p.licenseExpression,
    license_tier: p.licenseTier,
    license_score: p.licenseScore,
    license_flags: p.licenseFlags,
    security_score: p.securityScore,
    scan_state: p.scanState,
    scan: scanSummaryJson(p.scan),
    highest_severity: p.highestSeverity,
    signals: p.signals,
    last_error: p.lastError,
    rejection: p.rejectionKind || p.rejectionReason ? { kind: p.rejectionKind, reason: p.rejectionReason } : null,
    published_at: p.publishedAt,
    updated_at: p.updatedAt,
    decision: p.decision,
    cooldown_until: p.cooldownUntil,
  };
}
