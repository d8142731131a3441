import { PRIORITY_NAMES, type PriorityName } from '@spm/db/vocabulary';
import { hasRole, type Role } from '../api/roles';

const LABELS: Record<PriorityName, string> = {
  urgent: 'Urgent',
  high: 'High',
  normal: 'Normal',
  low: 'Low',
};

/** The priorities a role may choose: approvers and admins any, users normal or low (the API enforces the same). */
export function allowedPriorities(role: Role | undefined): PriorityName[] {
  return hasRole(role, 'approver') ? [...PRIORITY_NAMES] : ['normal', 'low'];
}

export function priorityLabel(p: PriorityName): string {
  return LABELS[p] ?? p;
}

/** A labelled select of the priorities `role` may choose. */
export function PrioritySelect({
  id,
  value,
  role,
  disabled,
  onChange,
}: {
  id: string;
  value: PriorityName;
  role: Role | undefined;
  disabled?: boolean;
  onChange(p: PriorityName): void;
}) {
  const options = allowedPriorities(role);
  // A request raised by an approver stays shown as it is, even to a user who may not choose that level.
  const shown = options.includes(value) ? options : [value, ...options];
  return (
    <select id={id} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value as PriorityName)}>
      {shown.map((p) => (
        <option key={p} value={p} disabled={!options.includes(p)}>
          {priorityLabel(p)}
        </option>
      ))}
    </select>
  );
}
