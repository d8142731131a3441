import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, generatedLockfile, setupApp, type TestApp } from './helpers.js';

/**
 * Measures, and prints, the time to answer the upload of a 2,000-package v3 lockfile: through app.inject
 * and over real HTTP on loopback. A measurement, not a timed assertion (DESIGN §10: targets are measured
 * by benchmarks). Each run uploads new packages (the expensive path: every package inserted and queued).
 */
const RUNS = 15;
const SIZE = 2000;

let t: TestApp;
beforeAll(async () => {
  // One user uploads 32 lockfiles here: more than a person's quota allows, but the check still runs (and is timed).
  t = await setupApp({ USER_MAX_OPEN_REQUESTS: '1000', USER_MAX_QUEUED_PACKAGES: '1000000' });
});
afterAll(async () => t?.close());

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

it(`prints the median time to answer a ${SIZE}-package upload`, async () => {
  const bodies = Array.from({ length: RUNS * 2 + 2 }, (_, i) => JSON.stringify(generatedLockfile(SIZE, `t${i}`)));
  const headers = { ...bearer(t.tokens.user), 'content-type': 'application/json' };
  // Warm-up (JIT, pool connections).
  await t.app.inject({ method: 'POST', url: '/api/packages/upload', headers, payload: bodies.pop()! });

  const inject: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const r = await t.app.inject({ method: 'POST', url: '/api/packages/upload', headers, payload: bodies.pop()! });
    inject.push(performance.now() - start);
    expect(r.statusCode).toBe(202);
    expect(r.json().new_packages).toBe(SIZE);
  }

  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  await fetch(`${address}/api/packages/upload`, { method: 'POST', headers, body: bodies.pop()! });
  const http: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const r = await fetch(`${address}/api/packages/upload`, { method: 'POST', headers, body: bodies.pop()! });
    await r.json();
    http.push(performance.now() - start);
    expect(r.status).toBe(202);
  }
  const bytes = Buffer.byteLength(JSON.stringify(generatedLockfile(SIZE, 'size')));
  console.log(
    `upload of a ${SIZE}-package lockfile (${(bytes / 1024).toFixed(0)} KiB), ${RUNS} runs each: ` +
      `median ${median(inject).toFixed(1)} ms via inject, ${median(http).toFixed(1)} ms over HTTP on loopback ` +
      `(min ${Math.min(...http).toFixed(1)}, max ${Math.max(...http).toFixed(1)})`,
  );
});
