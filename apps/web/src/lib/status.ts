import { Status, WAITING_STATUSES, WORK_STATUSES } from '@spm/db/vocabulary';

export type Tone = 'neutral' | 'info' | 'success' | 'warning' | 'danger' | 'critical';

export type StatusGroup = 'queued' | 'working' | 'waiting' | 'published' | 'rejected';

/** How a package status reads: a group for filters and counts, a tone, and an icon next to the word. */
export interface StatusLook {
  group: StatusGroup;
  tone: Tone;
  icon: string;
}

const GROUP_LOOK: Record<StatusGroup, { tone: Tone; icon: string }> = {
  published: { tone: 'success', icon: '✓' },
  rejected: { tone: 'danger', icon: '✕' },
  waiting: { tone: 'warning', icon: '‖' },
  working: { tone: 'info', icon: '↻' },
  queued: { tone: 'neutral', icon: '○' },
};

export function statusGroup(status: string): StatusGroup {
  if (status === Status.Published) return 'published';
  if (status === Status.Rejected) return 'rejected';
  if ((WAITING_STATUSES as readonly string[]).includes(status)) return 'waiting';
  if ((WORK_STATUSES as readonly string[]).includes(status)) return 'working';
  return 'queued';
}

export function groupLook(group: StatusGroup): StatusLook {
  return { group, ...GROUP_LOOK[group] };
}

export function statusLook(status: string): StatusLook {
  return groupLook(statusGroup(status));
}

/** Counts per status folded into the groups a person thinks in. */
export function groupCounts(byStatus: Record<string, number>) {
  const out = { queued: 0, working: 0, waiting: 0, published: 0, rejected: 0 };
  for (const [status, n] of Object.entries(byStatus)) out[statusGroup(status)] += n;
  return out;
}

export const GROUP_LABELS: Record<StatusGroup, string> = {
  queued: 'Queued',
  working: 'In progress',
  waiting: 'Waiting for approval',
  published: 'Published',
  rejected: 'Rejected',
};

/** The statuses of one group (for filtering a request's packages by group). */
export function statusesOf(group: StatusGroup): string[] {
  return Object.values(Status).filter((s) => statusGroup(s) === group);
}

export function severityTone(severity: string | null | undefined): Tone {
  switch (severity) {
    case 'malware':
    case 'critical':
      return 'critical';
    case 'high':
      return 'danger';
    case 'medium':
      return 'warning';
    case 'low':
      return 'info';
    default:
      return 'neutral';
  }
}

export const TIER_LABELS: Record<string, string> = {
  always_allowed: 'Always allowed',
  allowed: 'Allowed',
  avoid: 'Avoid',
  blocked: 'Blocked',
  unknown: 'Unknown',
};

export function tierTone(tier: string | null | undefined): Tone {
  if (tier === 'always_allowed' || tier === 'allowed') return 'success';
  if (tier === 'blocked') return 'danger';
  return 'warning';
}

/** What a licence flag (license_flags, see the worker's licence policy) means, in words. */
export function describeLicenseFlag(flag: string): string {
  const [kind, value] = [flag.split(':')[0]!, flag.slice(flag.indexOf(':') + 1)];
  switch (kind) {
    case 'missing':
      return 'No licence was declared.';
    case 'unlicensed':
      return 'Declared UNLICENSED: no permission to use it is given.';
    case 'see-license-in':
      return `The licence is in a file (${value}); read it.`;
    case 'unparseable':
      return 'The licence text is not an SPDX expression.';
    case 'corrected':
      return 'The declared text was corrected to an SPDX id.';
    case 'deprecated-id':
      return `${value} is a deprecated SPDX id.`;
    case 'or-later':
      return `${value} or any later version.`;
    case 'exception':
      return `With the exception ${value}.`;
    case 'legacy-object':
    case 'legacy-array':
      return 'Declared in npm’s old licence format.';
    case 'unknown-license':
      return `${value} is not in the licence policy.`;
    case 'avoid':
      return 'A licence in the avoid tier: allowed, but flagged.';
    case 'review':
      return 'Needs a person to review the licence.';
    default:
      return flag;
  }
}
