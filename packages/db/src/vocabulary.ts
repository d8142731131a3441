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

/** Account roles, least first: each can do what the ones before it can. */
export const ROLES = ['user', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when `role` is at least `min` (user < approver < admin). */
export function hasRole(role: Role, min: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(min);
}
