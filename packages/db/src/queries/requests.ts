import { sql } from 'kysely';
import type { DB } from '../db.js';
import { recordAudit } from './audit.js';
import type { LockfileFormat } from '../schema.js';
import { FINAL_STATUSES, SETTLED_STATUSES, Status } from '../status.js';
import { policySummary, type PolicyColumns, type PolicySummary } from './policy-explain.js';

export interface RequestSummary {
  id: number;
  applicationName: string;
  applicationVersion: string;
  requestorId: number | null;
  requestorUsername: string | null;
  lockfileFormat: LockfileFormat;
  lockfileVersion: number;
  /** Lower runs sooner (PRIORITIES in vocabulary). */
  priority: number;
  packageCount: number;
  newCount: number;
  existingCount: number;
  createdAt: Date;
  /** Packages of this request per current status. */
  statusCounts: Record<string, number>;
}

interface SummaryRow {
  id: number;
  application_name: string;
  application_version: string;
  requestor_id: number | null;
  requestor_username: string | null;
  lockfile_format: LockfileFormat;
  lockfile_version: number;
  priority: number;
  package_count: number;
  new_count: number;
  existing_count: number;
  created_at: Date;
  status_counts: Record<string, number> | null;
}

function toSummary(r: SummaryRow): RequestSummary {
  return {
    id: r.id,
    applicationName: r.application_name,
    applicationVersion: r.application_version,
    requestorId: r.requestor_id,
    requestorUsername: r.requestor_username,
    lockfileFormat: r.lockfile_format,
    lockfileVersion: r.lockfile_version,
    priority: r.priority,
    packageCount: r.package_count,
    newCount: r.new_count,
    existingCount: r.existing_count,
    createdAt: r.created_at,
    statusCounts: r.status_counts ?? {},
  };
}

const requestColumns = sql`r.id, r.application_name, r.application_version, r.requestor_id,
  u.username AS requestor_username, r.lockfile_format, r.lockfile_version, r.priority, r.package_count, r.new_count,
  r.existing_count, r.created_at`;

const summarySelect = sql`
  SELECT ${requestColumns},
         (SELECT jsonb_object_agg(s.status, s.n) FROM (
            SELECT ps.status, count(*)::int AS n
            FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
            WHERE rp.request_id = r.id GROUP BY ps.status) s) AS status_counts
  FROM requests r LEFT JOIN users u ON u.id = r.requestor_id`;

export const REQUEST_STATES = ['processing', 'pending_approval', 'rejected', 'done'] as const;
/**
 * A request's state for filtering: `processing` (some package is still with the workers),
 * `pending_approval` (some package waits for a person), `rejected` (some package was rejected),
 * `done` (every package is Published or Rejected).
 */
export type RequestState = (typeof REQUEST_STATES)[number];

export interface RequestListQuery {
  /** Only this user's requests (what a plain user may see). */
  requestorId?: number;
  /** Only requests by this username (exact, case-insensitive). */
  requestor?: string;
  /** Application name contains this text (case-insensitive). */
  q?: string;
  state?: RequestState;
  limit: number;
  offset: number;
}

function stateCondition(state: RequestState) {
  const anyIn = (statuses: readonly string[]) => sql`EXISTS (
    SELECT 1 FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
    WHERE rp.request_id = r.id AND ps.status = ANY(${[...statuses]}::text[]))`;
  switch (state) {
    case 'processing':
      return sql`EXISTS (
        SELECT 1 FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
        WHERE rp.request_id = r.id AND NOT (ps.status = ANY(${[...SETTLED_STATUSES]}::text[])))`;
    case 'pending_approval':
      return anyIn([Status.PendingApproval]);
    case 'rejected':
      return anyIn([Status.Rejected]);
    case 'done':
      return sql`NOT EXISTS (
        SELECT 1 FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
        WHERE rp.request_id = r.id AND NOT (ps.status = ANY(${[...FINAL_STATUSES]}::text[])))`;
  }
}

/**
 * Requests newest first, each with its packages counted per status, filtered by requestor, application
 * name and state.
 */
export async function listRequests(
  db: DB,
  opts: RequestListQuery,
): Promise<{ total: number; requests: RequestSummary[] }> {
  const conds = [sql`true`];
  if (opts.requestorId !== undefined) conds.push(sql`r.requestor_id = ${opts.requestorId}`);
  if (opts.requestor !== undefined) {
    conds.push(sql`r.requestor_id = (SELECT id FROM users WHERE lower(username) = ${opts.requestor.toLowerCase()})`);
  }
  if (opts.q) conds.push(sql`strpos(lower(r.application_name), ${opts.q.toLowerCase()}) > 0`);
  if (opts.state) conds.push(stateCondition(opts.state));
  const where = sql`WHERE ${sql.join(conds, sql` AND `)}`;
  const [count, rows] = await Promise.all([
    sql<{ n: number }>`SELECT count(*)::int AS n FROM requests r ${where}`.execute(db),
    sql<SummaryRow>`${summarySelect} ${where} ORDER BY r.id DESC LIMIT ${opts.limit} OFFSET ${opts.offset}`.execute(db),
  ]);
  return { total: count.rows[0]!.n, requests: rows.rows.map(toSummary) };
}

/**
 * One request with its packages counted per status; `counts: false` leaves the counts empty (`{}`) for a
 * caller that counts in its own way (a count walks every package of the request: 20,000 rows for a big one).
 */
export async function getRequest(
  db: DB,
  id: number,
  opts: { counts?: boolean } = {},
): Promise<RequestSummary | undefined> {
  const res =
    opts.counts === false
      ? await sql<SummaryRow>`
          SELECT ${requestColumns}, NULL AS status_counts FROM requests r LEFT JOIN users u ON u.id = r.requestor_id
          WHERE r.id = ${id}`.execute(db)
      : await sql<SummaryRow>`${summarySelect} WHERE r.id = ${id}`.execute(db);
  const row = res.rows[0];
  return row && toSummary(row);
}

export interface PackageProcessing {
  packageId: number;
  name: string;
  version: string;
  status: string;
  attempts: number;
  lastError: string | null;
  rejectionKind: string | null;
  rejectionReason: string | null;
  runAt: Date;
  updatedAt: Date;
  /** Seconds spent in each status, from package_events (the current status counts up to now unless final). */
  secondsByStatus: Record<string, number>;
  /** From the first event to the last one (or now, while not final). */
  elapsedSeconds: number;
  /** The latest policy decision (which rule of which version, or what it waits for); null before one. */
  policy: PolicySummary | null;
}

/**
 * Per-package processing state of one request (by name; one page of it with `page`), with the time
 * spent in each status.
 */
export async function getRequestProcessing(
  db: DB,
  requestId: number,
  page?: { limit: number; offset: number },
): Promise<PackageProcessing[]> {
  const finals = sql.join(FINAL_STATUSES.map((s) => sql`${s}`));
  const pkgs = await sql<
    {
      package_id: number;
      name: string;
      version: string;
      status: string;
      attempts: number;
      last_error: string | null;
      rejection_kind: string | null;
      rejection_reason: string | null;
      run_at: Date;
      updated_at: Date;
    } & PolicyColumns
  >`
    WITH page AS (
      -- A walk of request_packages_name_idx: the page is chosen before anything is joined.
      SELECT rp.package_id, rp.package_name AS name, rp.package_version AS version FROM request_packages rp
      WHERE rp.request_id = ${requestId}
      ORDER BY rp.package_name, rp.package_version, rp.package_id
      ${page ? sql`LIMIT ${page.limit} OFFSET ${page.offset}` : sql``}
    )
    SELECT page.package_id, page.name, page.version, ps.status, ps.attempts, ps.last_error, ps.rejection_kind,
           ps.rejection_reason, ps.run_at, ps.updated_at, ps.policy_version, ps.policy_rule, ps.policy_outcome,
           ps.policy_reason, ps.cooldown_until
    FROM page JOIN package_status ps ON ps.package_id = page.package_id
    ORDER BY page.name, page.version, page.package_id
  `.execute(db);
  const ids = pkgs.rows.map((r) => r.package_id);
  if (ids.length === 0) return [];
  const [times, bounds] = await Promise.all([
    sql<{ package_id: number; status: string; seconds: number }>`
      WITH ev AS (
        SELECT e.package_id, e.to_status, e.created_at,
               lead(e.created_at) OVER (PARTITION BY e.package_id ORDER BY e.id) AS next_at
        FROM package_events e
        WHERE e.package_id = ANY(${ids}::bigint[])
      )
      SELECT package_id, to_status AS status,
             sum(extract(epoch FROM coalesce(next_at, now()) - created_at))::float8 AS seconds
      FROM ev
      WHERE NOT (next_at IS NULL AND to_status IN (${finals}))
      GROUP BY package_id, to_status
    `.execute(db),
    // Bounds of each package's history; whether it is final comes from its status already read (a join to
    // package_status here made the planner scan all of it).
    sql<{ package_id: number; to_last: number; to_now: number }>`
      SELECT e.package_id, extract(epoch FROM max(e.created_at) - min(e.created_at))::float8 AS to_last,
             extract(epoch FROM now() - min(e.created_at))::float8 AS to_now
      FROM package_events e
      WHERE e.package_id = ANY(${ids}::bigint[])
      GROUP BY e.package_id
    `.execute(db),
  ]);
  const byPkg = new Map<number, Record<string, number>>();
  for (const t of times.rows) {
    let m = byPkg.get(t.package_id);
    if (!m) byPkg.set(t.package_id, (m = {}));
    m[t.status] = Math.round(Number(t.seconds) * 1000) / 1000;
  }
  const final = new Set(
    pkgs.rows.filter((r) => (FINAL_STATUSES as readonly string[]).includes(r.status)).map((r) => r.package_id),
  );
  const elapsed = new Map(
    bounds.rows.map((b) => [b.package_id, Math.max(0, Number(final.has(b.package_id) ? b.to_last : b.to_now))]),
  );
  return pkgs.rows.map((r) => ({
    packageId: r.package_id,
    name: r.name,
    version: r.version,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    rejectionKind: r.rejection_kind,
    rejectionReason: r.rejection_reason,
    runAt: r.run_at,
    updatedAt: r.updated_at,
    secondsByStatus: byPkg.get(r.package_id) ?? {},
    elapsedSeconds: Math.round((elapsed.get(r.package_id) ?? 0) * 1000) / 1000,
    policy: policySummary(r),
  }));
}

/** True when the user submitted a request that contains the package (what a plain user needs to see it). */
export async function isPackageInUserRequests(db: DB, packageId: number, userId: number): Promise<boolean> {
  const r = await sql<{ one: number }>`
    SELECT 1 AS one FROM request_packages rp JOIN requests r ON r.id = rp.request_id
    WHERE rp.package_id = ${packageId} AND r.requestor_id = ${userId} LIMIT 1
  `.execute(db);
  return r.rows.length > 0;
}

/** The requests that include a package, oldest first (`requestorId`: only that user's). */
export async function requestsIncluding(
  db: DB,
  packageId: number,
  opts: { requestorId?: number } = {},
): Promise<Array<Omit<RequestSummary, 'statusCounts'> & { link: 'new' | 'existing' }>> {
  const res = await sql<Omit<SummaryRow, 'status_counts'> & { link: 'new' | 'existing' }>`
    SELECT r.id, r.application_name, r.application_version, r.requestor_id, u.username AS requestor_username,
           r.lockfile_format, r.lockfile_version, r.priority, r.package_count, r.new_count, r.existing_count,
           r.created_at, rp.link
    FROM request_packages rp JOIN requests r ON r.id = rp.request_id LEFT JOIN users u ON u.id = r.requestor_id
    WHERE rp.package_id = ${packageId}
      ${opts.requestorId === undefined ? sql`` : sql`AND r.requestor_id = ${opts.requestorId}`}
    ORDER BY r.id
    LIMIT 1000
  `.execute(db);
  return res.rows.map((r) => {
    const { statusCounts: _ignored, ...rest } = toSummary({ ...r, status_counts: null });
    return { ...rest, link: r.link };
  });
}

/**
 * Changes a request's priority and re-ranks its packages still in the pipeline: each takes the most
 * urgent priority of the requests that hold it (a package shared with an urgent request stays urgent).
 * Published and Rejected packages keep theirs. Returns the number of packages re-ranked.
 */
export async function setRequestPriority(
  db: DB,
  requestId: number,
  priority: number,
  audit: { actorId: number; actorUsername: string; ip: string | null; from: number },
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await trx.updateTable('requests').set({ priority }).where('id', '=', requestId).execute();
    const res = await sql<{ n: number }>`
      WITH ranked AS (
        SELECT rp.package_id, min(r.priority) AS priority
        FROM request_packages rp JOIN requests r ON r.id = rp.request_id
        WHERE rp.package_id IN (SELECT package_id FROM request_packages WHERE request_id = ${requestId})
        GROUP BY rp.package_id
      ), upd AS (
        UPDATE package_status ps SET priority = ranked.priority
        FROM ranked
        WHERE ps.package_id = ranked.package_id AND ps.priority <> ranked.priority
          AND ps.status NOT IN (${Status.Published}, ${Status.Rejected})
        RETURNING 1
      )
      SELECT count(*)::int AS n FROM upd
    `.execute(trx);
    await recordAudit(trx, {
      actorId: audit.actorId,
      actorUsername: audit.actorUsername,
      action: 'request.priority',
      targetType: 'request',
      targetId: requestId,
      details: { from: audit.from, to: priority },
      ip: audit.ip,
    });
    return res.rows[0]!.n;
  });
}
