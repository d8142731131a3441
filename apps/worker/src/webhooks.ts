import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import {
  claimWebhookDeliveries,
  createDb,
  finishWebhookDelivery,
  guardedLookup,
  isPrivateAddress,
  storableText,
  writeSettledRequestEvents,
  type ClaimedDelivery,
  type DB,
} from '@spm/db';
import type { Logger } from 'pino';
import type { WorkerConfig } from './config.js';

/** How many deliveries one round sends at once. */
const BATCH = 10;

/**
 * The signature header of a delivery, as Stripe and GitHub do it: `t=<unix seconds>,v1=<hex>`, the
 * HMAC-SHA256 with the endpoint's secret of `<t>.<body>`. A receiver recomputes it, compares in
 * constant time, and refuses an old `t` (a replay).
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The body of a delivery: the event, the same for every attempt and endpoint. */
export function webhookBody(
  d: Pick<ClaimedDelivery, 'event_id' | 'event_type' | 'event_created_at' | 'payload'>,
): string {
  return JSON.stringify({
    id: d.event_id,
    type: d.event_type,
    created_at: new Date(d.event_created_at).toISOString(),
    data: typeof d.payload === 'string' ? JSON.parse(d.payload) : d.payload,
  });
}

/** Backoff after `attempts` failures: base × 2^(attempts−1), at most an hour, with ±20 % jitter. */
export function webhookRetryDelaySeconds(attempts: number, baseSeconds: number): number {
  const plain = Math.min(3600, baseSeconds * 2 ** Math.max(0, attempts - 1));
  return plain * (0.8 + Math.random() * 0.4);
}

/**
 * Delivers webhook events from the outbox (package_status's trigger and the request sweep write it):
 * each round writes `request.settled` events for requests that have settled, claims due deliveries
 * with a lease, POSTs them signed, and records the outcome, retrying with backoff until
 * WEBHOOK_MAX_ATTEMPTS. At least once: a worker killed mid-delivery leaves the claim to expire and the
 * delivery is sent again with the same event id (`X-SPM-Delivery`), which receivers deduplicate on.
 */
export class WebhookDispatcher {
  private readonly db: DB;
  private readonly pool: { end(): Promise<void> };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  private readonly cfg: WorkerConfig['webhooks'];

  constructor(
    config: Pick<WorkerConfig, 'databaseUrl' | 'webhooks'>,
    private readonly log: Logger,
  ) {
    this.cfg = config.webhooks;
    const created = createDb({ connectionString: config.databaseUrl, max: 2, applicationName: 'spm-webhooks' });
    this.db = created.db;
    this.pool = created.pool;
  }

  start(): void {
    const tick = () => {
      if (this.stopping) return;
      this.running = this.round()
        .catch((err) => this.log.warn({ err }, 'webhook round failed; trying again'))
        .finally(() => {
          this.running = null;
          if (!this.stopping) this.timer = setTimeout(tick, this.cfg.pollSeconds * 1000);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops after the round in flight (its deliveries finish or time out), then closes the pool. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      if (this.timer) clearTimeout(this.timer);
      await this.running;
      await this.pool.end();
    })();
    return this.stopped;
  }

  /** One round: settled requests' events, then every due delivery (in batches) until none is due. */
  async round(): Promise<number> {
    await writeSettledRequestEvents(this.db);
    let sent = 0;
    while (!this.stopping) {
      const claimed = await claimWebhookDeliveries(this.db, {
        limit: BATCH,
        leaseSeconds: this.cfg.timeoutSeconds * 2 + 5,
      });
      if (claimed.length === 0) break;
      await Promise.all(claimed.map((d) => this.deliver(d)));
      sent += claimed.length;
    }
    return sent;
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    const body = webhookBody(d);
    const t = Math.floor(Date.now() / 1000);
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      statusCode = await post(
        d.url,
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'spm-webhooks',
          'x-spm-event': d.event_type,
          'x-spm-delivery': d.event_id,
          'x-spm-attempt': String(d.attempts),
          'x-spm-signature': signWebhook(d.secret, t, body),
        },
        { timeoutMs: this.cfg.timeoutSeconds * 1000, allowPrivate: this.cfg.allowPrivate },
      );
      if (statusCode < 200 || statusCode >= 300) error = `the endpoint answered ${statusCode}`;
    } catch (err) {
      error = (err as Error).message;
    }
    if (error === null) {
      await finishWebhookDelivery(this.db, d, { delivered: true, statusCode: statusCode! });
      this.log.info({ webhook: d.webhook_id, event: d.event_id, type: d.event_type }, 'webhook delivered');
      return;
    }
    const last = d.attempts >= this.cfg.maxAttempts;
    const retryAt = last
      ? null
      : new Date(Date.now() + webhookRetryDelaySeconds(d.attempts, this.cfg.retryBaseSeconds) * 1000);
    await finishWebhookDelivery(this.db, d, {
      delivered: false,
      statusCode,
      error: storableText(error, 500),
      retryAt,
    });
    this.log.warn(
      { webhook: d.webhook_id, event: d.event_id, type: d.event_type, attempt: d.attempts, error, retryAt },
      last ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry',
    );
  }
}

/** POSTs and resolves with the status code; no redirects are followed (a 3xx is a failure). */
function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowPrivate: boolean },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    // Node connects to an address literal without a lookup, so the guard checks it here.
    const literal = u.hostname.replace(/^\[|\]$/g, '');
    if (!opts.allowPrivate && isIP(literal) && isPrivateAddress(literal))
      return reject(
        new Error(`${literal} is a loopback, private or reserved address (WEBHOOK_ALLOW_PRIVATE is false)`),
      );
    const client = u.protocol === 'https:' ? https : http;
    const req = client.request(
      u,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        lookup: guardedLookup(opts.allowPrivate),
        timeout: opts.timeoutMs,
      },
      (res) => {
        // Read (and bound) the answer so the socket is freed; its content is not used.
        let seen = 0;
        res.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > 64 * 1024) res.destroy();
        });
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('close', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    const deadline = setTimeout(
      () => req.destroy(new Error(`no answer within ${opts.timeoutMs / 1000} s`)),
      opts.timeoutMs,
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs / 1000} s`)));
    req.on('error', (err) => {
      clearTimeout(deadline);
      reject(err);
    });
    req.on('close', () => clearTimeout(deadline));
    req.end(body);
  });
}
