import pg from 'pg';

/**
 * Counts every statement (round trip) sent by any pg client in this process, per database, and the time
 * each spent in flight, by wrapping `pg.Client.prototype.query`. The API, BaseWorker, Kysely and
 * graphile-worker all resolve to the same `pg` module here, so this sees all of their traffic, BEGIN
 * and COMMIT included. Installed once.
 */
const counts = new Map<string, { n: number; ms: number }>();
let installed = false;

export function installQueryCounter(): void {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: { connectionParameters?: { database?: string } }, ...args: unknown[]) {
    const db = this.connectionParameters?.database ?? '?';
    const c = counts.get(db) ?? { n: 0, ms: 0 };
    counts.set(db, c);
    c.n++;
    const t0 = performance.now();
    const stop = () => {
      const ms = performance.now() - t0;
      c.ms += ms;
      if (trace) trace.push({ db, sql: describe(args[0]), ms });
    };
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const cb = args[last] as (...a: unknown[]) => unknown;
      args[last] = (...a: unknown[]) => {
        stop();
        return cb(...a);
      };
      return original.apply(this, args);
    }
    const res = original.apply(this, args) as { then?: (a: () => void, b: () => void) => unknown } | undefined;
    if (res && typeof res.then === 'function') res.then(stop, stop);
    return res;
  };
}

let trace: Array<{ db: string; sql: string; ms: number }> | null = null;

function describe(q: unknown): string {
  const text = typeof q === 'string' ? q : ((q as { text?: string })?.text ?? '?');
  return text.replace(/\s+/g, ' ').trim().slice(0, 90);
}

/** Records every statement (first 90 characters) with its time in flight until the returned function is called. */
export function traceQueries(): () => Array<{ db: string; sql: string; ms: number }> {
  const t: Array<{ db: string; sql: string; ms: number }> = [];
  trace = t;
  return () => {
    trace = null;
    return t;
  };
}

/** Statements sent to `database` so far, and the milliseconds they spent in flight (summed). */
export function queryStats(database: string): { n: number; ms: number } {
  const c = counts.get(database);
  return { n: c?.n ?? 0, ms: c?.ms ?? 0 };
}

export function queryCount(database: string): number {
  return queryStats(database).n;
}
