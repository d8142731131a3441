import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { classify } from '../src/base-worker.js';
import { loadConfig, loadHealthConfig } from '../src/config.js';
import { PermanentError, TransientError } from '../src/errors.js';

const base = { DATABASE_URL: 'postgres://x', SOURCE_REGISTRY_URL: 'http://registry.example.test/' };
const noNpm = { npmRegistry: () => null };

describe('worker configuration', () => {
  it('runs every stage by default and a chosen subset with WORKER_STAGES', () => {
    expect(loadConfig(base, noNpm).stages).toEqual(['licence', 'download', 'scan', 'decide', 'publish']);
    expect(loadConfig({ ...base, WORKER_STAGES: 'download, licence' }, noNpm).stages).toEqual(['licence', 'download']);
  });

  it('reports every invalid setting in one message', () => {
    const env = {
      ...base,
      WORKER_STAGES: 'licence,approve',
      WORKER_HEARTBEAT_SECONDS: 'soon',
      WORKER_LEASE_SECONDS: '0',
    };
    const err = (() => {
      try {
        loadConfig(env, noNpm);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^Invalid environment: /);
    for (const part of ['WORKER_STAGES=licence,approve', 'WORKER_HEARTBEAT_SECONDS=soon', 'WORKER_LEASE_SECONDS=0']) {
      expect(err?.message).toContain(part);
    }
  });

  it('gives the scan one slot per core and the other stages several, WORKER_MAX_PACKAGES_PER_CYCLE capping the sum', () => {
    const cores = availableParallelism();
    expect(loadConfig(base, noNpm)).toMatchObject({
      cpuConcurrency: cores,
      ioConcurrency: Math.max(8, 4 * cores),
      maxPackagesPerCycle: cores + Math.max(8, 4 * cores),
    });
    const set = { ...base, WORKER_CPU_CONCURRENCY: '3', WORKER_IO_CONCURRENCY: '12' };
    expect(loadConfig(set, noNpm)).toMatchObject({ cpuConcurrency: 3, ioConcurrency: 12, maxPackagesPerCycle: 15 });
    expect(loadConfig({ ...set, WORKER_MAX_PACKAGES_PER_CYCLE: '10' }, noNpm)).toMatchObject({
      cpuConcurrency: 3,
      ioConcurrency: 10,
      maxPackagesPerCycle: 10,
    });
    // Set alone, as before the two kinds existed: one limit for every stage.
    expect(loadConfig({ ...base, WORKER_MAX_PACKAGES_PER_CYCLE: '5' }, noNpm)).toMatchObject({
      cpuConcurrency: 5,
      ioConcurrency: 5,
      maxPackagesPerCycle: 5,
    });
    expect(() => loadConfig({ ...base, WORKER_CPU_CONCURRENCY: '0' }, noNpm)).toThrow(/WORKER_CPU_CONCURRENCY=0/);
  });

  it('reads the advisory sync interval as a duration, and needs ADVISORIES_URL with it', () => {
    expect(loadConfig(base, noNpm).advisoriesSyncIntervalSeconds).toBeNull();
    const url = { ...base, ADVISORIES_URL: 'http://osv.example.test/npm/all.zip' };
    expect(loadConfig({ ...url, ADVISORIES_SYNC_INTERVAL: '6h' }, noNpm).advisoriesSyncIntervalSeconds).toBe(21_600);
    expect(loadConfig({ ...url, ADVISORIES_SYNC_INTERVAL: '90' }, noNpm).advisoriesSyncIntervalSeconds).toBe(90);
    expect(loadConfig({ ...url, ADVISORIES_SYNC_INTERVAL: '30m' }, noNpm).advisoriesSyncIntervalSeconds).toBe(1800);
    expect(loadConfig(url, noNpm).advisories.quarantineSeverity).toBe('high');
    expect(() => loadConfig({ ...base, ADVISORIES_SYNC_INTERVAL: '1d' }, noNpm)).toThrow(
      /ADVISORIES_SYNC_INTERVAL is set but ADVISORIES_URL is not/,
    );
    expect(() =>
      loadConfig({ ...url, ADVISORIES_SYNC_INTERVAL: 'weekly', ADVISORIES_QUARANTINE_SEVERITY: 'severe' }, noNpm),
    ).toThrow(/ADVISORIES_QUARANTINE_SEVERITY=severe.*ADVISORIES_SYNC_INTERVAL=weekly/);
  });

  it('defaults the health limit to three heartbeats', () => {
    expect(loadHealthConfig({ DATABASE_URL: 'postgres://x' }).maxAgeSeconds).toBe(30);
    expect(loadHealthConfig({ DATABASE_URL: 'postgres://x', WORKER_HEARTBEAT_SECONDS: '2' }).maxAgeSeconds).toBe(6);
    expect(loadHealthConfig({ DATABASE_URL: 'postgres://x', HEALTH_MAX_AGE_SECONDS: '5' }).maxAgeSeconds).toBe(5);
  });
});

describe('error classification', () => {
  it('rejects permanent errors with their kind and retries everything else', () => {
    expect(classify(new PermanentError('policy', 'oversize'))).toEqual({
      kind: 'reject',
      rejection: 'policy',
      reason: 'oversize',
    });
    expect(classify(new TransientError('HTTP 503'))).toEqual({ kind: 'transient', error: 'HTTP 503' });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(classify(reset)).toEqual({ kind: 'transient', error: 'ECONNRESET: socket hang up' });
    expect(classify('weird')).toEqual({ kind: 'transient', error: 'weird' });
  });
});
