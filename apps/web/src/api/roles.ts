import { hasRole as atLeast, type Role } from '@spm/db/vocabulary';

export type { Role };

/** True when a signed-in user's role is at least `min`. The UI only hides what the API refuses anyway. */
export function hasRole(role: Role | undefined, min: Role): boolean {
  return role !== undefined && atLeast(role, min);
}
