import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { LicenseTier, RejectionKind, Role } from './vocabulary.js';

export type { LicenseTier, RejectionKind, Role } from './vocabulary.js';

/** Timestamps come back as Date and may be written as Date or ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamp column with a database default. */
export type TimestampDefault = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;

export type LinkKind = 'new' | 'existing';
/** The lockfile formats a request may carry (one CHECK constraint in migration 0004). */
export type LockfileFormat = 'npm' | 'yarn-classic' | 'yarn-berry' | 'pnpm';

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  role: Role;
  disabled: Generated<boolean>;
  /** Raised by a password change, disabling and a role change: tokens signed with an older version are refused. */
  token_version: Generated<number>;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

/** Tokens ended by logout, until they would have expired anyway (migration 0005). */
export interface RevokedTokensTable {
  jti: string;
  user_id: number;
  expires_at: Timestamp;
}

/** API tokens (migration 0011): only the SHA-256 of the secret is stored. */
export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  scopes: string[];
  token_hash: string;
  prefix: string;
  /** The user's token version at creation: a raised version ends the token. */
  token_version: number;
  expires_at: Timestamp;
  created_at: TimestampDefault;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface SupportedLicensesTable {
  id: Generated<number>;
  spdx_id: string;
  name: string;
  tier: LicenseTier;
  notes: string | null;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

export interface RequestsTable {
  id: Generated<number>;
  application_name: string;
  application_version: string;
  requestor_id: number | null;
  /** npm's JSON as submitted; the text of a yarn.lock or pnpm-lock.yaml as a JSON string. */
  lockfile: Json;
  lockfile_version: number;
  lockfile_format: ColumnType<LockfileFormat, LockfileFormat | undefined, LockfileFormat>;
  /** Lower runs sooner (see PRIORITIES in vocabulary); the packages' claim order follows it. */
  priority: Generated<number>;
  package_count: number;
  new_count: number;
  existing_count: number;
  created_at: TimestampDefault;
  /** When the request's `request.settled` webhook event was written (migration 0020). */
  settled_notified_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface PackagesTable {
  id: Generated<number>;
  name: string;
  version: string;
  /** SRI from the lockfile (may be null for very old lockfiles). */
  integrity: string | null;
  /** The lockfile's `resolved` URL: recorded for reference, never fetched. */
  resolved: string | null;
  /** The licence as declared in the lockfile entry (string or legacy JSON form, serialised). */
  declared_license: string | null;
  created_at: TimestampDefault;
  /** spm_semver_key(version), computed by the database: sorts as semver precedence (null: not semver). */
  version_key: ColumnType<string | null, never, never>;
}

export interface RequestPackagesTable {
  request_id: number;
  package_id: number;
  link: LinkKind;
  dev: boolean;
  optional: boolean;
  /** The package's name and version, copied (they never change) so a request's links are walked by name. */
  package_name: string;
  package_version: string;
  /** Yarn Berry's checksum of its zip of the package, as the lockfile says; never used to verify the tarball. */
  yarn_checksum: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PackageStatusTable {
  package_id: number;
  status: string;
  attempts: Generated<number>;
  run_at: TimestampDefault;
  priority: Generated<number>;
  /** The request that queued the package: its lane in the fair claim (migration 0010). */
  request_id: ColumnType<number | null, number | null | undefined, number | null>;
  locked_by: string | null;
  locked_until: Timestamp | null;
  stage_started_at: Timestamp | null;
  last_error: string | null;
  rejection_kind: RejectionKind | null;
  rejection_reason: string | null;
  /** The checkpoint the package was at when it was rejected; manual retry returns it there. */
  rejected_from: string | null;
  license_expression: string | null;
  license_tier: string | null;
  license_score: number | null;
  license_flags: ColumnType<string[], string[], string[]>;
  security_score: number | null;
  scan_state: string | null;
  checksum: string | null;
  size_bytes: number | null;
  storage_key: string | null;
  registry_integrity: string | null;
  approved_by: number | null;
  approved_at: Timestamp | null;
  rejected_by: number | null;
  rejected_at: Timestamp | null;
  published_at: Timestamp | null;
  published_to: string | null;
  stuck_resets: Generated<number>;
  retries: Generated<number>;
  /** The policy decision (migration 0006): which version and rule decided, the outcome and why. */
  policy_version: number | null;
  policy_rule: string | null;
  policy_outcome: 'approve' | 'warn' | 'hold' | 'reject' | 'wait' | null;
  policy_reason: string | null;
  policy_decision: Json | null;
  /** The policy_changes generation the decision saw; pending packages decided before a later change are evaluated again. */
  policy_generation: number | null;
  policy_evaluated_at: Timestamp | null;
  cooldown_until: Timestamp | null;
  /** The registry's publication time (`time[version]`) and deprecation of this version, as last read. */
  registry_published_at: Timestamp | null;
  registry_deprecated: boolean | null;
  cooldown_released_by: string | null;
  cooldown_release_reason: string | null;
  cooldown_released_at: Timestamp | null;
  /** The deprecation message this version carries on the target registry (null: none). */
  target_deprecation: Generated<string | null>;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

export interface PolicyVersionsTable {
  version: number;
  document: Json;
  comment: string | null;
  created_by: number | null;
  created_by_username: string | null;
  created_at: TimestampDefault;
}

export interface WaiversTable {
  id: Generated<number>;
  package_name: string;
  version_range: string;
  kind: 'advisory' | 'signal' | 'license';
  subject: string;
  reason: string;
  owner: string;
  expires_at: Timestamp;
  created_by: number | null;
  created_by_username: string | null;
  created_at: TimestampDefault;
  revoked_at: Timestamp | null;
  revoked_by_username: string | null;
}

export interface PolicyChangesTable {
  generation: Generated<number>;
  kind: string;
  ref: string | null;
  created_at: TimestampDefault;
}

export interface SecurityScansTable {
  id: Generated<number>;
  package_id: number;
  scanners: Json;
  critical: number;
  high: number;
  medium: number;
  low: number;
  info: number;
  findings: Json;
  malware: boolean;
  score: number;
  duration_ms: number;
  created_at: TimestampDefault;
}

export interface PackageEventsTable {
  id: Generated<number>;
  package_id: number;
  from_status: string | null;
  to_status: string;
  actor: string;
  actor_kind: 'worker' | 'user' | 'system';
  reason: string | null;
  attempt: number | null;
  details: Json | null;
  created_at: TimestampDefault;
}

export interface AdvisoriesTable {
  id: string;
  modified: Timestamp;
  published: Timestamp | null;
  withdrawn: Timestamp | null;
  aliases: ColumnType<string[], string[], string[]>;
  summary: string | null;
  severity: string | null;
  cvss_vector: string | null;
  malware: boolean;
  raw: Json;
  imported_at: TimestampDefault;
}

export interface AdvisoryAffectedTable {
  id: Generated<number>;
  advisory_id: string;
  package_name: string;
  ranges: Json;
  versions: ColumnType<string[], string[], string[]>;
  fixed_versions: ColumnType<string[], string[], string[]>;
}

export interface WorkersTable {
  id: string;
  hostname: string;
  pid: number;
  version: string | null;
  started_at: TimestampDefault;
  last_heartbeat: TimestampDefault;
  stopped_at: Timestamp | null;
  in_flight: Generated<number>;
}

export interface AuditLogTable {
  id: Generated<number>;
  actor_id: number | null;
  actor_username: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Json | null;
  ip: string | null;
  created_at: TimestampDefault;
}

/** A webhook endpoint registered by an admin (migration 0020). */
export interface WebhooksTable {
  id: Generated<number>;
  url: string;
  secret: string;
  events: ColumnType<string[], string[], string[]>;
  description: string | null;
  enabled: Generated<boolean>;
  created_by: number | null;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

/** The outbox: one row per event, written in the transaction that caused it. */
export interface WebhookEventsTable {
  id: Generated<string>;
  type: string;
  ordering_key: string;
  package_id: number | null;
  request_id: number | null;
  payload: Json;
  created_at: TimestampDefault;
}

/** One event to one endpoint: delivered by the worker, retried with backoff, redeliverable. */
export interface WebhookDeliveriesTable {
  id: Generated<string>;
  webhook_id: number;
  event_id: string;
  ordering_key: string;
  status: ColumnType<'pending' | 'delivered' | 'failed', 'pending' | undefined, 'pending' | 'delivered' | 'failed'>;
  attempts: Generated<number>;
  next_attempt_at: TimestampDefault;
  locked_until: Timestamp | null;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Timestamp | null;
  delivered_at: Timestamp | null;
  created_at: TimestampDefault;
}

/** Key intervals of one affected entry, written by a trigger on advisory_affected (migration 0021). */
export interface AdvisoryIntervalsTable {
  affected_id: number;
  advisory_id: string;
  package_name: string;
  lo_key: string;
  hi_key: string | null;
  hi_inclusive: boolean;
}

/** An advisory matched on an approved or published version after its approval. */
export interface AdvisoryFindingsTable {
  id: Generated<number>;
  package_id: number;
  advisory_id: string;
  action: 'flag' | 'quarantine';
  first_matched_at: TimestampDefault;
  matched_at: TimestampDefault;
  resolved_at: Timestamp | null;
  resolved_reason: string | null;
  release_waiver_id: number | null;
}

/** One scheduled advisory sync. */
export interface AdvisorySyncRunsTable {
  id: Generated<number>;
  worker_id: string | null;
  source: string;
  started_at: TimestampDefault;
  finished_at: Timestamp | null;
  outcome: ColumnType<string, string | undefined, string>;
  http_status: number | null;
  etag: string | null;
  last_modified: string | null;
  bytes: number | null;
  read: number | null;
  written: number | null;
  unchanged: number | null;
  skipped: number | null;
  rejected: number | null;
  matched: number | null;
  newly_affected: number | null;
  quarantined: number | null;
  resolved: number | null;
  duration_ms: number | null;
  error: string | null;
}

export interface Database {
  users: UsersTable;
  supported_licenses: SupportedLicensesTable;
  requests: RequestsTable;
  packages: PackagesTable;
  request_packages: RequestPackagesTable;
  package_status: PackageStatusTable;
  security_scans: SecurityScansTable;
  package_events: PackageEventsTable;
  advisories: AdvisoriesTable;
  advisory_affected: AdvisoryAffectedTable;
  workers: WorkersTable;
  audit_log: AuditLogTable;
  revoked_tokens: RevokedTokensTable;
  api_tokens: ApiTokensTable;
  policy_versions: PolicyVersionsTable;
  waivers: WaiversTable;
  policy_changes: PolicyChangesTable;
  webhooks: WebhooksTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  advisory_intervals: AdvisoryIntervalsTable;
  advisory_findings: AdvisoryFindingsTable;
  advisory_sync_runs: AdvisorySyncRunsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SupportedLicense = Selectable<SupportedLicensesTable>;
export type PackageRow = Selectable<PackagesTable>;
export type PackageStatusRow = Selectable<PackageStatusTable>;
export type PackageEvent = Selectable<PackageEventsTable>;
export type SecurityScan = Selectable<SecurityScansTable>;
export type Advisory = Selectable<AdvisoriesTable>;
export type WorkerRow = Selectable<WorkersTable>;
export type AuditEntry = Selectable<AuditLogTable>;
