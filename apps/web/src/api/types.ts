/* The shapes of the API's answers the web app reads (see /docs for the full schemas). */
import type { Role } from './roles';

export interface User {
  id: number;
  username: string;
  role: Role;
}

export interface AdminUser extends User {
  disabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface Page {
  total: number;
  limit: number;
  offset: number;
  page: number;
  page_size: number;
}

export interface RequestSummary {
  id: number;
  application_name: string;
  application_version: string;
  requestor_id: number | null;
  requestor: string | null;
  lockfile_format: string;
  lockfile_version: number;
  /** Claim priority: urgent, high, normal or low. */
  priority: 'urgent' | 'high' | 'normal' | 'low';
  package_count: number;
  new_packages: number;
  existing_packages: number;
  status_counts: Record<string, number>;
  progress_percent: number;
  created_at: string;
}

export interface Vulnerabilities {
  critical: number;
  high: number;
  medium: number;
  low: number;
  info: number;
}

export interface Rejection {
  kind: string | null;
  reason: string | null;
}

export interface LicenseInfo {
  declared_license: string | null;
  license_expression: string | null;
  license_tier: string | null;
  license_score: number | null;
  license_flags: string[];
}

export interface RequestPackage extends LicenseInfo {
  package_id: number;
  name: string;
  version: string;
  link: 'new' | 'existing';
  dev: boolean;
  optional: boolean;
  status: string;
  progress_percent: number;
  attempts: number;
  security_score: number | null;
  scan: { vulnerabilities: Vulnerabilities; malware: boolean; findings_count: number; score: number } | null;
  highest_severity: string | null;
  signals: string[];
  last_error: string | null;
  rejection: Rejection | null;
  published_at: string | null;
  updated_at: string;
}

export interface RequestDetail extends Partial<Page> {
  request: RequestSummary;
  packages?: RequestPackage[];
}

export interface ProcessingSummary {
  request_id: number;
  done: boolean;
  progress_percent: number;
  summary: {
    total: number;
    by_status: Record<string, number>;
    settled: number;
    in_progress: number;
    pending_approval: number;
    published: number;
    rejected: number;
    with_errors: number;
  };
}

/** A scan finding as the worker stores it (apps/worker/src/scan/types.ts). */
export interface Finding {
  id: string;
  source: string;
  severity: string;
  title: string;
  file?: string;
  /** 1-based line in `file`, when the scanner knows it. */
  line?: number;
  evidence?: string;
  explanation?: string;
  aliases?: string[];
  fixedVersions?: string[];
  url?: string;
  malware?: boolean;
}

export interface PackageEvent {
  id: number;
  from: string | null;
  to: string;
  actor: string;
  actor_kind: string;
  reason: string | null;
  attempt: number | null;
  details: unknown;
  at: string;
}

export interface Advisory {
  id: string;
  aliases: string[];
  summary: string | null;
  severity: string | null;
  malware: boolean;
  affected_ranges: string[];
  fixed_versions: string[];
  url: string | null;
  published: string | null;
  modified: string;
}

export interface PackageReport {
  package: {
    id: number;
    name: string;
    version: string;
    integrity: string | null;
    resolved: string | null;
    created_at: string;
  };
  status: {
    status: string;
    progress_percent: number;
    attempts: number;
    next_attempt_at: string;
    last_error: string | null;
    rejection: Rejection | null;
    checksum: string | null;
    size_bytes: number | null;
    registry_integrity: string | null;
    approved_by: string | null;
    approved_at: string | null;
    rejected_by: string | null;
    rejected_at: string | null;
    published_at: string | null;
    published_to: string | null;
    stuck_resets: number;
    retries: number;
    updated_at: string;
  };
  license: LicenseInfo;
  /** The approval policy's decision; null before the policy decided. */
  policy: PolicyDecision | null;
  security: {
    security_score: number | null;
    scan_state: string | null;
    scan: {
      id: number;
      scanners: unknown;
      vulnerabilities: Vulnerabilities;
      findings: unknown;
      malware: boolean;
      score: number;
      duration_ms: number;
      scanned_at: string;
    } | null;
  };
  request_ids: number[];
  requests: Array<{
    id: number;
    application_name: string;
    application_version: string;
    requestor: string | null;
    link: string;
    created_at: string;
  }>;
  advisories: Advisory[];
  events: PackageEvent[];
}

export interface PendingPackage extends LicenseInfo {
  package_id: number;
  name: string;
  version: string;
  security_score: number | null;
  scan_state: string | null;
  scan: {
    vulnerabilities: Vulnerabilities;
    malware: boolean;
    score: number;
    findings_count: number;
    top_findings: Finding[];
    scanned_at: string;
  } | null;
  request_ids: number[];
  requested_by: string[];
  waiting_since: string;
}

export interface Decision {
  package_id: number;
  outcome: 'approved' | 'rejected' | 'skipped';
  status: string;
}

export interface License {
  id: number;
  spdx_id: string;
  name: string;
  tier: string;
  notes: string | null;
  created_at: string;
  updated_at: string;
}

export interface AuditEntry {
  id: number;
  actor_id: number | null;
  actor_username: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: unknown;
  ip: string | null;
  created_at: string;
}

export interface SecondsStats {
  count: number;
  avg: number;
  p50: number;
  p95: number;
  max: number;
}

export interface ProcessingStatus {
  counts: Record<string, number>;
  total: number;
  queue_depth: number;
  runnable_now: number;
  in_progress: number;
  oldest_runnable_age_seconds: number | null;
  stuck_resets: number;
  retries: number;
  workers: Array<{
    /** id, hostname and pid: admins only. */
    id?: string;
    hostname?: string;
    pid?: number;
    started_at: string;
    last_heartbeat: string;
    heartbeat_age_seconds: number;
    in_flight: number;
    alive: boolean;
  }>;
  stage_timings: {
    events: number;
    since: string | null;
    stages: Array<{ stage: string; work: SecondsStats | null; wait: SecondsStats | null }>;
  };
  recent_activity: Array<{
    package_id: number;
    name: string;
    version: string;
    from: string | null;
    to: string;
    actor: string;
    reason: string | null;
    at: string;
  }>;
}

export interface UploadResult {
  request_id: number;
  application_name: string;
  application_version: string;
  lockfile_format: string;
  lockfile_version: number;
  package_count: number;
  new_packages: number;
  existing_packages: number;
  skipped_entries: number;
}

/** How the approval policy decided a package (GET /api/packages/:id/report, `policy`). */
export interface PolicyDecision {
  version: number;
  rule: string | null;
  outcome: string;
  reason: string;
  explanation: string;
  evaluated_at: string | null;
  cooldown_until: string | null;
  registry_published_at: string | null;
  registry_deprecated: boolean | null;
  cooldown_release: { by: string; reason: string | null; at: string | null } | null;
  matched: unknown;
  waived: unknown;
  expired_waivers: unknown;
}

/** One of the signed-in person's API tokens (never its secret, except once in the creation answer). */
export interface ApiToken {
  id: number;
  name: string;
  scopes: string[];
  prefix: string;
  created_at: string;
  expires_at: string;
  last_used_at: string | null;
}

export interface PolicyRule {
  id: string;
  action: string;
  description?: string;
  when: Record<string, unknown>;
  unless?: Record<string, unknown>;
}

export interface PolicyDocument {
  rules: PolicyRule[];
  default_action: string;
  cooldown: { minimum_age_hours: number; exceptions: string[] };
}

export interface PolicyVersion {
  version: number;
  document: PolicyDocument;
  comment: string | null;
  created_by: string | null;
  created_at: string;
}

export interface PolicyDryRun {
  evaluated: number;
  outcomes: Record<'approve' | 'warn' | 'hold' | 'reject' | 'wait', number>;
  changed: number;
  would_reject_let_through: number;
  items: Array<{
    package_id: number;
    name: string;
    version: string;
    status: string;
    would_be: string;
    current: { version: number | null; outcome: string | null; rule: string | null };
    draft: { outcome: string; rule: string | null; reason: string; until: string | null };
  }>;
  truncated: boolean;
  evaluated_at: string;
}

/** A version held back because an advisory arrived after its approval (GET /api/approvals/quarantine). */
export interface QuarantinedPackage {
  package_id: number;
  name: string;
  version: string;
  status: string;
  advisories: Array<{ id: string; summary: string | null }>;
}

/** An advisory that matched an approved or published version after its approval. */
export interface AdvisoryFinding {
  package_id: number;
  name: string;
  version: string;
  status: string;
  advisory_id: string;
  summary: string | null;
  severity: string | null;
  malware: boolean;
  action: 'flag' | 'quarantine';
  quarantining: boolean;
  first_matched_at: string;
  resolved_at: string | null;
  resolved_reason: string | null;
  release_waiver_id: number | null;
  release_expires_at: string | null;
}

/** Which requests, applications and requestors include affected versions (GET /api/impact/…). */
export interface Impact {
  findings: AdvisoryFinding[];
  requests: Array<{
    id: number;
    application_name: string;
    application_version: string;
    requestor: string | null;
    created_at: string;
    package_ids: number[];
  }>;
  truncated: boolean;
  applications: Array<{ name: string; version: string }>;
  requestors: Array<string | null>;
}

export interface PackageImpact extends Impact {
  package: {
    id: number;
    name: string;
    version: string;
    status: string;
    quarantined_by: Array<{ id: string; summary: string | null }> | null;
  };
}

export interface AdvisoryImpact extends Impact {
  advisory: {
    id: string;
    aliases: string[];
    summary: string | null;
    severity: string | null;
    malware: boolean;
    withdrawn: string | null;
  };
}
