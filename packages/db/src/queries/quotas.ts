import { sql } from 'kysely';
import type { Transaction } from 'kysely';
import type { Database } from '../schema.js';
import { AppError } from '../errors.js';
import { CHECKPOINTS, WORK_STATUSES } from '../status.js';

/** Per-user limits on what one person may have waiting for the workers (admins have none). */
export interface UserQuota {
  /** USER_MAX_OPEN_REQUESTS: requests that still have packages waiting for a worker or being worked on. */
  maxOpenRequests: number;
  /** USER_MAX_QUEUED_PACKAGES: packages those requests put in the queue that are not yet settled. */
  maxQueuedPackages: number;
}

/** How long a client over its quota is told to wait: the queue drains in minutes, not seconds. */
export const QUOTA_RETRY_AFTER_SECONDS = 60;

const checkpointList = sql.raw(CHECKPOINTS.map((s) => `'${s}'`).join(', '));
const workList = sql.raw(WORK_STATUSES.map((s) => `'${s}'`).join(', '));
// Any constant distinct from other advisory locks: the first half of a two-key lock on the user id.
const QUOTA_LOCK_NAMESPACE = 0x73706d71;

/** What a user has in the queue now: packages their requests queued that no worker has settled, and those requests. */
export async function userQueueUsage(
  trx: Transaction<Database>,
  userId: number,
): Promise<{ openRequests: number; queuedPackages: number }> {
  // Two index scans (the lane index for waiting packages, the status index for the few in flight).
  const r = await sql<{ open_requests: number; queued: number }>`
    WITH mine AS (SELECT id FROM requests WHERE requestor_id = ${userId}), q AS (
      SELECT request_id FROM package_status WHERE request_id IN (SELECT id FROM mine) AND status IN (${checkpointList})
      UNION ALL
      SELECT request_id FROM package_status WHERE request_id IN (SELECT id FROM mine) AND status IN (${workList})
    )
    SELECT count(DISTINCT request_id)::int AS open_requests, count(*)::int AS queued FROM q
  `.execute(trx);
  return { openRequests: r.rows[0]!.open_requests, queuedPackages: r.rows[0]!.queued };
}

function overQuota(code: string, setting: string, message: string, details: Record<string, number>): AppError {
  return new AppError(code, message, {
    status: 429,
    details: { setting, ...details },
    headers: { 'retry-after': String(QUOTA_RETRY_AFTER_SECONDS) },
  });
}

/**
 * Inside the upload's transaction, before anything is written: takes a per-user lock (two uploads of one
 * user are counted one after the other) and refuses a new request when the user already has
 * `maxOpenRequests` open or `maxQueuedPackages` queued. Throws AppError 429 ERR_QUOTA_OPEN_REQUESTS /
 * ERR_QUOTA_QUEUED_PACKAGES with `retry-after`. Returns the packages already queued, for {@link checkQueuedAfter}.
 */
export async function checkQuotaBefore(trx: Transaction<Database>, userId: number, quota: UserQuota): Promise<number> {
  await sql`SELECT pg_advisory_xact_lock(${QUOTA_LOCK_NAMESPACE}::int, ${userId}::int)`.execute(trx);
  const usage = await userQueueUsage(trx, userId);
  if (usage.openRequests >= quota.maxOpenRequests) {
    throw overQuota(
      'ERR_QUOTA_OPEN_REQUESTS',
      'USER_MAX_OPEN_REQUESTS',
      `You already have ${usage.openRequests} requests waiting for the workers (USER_MAX_OPEN_REQUESTS=${quota.maxOpenRequests}): try again when one has been processed, or ask an admin.`,
      { limit: quota.maxOpenRequests, open_requests: usage.openRequests },
    );
  }
  if (usage.queuedPackages >= quota.maxQueuedPackages) {
    throw overQuota(
      'ERR_QUOTA_QUEUED_PACKAGES',
      'USER_MAX_QUEUED_PACKAGES',
      `You already have ${usage.queuedPackages} packages waiting for the workers (USER_MAX_QUEUED_PACKAGES=${quota.maxQueuedPackages}): try again when they have been processed, or ask an admin.`,
      { limit: quota.maxQueuedPackages, queued_packages: usage.queuedPackages },
    );
  }
  return usage.queuedPackages;
}

/** After the new packages are queued (same transaction): refuses the upload when they take the user over the limit. */
export function checkQueuedAfter(queuedBefore: number, added: number, quota: UserQuota): void {
  if (queuedBefore + added <= quota.maxQueuedPackages) return;
  throw overQuota(
    'ERR_QUOTA_QUEUED_PACKAGES',
    'USER_MAX_QUEUED_PACKAGES',
    `This lockfile would queue ${added} new packages beside the ${queuedBefore} you already have waiting (USER_MAX_QUEUED_PACKAGES=${quota.maxQueuedPackages}): try again when they have been processed, or ask an admin.`,
    { limit: quota.maxQueuedPackages, queued_packages: queuedBefore, new_packages: added },
  );
}
