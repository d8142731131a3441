import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { Status } from '@spm/db';
import { buildPackage, startTestRegistry } from '@spm/testkit';
import { approveEverything, createUser, type DatabaseFactory } from './db.js';
import { startApi } from './api.js';
import { startWorkerProcess } from './worker-process.js';
import { summarize, sleep, rng, type Summary } from './stats.js';

export interface WakeupMode {
  mode: 'notify' | 'polling';
  sleepIntervalSeconds: number;
  uploads: number;
  /** Enqueue transaction start (Requested event) → claim (Checking Licence event), both on the database clock. */
  enqueueToClaimMs: Summary;
  /** 202 received by the client → claim, host clock (negative when the worker claimed before the 202 arrived). */
  acceptedToClaimMs: Summary;
  /** Client sent the upload → claim. */
  sentToClaimMs: Summary;
}

export interface B3Result {
  notify: WakeupMode;
  polling: WakeupMode;
}

const SETTLED: readonly string[] = [Status.PendingApproval, Status.Published, Status.Rejected];

/**
 * B3: one-package uploads to an idle real worker process, each waited for until the worker is idle
 * again; the time from the upload to the worker's claim. NOTIFY mode uses the defaults; polling mode
 * sets WORKER_LISTEN=false so only the poll interval finds the package.
 */
export async function benchWakeup(
  factory: DatabaseFactory,
  opts: { uploads: number; pollingUploads: number; pollingIntervalSeconds: number; log: (s: string) => void },
): Promise<B3Result> {
  const registry = await startTestRegistry();
  const tmp = await mkdtemp(join(tmpdir(), 'spm-bench-wakeup-'));
  try {
    const run = async (mode: 'notify' | 'polling'): Promise<WakeupMode> => {
      const b = await factory.fresh(`wake_${mode}`);
      await approveEverything(b.db);
      const api = await startApi(b.url);
      const n = mode === 'notify' ? opts.uploads : opts.pollingUploads;
      const interval = mode === 'notify' ? 10 : opts.pollingIntervalSeconds;
      const worker = await startWorkerProcess({
        db: b.db,
        logFile: join(tmp, `worker-${mode}.log`),
        env: {
          DATABASE_URL: b.url,
          SOURCE_REGISTRY_URL: registry.url,
          PACKAGE_CACHE_DIR: join(tmp, `cache-${mode}`),
          WORKER_LISTEN: mode === 'notify' ? 'true' : 'false',
          WORKER_SLEEP_INTERVAL: String(interval),
          LOG_LEVEL: 'info',
        },
      });
      try {
        await createUser(b.db, 'bench-user', 'bench-password-1', 'user');
        const token = await api.login('bench-user', 'bench-password-1');
        const r = rng(mode === 'notify' ? 31 : 32);
        const e2c: number[] = [];
        const a2c: number[] = [];
        const s2c: number[] = [];
        for (let i = 0; i < n; i++) {
          const name = `wake-${mode}-${i}`;
          const pkg = buildPackage({ name, version: '1.0.0' });
          registry.add(pkg);
          const lockfile = {
            name: `wake-app-${i}`,
            version: '1.0.0',
            lockfileVersion: 3,
            requires: true,
            packages: {
              '': { name: `wake-app-${i}`, version: '1.0.0', dependencies: { [name]: '^1.0.0' } },
              [`node_modules/${name}`]: {
                version: '1.0.0',
                resolved: `${registry.url}${name}/-/${name}-1.0.0.tgz`,
                integrity: pkg.integrity,
                license: 'MIT',
              },
            },
          };
          // A random pause puts each upload at a random phase of the worker's poll timer.
          await sleep(mode === 'notify' ? 20 + r() * 30 : r() * interval * 1000);
          const sent = Date.now();
          const res = await api.upload(token, JSON.stringify(lockfile));
          const accepted = Date.now();
          if (res.status !== 202) throw new Error(`upload answered ${res.status}`);
          const requestId = Number(res.json.request_id);
          let claim: { claimed: Date; requested: Date } | undefined;
          const deadline = Date.now() + interval * 1000 + 30_000;
          while (!claim) {
            const q = await sql<{ claimed: Date; requested: Date }>`
              SELECT c.created_at AS claimed, r.created_at AS requested
              FROM request_packages rp
              JOIN package_events c ON c.package_id = rp.package_id AND c.to_status = ${Status.CheckingLicence}
              JOIN package_events r ON r.package_id = rp.package_id AND r.to_status = ${Status.Requested}
              WHERE rp.request_id = ${requestId}
              ORDER BY c.id LIMIT 1
            `.execute(b.db);
            claim = q.rows[0];
            if (!claim) {
              if (Date.now() > deadline) throw new Error(`package of request ${requestId} was never claimed`);
              await sleep(2);
            }
          }
          e2c.push(claim.claimed.getTime() - claim.requested.getTime());
          a2c.push(claim.claimed.getTime() - accepted);
          s2c.push(claim.claimed.getTime() - sent);
          // Let the worker finish the package so it is idle again before the next upload.
          for (;;) {
            const st = await sql<{ status: string }>`
              SELECT ps.status FROM package_status ps JOIN request_packages rp ON rp.package_id = ps.package_id WHERE rp.request_id = ${requestId}
            `.execute(b.db);
            if (SETTLED.includes(st.rows[0]!.status)) break;
            await sleep(5);
          }
        }
        const out: WakeupMode = {
          mode,
          sleepIntervalSeconds: interval,
          uploads: n,
          enqueueToClaimMs: summarize(e2c),
          acceptedToClaimMs: summarize(a2c),
          sentToClaimMs: summarize(s2c),
        };
        opts.log(
          `  B3 ${mode} (interval ${interval} s): enqueue→claim p50 ${out.enqueueToClaimMs.p50} ms p95 ${out.enqueueToClaimMs.p95} ms; 202→claim p50 ${out.acceptedToClaimMs.p50} ms`,
        );
        return out;
      } finally {
        await worker.stop();
        await api.close();
        await b.destroy();
      }
    };
    const notify = await run('notify');
    const polling = await run('polling');
    return { notify, polling };
  } finally {
    await registry.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
