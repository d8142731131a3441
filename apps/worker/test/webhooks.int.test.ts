import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createWebhook, redeliverWebhook, Status, writeSettledRequestEvents } from '@spm/db';
import { createTestDatabase, type TestDatabase } from '@spm/db/testing';
import { buildPackage } from '@spm/testkit';
import { WebhookDispatcher } from '../src/webhooks.js';
import {
  enqueue,
  lockfileEntry,
  packageId,
  spawnWorker,
  tempCacheDir,
  waitFor,
  type WorkerProcess,
} from './support/worker.js';

/*
 * Webhooks against a real receiver on loopback that checks every signature: the outbox written by
 * the status change itself, retries after 500s and timeouts, ordering per package, request.settled
 * written once however many workers sweep, private addresses refused, and a worker killed in the middle
 * of a delivery: the next worker delivers the same event id.
 */

const SECRET = 'whsec_test-secret-0123456789abcdef';

interface Received {
  headers: IncomingHttpHeaders;
  body: { id: string; type: string; created_at: string; data: Record<string, any> };
  signatureValid: boolean;
}

/** A webhook receiver: answers each request with the next planned behaviour (then 200). */
class Receiver {
  readonly received: Received[] = [];
  plan: Array<number | 'hang'> = [];
  onRequest: ((r: Received) => void) | null = null;
  private server!: Server;
  private readonly hanging: ServerResponse[] = [];
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8').on('data', (c: string) => (raw += c));
      req.on('end', () => {
        const sig = String(req.headers['x-spm-signature'] ?? '');
        const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
        const expected = m && createHmac('sha256', SECRET).update(`${m[1]}.${raw}`).digest();
        const r: Received = {
          headers: req.headers,
          body: JSON.parse(raw),
          signatureValid: Boolean(m && expected && timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'))),
        };
        this.received.push(r);
        this.onRequest?.(r);
        const next = this.plan.shift() ?? 200;
        if (next === 'hang') this.hanging.push(res);
        else res.writeHead(next).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/hooks`;
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let t: TestDatabase;
let receiver: Receiver;
const dispatchers: WebhookDispatcher[] = [];
const log = pino({ level: 'silent' });

function dispatcher(overrides: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]['webhooks']> = {}) {
  const d = new WebhookDispatcher(
    {
      databaseUrl: t.url,
      webhooks: {
        allowPrivate: true,
        timeoutSeconds: 1,
        maxAttempts: 5,
        retryBaseSeconds: 0,
        pollSeconds: 0.05,
        ...overrides,
      },
    },
    log,
  );
  dispatchers.push(d);
  return d;
}

async function hook(events: string[], url = receiver.url): Promise<number> {
  return (await createWebhook(t.db, { url, secret: SECRET, events, description: null, createdBy: null })).id;
}

async function newPackage(name: string): Promise<number> {
  const pkg = await buildPackage({ name, version: '1.0.0' });
  await enqueue(t.db, [lockfileEntry(pkg)]);
  return packageId(t.db, name);
}

async function setStatus(id: number, status: string, extra: Record<string, unknown> = {}): Promise<void> {
  await t.db
    .updateTable('package_status')
    .set({ status, ...extra })
    .where('package_id', '=', id)
    .execute();
}

async function deliveries() {
  return t.db.selectFrom('webhook_deliveries').selectAll().orderBy('id').execute();
}

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.destroy();
});
beforeEach(async () => {
  receiver = new Receiver();
  await receiver.start();
});
afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
  await receiver.close();
  await t.db.deleteFrom('webhooks').execute();
  await t.db.deleteFrom('webhook_events').execute();
});

describe('webhooks', () => {
  it('writes the event with the status change and delivers it signed, with an id and the package', async () => {
    await hook(['package.pending_approval', 'package.rejected']);
    const id = await newPackage('hook-signed');
    // A status nobody subscribed to writes nothing.
    await setStatus(id, Status.LicenceChecked);
    expect(await deliveries()).toHaveLength(0);
    await setStatus(id, Status.PendingApproval);
    expect(await deliveries()).toHaveLength(1);

    await dispatcher().round();
    expect(receiver.received).toHaveLength(1);
    const r = receiver.received[0]!;
    expect(r.signatureValid).toBe(true);
    expect(r.headers['x-spm-event']).toBe('package.pending_approval');
    expect(r.headers['x-spm-delivery']).toBe(r.body.id);
    expect(r.body).toMatchObject({
      type: 'package.pending_approval',
      data: {
        package: {
          id,
          name: 'hook-signed',
          version: '1.0.0',
          status: 'Pending Approval',
          previous_status: 'Licence Checked',
        },
      },
    });
    // A forged body does not verify with the same header.
    const sig = String(r.headers['x-spm-signature']);
    const [, ts, v1] = /^t=(\d+),v1=(\w+)$/.exec(sig)!;
    const forged = createHmac('sha256', SECRET)
      .update(`${ts}.${JSON.stringify({ ...r.body, type: 'x' })}`)
      .digest('hex');
    expect(forged).not.toBe(v1);
    expect(await deliveries()).toMatchObject([{ status: 'delivered', attempts: 1, last_status_code: 200 }]);
  });

  it('retries after 500s and a timeout with the same event id, then records the delivery', async () => {
    await hook(['package.rejected']);
    const id = await newPackage('hook-retry');
    await setStatus(id, Status.Rejected, { rejection_kind: 'policy', rejection_reason: 'blocked licence' });
    receiver.plan = [500, 503, 'hang', 200];
    await dispatcher({ timeoutSeconds: 0.5 }).round();
    expect(receiver.received).toHaveLength(4);
    expect(new Set(receiver.received.map((r) => r.body.id)).size).toBe(1);
    expect(receiver.received.map((r) => r.headers['x-spm-attempt'])).toEqual(['1', '2', '3', '4']);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    expect(receiver.received[0]!.body.data.package.rejection).toEqual({ kind: 'policy', reason: 'blocked licence' });
    const [d] = await deliveries();
    expect(d).toMatchObject({ status: 'delivered', attempts: 4, last_status_code: 200 });
  });

  it('gives up after WEBHOOK_MAX_ATTEMPTS, and a redelivery sends the same event again', async () => {
    const webhookId = await hook(['package.published']);
    const id = await newPackage('hook-fail');
    await setStatus(id, Status.Published);
    receiver.plan = [500, 500, 500];
    await dispatcher({ maxAttempts: 3 }).round();
    const [failed] = await deliveries();
    expect(failed).toMatchObject({ status: 'failed', attempts: 3, last_status_code: 500 });
    expect(failed!.last_error).toContain('500');

    await redeliverWebhook(t.db, webhookId, Number(failed!.id));
    await dispatcher().round();
    expect(receiver.received).toHaveLength(4);
    expect(receiver.received[3]!.body.id).toBe(receiver.received[0]!.body.id);
    expect(await deliveries()).toMatchObject([{ status: 'delivered', attempts: 1 }]);
  });

  it("delivers one package's events in the order they happened, even when the first must be retried", async () => {
    await hook(['package.pending_approval', 'package.published']);
    const a = await newPackage('hook-order-a');
    const b = await newPackage('hook-order-b');
    await setStatus(a, Status.PendingApproval);
    await setStatus(b, Status.PendingApproval);
    await setStatus(a, Status.Published);
    await setStatus(b, Status.Published);
    receiver.plan = [500, 500, 500];
    // Two dispatchers at once, as two workers would.
    await Promise.all([dispatcher().round(), dispatcher().round()]);
    for (const name of ['hook-order-a', 'hook-order-b']) {
      const seen = receiver.received.filter((r) => r.body.data.package.name === name).map((r) => r.body.type);
      const lastPending = seen.lastIndexOf('package.pending_approval');
      expect(seen.indexOf('package.published'), seen.join(', ')).toBeGreaterThan(lastPending);
    }
    expect((await deliveries()).every((d) => d.status === 'delivered')).toBe(true);
  });

  it('writes request.settled once when every package of a request is decided, however many sweep', async () => {
    await hook(['request.settled']);
    const p1 = await buildPackage({ name: 'hook-req-1', version: '1.0.0' });
    const p2 = await buildPackage({ name: 'hook-req-2', version: '1.0.0' });
    await enqueue(t.db, [lockfileEntry(p1), lockfileEntry(p2)]);
    const [a, b] = [await packageId(t.db, 'hook-req-1'), await packageId(t.db, 'hook-req-2')];
    await setStatus(a, Status.Published);
    expect(await writeSettledRequestEvents(t.db)).toBe(0);
    await setStatus(b, Status.Rejected);
    const counts = await Promise.all([1, 2, 3, 4].map(() => writeSettledRequestEvents(t.db)));
    expect(counts.reduce((x, y) => x + y, 0)).toBe(1);
    await dispatcher().round();
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.body).toMatchObject({
      type: 'request.settled',
      data: { request: { application_name: 'app', package_count: 2, published: 1, rejected: 1 } },
    });
  });

  it('refuses to deliver to a loopback address unless WEBHOOK_ALLOW_PRIVATE is set', async () => {
    await hook(['package.pending_approval']);
    await setStatus(await newPackage('hook-private'), Status.PendingApproval);
    await dispatcher({ allowPrivate: false, maxAttempts: 1 }).round();
    expect(receiver.received).toHaveLength(0);
    const [d] = await deliveries();
    expect(d).toMatchObject({ status: 'failed', last_status_code: null });
    expect(d!.last_error).toContain('WEBHOOK_ALLOW_PRIVATE');
  });
});

describe('webhooks with the real worker process', () => {
  let cache: Awaited<ReturnType<typeof tempCacheDir>>;
  const workers: WorkerProcess[] = [];
  beforeAll(async () => {
    cache = await tempCacheDir();
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await cache.remove();
  });
  const start = () => {
    const w = spawnWorker({
      DATABASE_URL: t.url,
      SOURCE_REGISTRY_URL: 'http://127.0.0.1:9/',
      PACKAGE_CACHE_DIR: cache.dir,
      TARGET_REGISTRY_URL: '',
      TRIVY_SERVER_URL: '',
      WORKER_SLEEP_INTERVAL: '0.5',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_TIMEOUT_SECONDS: '1',
      WEBHOOK_POLL_SECONDS: '0.2',
      WEBHOOK_RETRY_BASE_SECONDS: '0',
      LOG_LEVEL: 'info',
    });
    workers.push(w);
    return w;
  };

  it('a worker killed between the transition and the delivery: the next one delivers the same single event id', async () => {
    await hook(['package.pending_approval']);
    const id = await newPackage('hook-crash');
    // The transition commits while no worker runs: the event waits in the outbox.
    await setStatus(id, Status.PendingApproval);
    receiver.plan = ['hang'];
    const first = start();
    let killed = false;
    receiver.onRequest = () => {
      if (!killed) {
        killed = true;
        first.proc.kill('SIGKILL');
      }
    };
    await waitFor(async () => killed || undefined, 30_000);
    await first.exited;
    start();
    // The first claim's lease (timeout × 2 + 5 s) ends, and the second worker delivers.
    await waitFor(async () => ((await deliveries())[0]?.status === 'delivered' ? true : undefined), 60_000);
    expect(receiver.received.length).toBe(2);
    expect(new Set(receiver.received.map((r) => r.body.id)).size).toBe(1);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    expect(await deliveries()).toMatchObject([{ status: 'delivered', attempts: 2 }]);
  });
});
