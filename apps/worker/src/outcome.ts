import { completeStage, rejectHeldPackage, type ClaimedPackage, type DB } from '@spm/db';
import type { StageOutcome } from './stages/types.js';

/**
 * Writes a stage's outcome for a package this worker holds, through the fenced, lease-checked
 * completion: the transition, its events, the patch and the stage's scan, all or nothing. Returns
 * false, having written nothing, when the lease was lost (another worker owns the package now).
 * `notify: false` skips the wake-up when the caller claims the next stage itself.
 */
export async function recordOutcome(
  db: DB,
  pkg: Pick<ClaimedPackage, 'packageId' | 'status' | 'stage'>,
  workerId: string,
  r: StageOutcome,
  opts: { notify?: boolean } = {},
): Promise<boolean> {
  const base = { packageId: pkg.packageId, workerId, work: pkg.status };
  if (r.kind === 'done') {
    return completeStage(db, {
      ...base,
      to: r.to ?? pkg.stage.done,
      via: r.via,
      patch: r.patch,
      reason: r.reason ?? null,
      details: r.details,
      scan: r.scan,
      runAt: r.runAt,
      notify: opts.notify,
    });
  }
  return rejectHeldPackage(db, {
    ...base,
    kind: r.rejection,
    reason: r.reason,
    patch: r.patch,
    details: r.details,
    scan: r.scan,
  });
}
