import type { LockfileFormat, LockfilePackage } from '@spm/db';
import type { SkipReason } from './entry.js';

/** The lockfile formats accepted, told apart by content (see detect.ts); one list, in @spm/db's schema. */
export type { LockfileFormat } from '@spm/db';

export interface ParsedLockfile {
  format: LockfileFormat;
  /**
   * The format's own version: npm 1–3, yarn classic 1, Yarn Berry's `__metadata.version` (4 and up),
   * pnpm's lockfileVersion major (6 or 9).
   */
  lockfileVersion: number;
  /** From the lockfile where it says (npm's root entry, Yarn Berry's root workspace); null when absent. */
  applicationName: string | null;
  applicationVersion: string | null;
  /** Registry packages, one per name@version (first occurrence wins; flags merged). */
  packages: LockfilePackage[];
  /** Entries deliberately not vetted, named as the format names them: workspaces, links, bundled, patches. */
  skipped: Array<{ path: string; reason: SkipReason }>;
}
