/*
 * The words the API, the worker and the web app share: statuses and stages, licence tiers, severities.
 * Pure (no database code), so the web app imports it too (`@spm/db/vocabulary`).
 */
export * from './status.js';

/** The licence policy's tiers, most permissive first. */
export const LICENSE_TIERS = ['always_allowed', 'allowed', 'avoid', 'blocked'] as const;
export type LicenseTier = (typeof LICENSE_TIERS)[number];

/** Finding severities, most severe first. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Who rejected a package: the policy, an error that could not be overcome, or a person. */
export const REJECTION_KINDS = ['policy', 'error', 'approver'] as const;
export type RejectionKind = (typeof REJECTION_KINDS)[number];

/** The web app's session (see apps/api/src/session.ts): an httpOnly cookie, and its CSRF token for writes. */
export const SESSION_COOKIE = 'spm_session';
export const CSRF_COOKIE = 'spm_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/**
 * Request priorities by name, and the number stored (lower is claimed sooner). Users may submit at
 * normal or low; approvers and admins at any.
 */
export const PRIORITIES = { urgent: -20, high: -10, normal: 0, low: 10 } as const;
export type PriorityName = keyof typeof PRIORITIES;
export const PRIORITY_NAMES = Object.keys(PRIORITIES) as PriorityName[];

/** The name of a stored priority (the nearest named level at or below its urgency). */
export function priorityName(value: number): PriorityName {
  if (value <= PRIORITIES.urgent) return 'urgent';
  if (value <= PRIORITIES.high) return 'high';
  if (value <= PRIORITIES.normal) return 'normal';
  return 'low';
}

/** Account roles, least first: each can do what the ones before it can. */
export const ROLES = ['user', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when `role` is at least `min` (user < approver < admin). */
export function hasRole(role: Role, min: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(min);
}
