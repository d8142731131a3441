import { sql } from 'kysely';
import type { DB } from '../db.js';

/*
 * Webhooks (migration 0020). Package events are written by a trigger on package_status in the
 * transaction of the status change; `request.settled` by writeSettledRequestEvents, which marks the
 * request and writes its event in one statement. The worker claims due deliveries with a lease
 * (FOR UPDATE SKIP LOCKED, so several workers share the work), one at a time per endpoint and
 * ordering key (a package's events arrive in the order they happened), and records each attempt.
 */

export interface Webhook {
  id: number;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  created_by: number | null;
  created_at: Date;
  updated_at: Date;
}

const PUBLIC_COLUMNS = [
  'id',
  'url',
  'events',
  'description',
  'enabled',
  'created_by',
  'created_at',
  'updated_at',
] as const;

export async function createWebhook(
  db: DB,
  w: { url: string; secret: string; events: string[]; description: string | null; createdBy: number | null },
): Promise<Webhook> {
  return db
    .insertInto('webhooks')
    .values({ url: w.url, secret: w.secret, events: w.events, description: w.description, created_by: w.createdBy })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function listWebhooks(db: DB): Promise<Webhook[]> {
  return db.selectFrom('webhooks').select(PUBLIC_COLUMNS).orderBy('id').execute();
}

export async function getWebhook(db: DB, id: number): Promise<Webhook | undefined> {
  return db.selectFrom('webhooks').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
}

export async function updateWebhook(
  db: DB,
  id: number,
  patch: { url?: string; secret?: string; events?: string[]; description?: string | null; enabled?: boolean },
): Promise<Webhook | undefined> {
  return db
    .updateTable('webhooks')
    .set({ ...patch, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
}

export async function deleteWebhook(db: DB, id: number): Promise<boolean> {
  const r = await db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export interface WebhookDeliveryRow {
  id: number;
  event_id: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
}

/** An endpoint's delivery log, newest first. */
export async function listWebhookDeliveries(
  db: DB,
  webhookId: number,
  page: { limit: number; offset: number; status?: string },
): Promise<{ deliveries: WebhookDeliveryRow[]; total: number }> {
  let q = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .where('d.webhook_id', '=', webhookId);
  if (page.status) q = q.where('d.status', '=', page.status as 'pending');
  const [rows, count] = await Promise.all([
    q
      .select([
        sql<number>`d.id::int8`.as('id'),
        'd.event_id',
        'e.type as event_type',
        'd.status',
        'd.attempts',
        'd.next_attempt_at',
        'd.last_status_code',
        'd.last_error',
        'd.last_attempt_at',
        'd.delivered_at',
        'd.created_at',
      ])
      .orderBy('d.id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { deliveries: rows.map((r) => ({ ...r, id: Number(r.id) })), total: Number(count.n) };
}

/**
 * Queues a delivery again (same event id, so a receiver that already has it can tell): back to
 * pending, due now, attempts from zero. Undefined when the delivery is not this endpoint's.
 */
export async function redeliverWebhook(
  db: DB,
  webhookId: number,
  deliveryId: number,
): Promise<{ id: number; event_id: string } | undefined> {
  const row = await db
    .updateTable('webhook_deliveries')
    .set({
      status: 'pending',
      attempts: 0,
      next_attempt_at: sql<Date>`now()`,
      locked_until: null,
      delivered_at: null,
    })
    .where('id', '=', String(deliveryId))
    .where('webhook_id', '=', webhookId)
    .returning(['id', 'event_id'])
    .executeTakeFirst();
  return row && { id: Number(row.id), event_id: row.event_id };
}

/** Writes a `ping` event for one endpoint (to test it from the API). */
export async function queuePing(db: DB, webhookId: number, by: string | null): Promise<string> {
  return db.transaction().execute(async (tx) => {
    const ev = await tx
      .insertInto('webhook_events')
      .values({ type: 'ping', ordering_key: `ping:${webhookId}`, payload: JSON.stringify({ requested_by: by }) })
      .returning('id')
      .executeTakeFirstOrThrow();
    await tx
      .insertInto('webhook_deliveries')
      .values({ webhook_id: webhookId, event_id: ev.id, ordering_key: `ping:${webhookId}` })
      .execute();
    return ev.id;
  });
}

/**
 * Writes `request.settled` for every request whose packages are all Published or Rejected and that
 * has not had it yet: marking the request and writing its event and deliveries is one statement.
 * Returns how many requests settled. Cheap when nothing is new (a partial index on the unmarked).
 */
export async function writeSettledRequestEvents(db: DB, limit = 100): Promise<number> {
  const r = await sql<{ n: number }>`
    WITH settled AS (
      UPDATE requests r SET settled_notified_at = now()
      WHERE r.id IN (
        SELECT q.id FROM requests q
        WHERE q.settled_notified_at IS NULL
          AND NOT EXISTS (
            SELECT 1 FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
            WHERE rp.request_id = q.id AND ps.status NOT IN ('Published', 'Rejected')
          )
        ORDER BY q.id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      )
      RETURNING r.id, r.application_name, r.application_version, r.requestor_id, r.package_count
    ),
    counted AS (
      SELECT s.*,
        (SELECT count(*) FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
          WHERE rp.request_id = s.id AND ps.status = 'Published')::int AS published,
        (SELECT count(*) FROM request_packages rp JOIN package_status ps ON ps.package_id = rp.package_id
          WHERE rp.request_id = s.id AND ps.status = 'Rejected')::int AS rejected
      FROM settled s
      WHERE EXISTS (SELECT 1 FROM webhooks WHERE enabled AND 'request.settled' = ANY (events))
    ),
    events AS (
      INSERT INTO webhook_events (type, ordering_key, request_id, payload)
      SELECT 'request.settled', 'request:' || c.id, c.id,
        jsonb_build_object('request', jsonb_build_object(
          'id', c.id,
          'application_name', c.application_name,
          'application_version', c.application_version,
          'requestor', (SELECT username FROM users WHERE id = c.requestor_id),
          'package_count', c.package_count,
          'published', c.published,
          'rejected', c.rejected
        ))
      FROM counted c
      RETURNING id, ordering_key
    ),
    deliveries AS (
      INSERT INTO webhook_deliveries (webhook_id, event_id, ordering_key)
      SELECT w.id, e.id, e.ordering_key FROM events e
      CROSS JOIN webhooks w WHERE w.enabled AND 'request.settled' = ANY (w.events)
    )
    SELECT count(*)::int AS n FROM settled
  `.execute(db);
  return r.rows[0]?.n ?? 0;
}

export interface ClaimedDelivery {
  id: number;
  attempts: number;
  webhook_id: number;
  url: string;
  secret: string;
  event_id: string;
  event_type: string;
  event_created_at: Date;
  payload: unknown;
}

/**
 * Claims up to `limit` due deliveries for `leaseSeconds` (counting the attempt). Only the oldest
 * undelivered delivery of each endpoint and ordering key is due, so one package's events reach an
 * endpoint in order; a crashed worker's claim is due again when its lease ends.
 */
export async function claimWebhookDeliveries(
  db: DB,
  opts: { limit: number; leaseSeconds: number },
): Promise<ClaimedDelivery[]> {
  const r = await sql<ClaimedDelivery>`
    WITH claimed AS (
      UPDATE webhook_deliveries d
      SET attempts = d.attempts + 1,
          locked_until = now() + make_interval(secs => ${opts.leaseSeconds}),
          last_attempt_at = now()
      WHERE d.id IN (
        SELECT c.id FROM webhook_deliveries c
        JOIN webhooks w ON w.id = c.webhook_id AND w.enabled
        WHERE c.status = 'pending'
          AND c.next_attempt_at <= now()
          AND (c.locked_until IS NULL OR c.locked_until < now())
          AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries earlier
            WHERE earlier.webhook_id = c.webhook_id
              AND earlier.ordering_key = c.ordering_key
              AND earlier.status = 'pending'
              AND earlier.id < c.id
          )
        ORDER BY c.next_attempt_at, c.id
        LIMIT ${opts.limit}
        FOR UPDATE OF c SKIP LOCKED
      )
      RETURNING d.id, d.attempts, d.webhook_id, d.event_id
    )
    SELECT c.id::int8 AS id, c.attempts, c.webhook_id, w.url, w.secret, c.event_id,
           e.type AS event_type, e.created_at AS event_created_at, e.payload
    FROM claimed c
    JOIN webhooks w ON w.id = c.webhook_id
    JOIN webhook_events e ON e.id = c.event_id
    ORDER BY c.id
  `.execute(db);
  return r.rows.map((row) => ({ ...row, id: Number(row.id) }));
}

/**
 * Records an attempt's outcome, if the claim is still ours (same attempt count: nobody claimed it
 * again after our lease ended). `retryAt` null ends a failed delivery as `failed`.
 */
export async function finishWebhookDelivery(
  db: DB,
  d: { id: number; attempts: number },
  outcome:
    | { delivered: true; statusCode: number }
    | { delivered: false; statusCode: number | null; error: string; retryAt: Date | null },
): Promise<boolean> {
  const set = outcome.delivered
    ? {
        status: 'delivered' as const,
        delivered_at: sql<Date>`now()`,
        last_status_code: outcome.statusCode,
        last_error: null,
        locked_until: null,
      }
    : {
        status: outcome.retryAt ? ('pending' as const) : ('failed' as const),
        next_attempt_at: outcome.retryAt ?? sql<Date>`now()`,
        last_status_code: outcome.statusCode,
        last_error: outcome.error,
        locked_until: null,
      };
  const r = await db
    .updateTable('webhook_deliveries')
    .set(set)
    .where('id', '=', String(d.id))
    .where('attempts', '=', d.attempts)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** For /metrics: deliveries that failed for good, and those being retried after a failure. */
export async function webhookDeliveryStats(db: DB): Promise<{ failed: number; retrying: number }> {
  const r = await sql<{ failed: number; retrying: number }>`
    SELECT count(*) FILTER (WHERE status = 'failed')::int AS failed,
           count(*) FILTER (WHERE status = 'pending' AND last_error IS NOT NULL)::int AS retrying
    FROM webhook_deliveries
  `.execute(db);
  return r.rows[0] ?? { failed: 0, retrying: 0 };
}
