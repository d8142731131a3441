import { execFileSync } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { AppError, STAGES, type StageName } from '@spm/db';
import { DEFAULT_TARBALL_LIMITS, LIMIT_SETTINGS } from '@spm/tarball';
import { DEFAULT_MAX_REDIRECTS } from './registry/source.js';

export type SeverityName = 'critical' | 'high' | 'medium' | 'low';
export const QUARANTINE_THRESHOLDS = ['critical', 'high', 'medium', 'low', 'none'] as const;
export type QuarantineThreshold = (typeof QUARANTINE_THRESHOLDS)[number];

export interface WorkerConfig {
  databaseUrl: string;
  /** Webhook deliveries (apps/worker/src/webhooks.ts). */
  webhooks: {
    /** Let deliveries reach loopback, private and link-local addresses (WEBHOOK_ALLOW_PRIVATE). */
    allowPrivate: boolean;
    timeoutSeconds: number;
    maxAttempts: number;
    retryBaseSeconds: number;
    pollSeconds: number;
  };
  workerId: string | null;
  sleepIntervalSeconds: number;
  /** Packages in flight at once, all stages together (WORKER_MAX_PACKAGES_PER_CYCLE). */
  maxPackagesPerCycle: number;
  /** Of those, at most this many in the stages that wait on the network and the database (licence, download, decide, publish). */
  ioConcurrency: number;
  /** Of those, at most this many in the stage that works the CPU (scan). */
  cpuConcurrency: number;
  stuckTimeoutMinutes: number;
  maxAttempts: number;
  leaseSeconds: number;
  /** How often the worker refreshes its row in `workers` (the health command allows 3× this). */
  heartbeatSeconds: number;
  shutdownTimeoutSeconds: number;
  retryBaseSeconds: number;
  sourceRegistryUrl: string;
  sourceRegistryToken: string | null;
  targetRegistryUrl: string | null;
  targetRegistryToken: string | null;
  packageCacheDir: string;
  downloadMaxBytes: number;
  downloadTimeoutSeconds: number;
  downloadMaxRedirects: number;
  /** Hard limits on reading one archive (see @spm/tarball's limits.ts for where each default comes from). */
  scanMaxEntries: number;
  scanMaxUnpackedBytes: number;
  scanMaxFileBytes: number;
  scanMaxCompressionRatio: number;
  scanAutoRejectSeverity: SeverityName | null;
  trivyServerUrl: string | null;
  trivyToken: string | null;
  trivyBin: string | null;
  trivyTimeoutSeconds: number;
  /** Packages still waiting sent back to the decide stage per sweep after a policy or waiver change. */
  policyReevaluationBatch: number;
  logLevel: string;
  logFormat: 'json' | 'pretty';
  listen: boolean;
  /** WORKER_STAGES: the stages this worker runs (default all); the others' checkpoints are not claimed. */
  stages: ReadonlyArray<StageName>;
  /** Continuous protection: the scheduled advisory sync and what a match does. */
  advisories: AdvisoryConfig;
  /** ADVISORIES_SYNC_INTERVAL in seconds; null: no scheduled sync. */
  advisoriesSyncIntervalSeconds: number | null;
}

/** The registry npm itself is configured with (`npm config get registry`), so a team's .npmrc is respected. */
export function npmConfiguredRegistry(): string | null {
  try {
    const out = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', timeout: 15_000 }).trim();
    return out && out !== 'undefined' ? out : null;
  } catch {
    return null;
  }
}

type Env = Record<string, string | undefined>;

/**
 * Slots per kind of stage. The scan works the CPU: one per core keeps every core busy and no more. The other
 * stages mostly wait (on the source registry, the database, the target registry): several per core keep the
 * network busy, as npm keeps many sockets open. WORKER_MAX_PACKAGES_PER_CYCLE caps the sum; set alone (as
 * before these settings existed) it is the one limit for every stage, so an old configuration behaves as it did.
 */
function concurrency(
  r: { number(key: string, def: number, min: number, max?: number): number },
  env: Env,
): Pick<WorkerConfig, 'maxPackagesPerCycle' | 'ioConcurrency' | 'cpuConcurrency'> {
  const cores = availableParallelism();
  const legacy = (env.WORKER_MAX_PACKAGES_PER_CYCLE ?? '') !== '';
  const io = r.number('WORKER_IO_CONCURRENCY', legacy ? 1000 : Math.max(8, 4 * cores), 1, 1000);
  const cpu = r.number('WORKER_CPU_CONCURRENCY', legacy ? 1000 : cores, 1, 1000);
  const total = r.number('WORKER_MAX_PACKAGES_PER_CYCLE', Math.min(1000, io + cpu), 1, 1000);
  return { maxPackagesPerCycle: total, ioConcurrency: Math.min(io, total), cpuConcurrency: Math.min(cpu, total) };
}

/**
 * Reads typed values from the environment, collecting every problem instead of stopping at the first;
 * `done` then throws one AppError (ERR_CONFIG) listing them all, or returns the frozen config.
 */
function envReader(env: Env) {
  const errors: string[] = [];
  const raw = (key: string): string | undefined => (env[key] === '' ? undefined : env[key]);
  return {
    errors,
    /** A number in [min, max]; `def` when unset. */
    number(key: string, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
      const v = raw(key);
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) {
        errors.push(`${key}=${v} (expected a number from ${min} to ${max})`);
        return def;
      }
      return n;
    },
    /** A number above zero; `def` when unset. */
    positive(key: string, def: number): number {
      const v = raw(key);
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) {
        errors.push(`${key}=${v} (expected a positive number)`);
        return def;
      }
      return n;
    },
    /** An http(s) URL (null when unset); `directory` makes it end in `/` so paths resolve below it. */
    url(key: string, value: string | undefined | null, opts: { directory?: boolean } = {}): string | null {
      if (!value) return null;
      try {
        const u = new URL(value);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
        const s = u.toString();
        return opts.directory === false || s.endsWith('/') ? s : `${s}/`;
      } catch {
        errors.push(`${key}=${value} (expected an http(s) URL)`);
        return null;
      }
    },
    bool(key: string, def: boolean): boolean {
      const v = raw(key);
      if (v === undefined) return def;
      if (['1', 'true', 'yes'].includes(v.toLowerCase())) return true;
      if (['0', 'false', 'no'].includes(v.toLowerCase())) return false;
      errors.push(`${key}=${v} (expected true or false)`);
      return def;
    },
    /** A duration: seconds, or a number with s, m, h or d (`30m`, `6h`); null when unset. */
    duration(key: string, minSeconds: number): number | null {
      const v = raw(key);
      if (v === undefined) return null;
      const m = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/i.exec(v.trim());
      const seconds = m ? Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2]!.toLowerCase()]! : NaN;
      if (!Number.isFinite(seconds) || seconds < minSeconds) {
        errors.push(`${key}=${v} (expected a duration of at least ${minSeconds} s: seconds, or 30m, 6h, 1d)`);
        return null;
      }
      return seconds;
    },
    /** ADVISORIES_QUARANTINE_SEVERITY: the lowest severity whose match quarantines (malware always does). */
    quarantineSeverity(): QuarantineThreshold {
      const v = raw('ADVISORIES_QUARANTINE_SEVERITY')?.toLowerCase() ?? 'high';
      if (!(QUARANTINE_THRESHOLDS as readonly string[]).includes(v)) {
        errors.push(
          `ADVISORIES_QUARANTINE_SEVERITY=${v} (expected ${QUARANTINE_THRESHOLDS.join(', ')}; none: only malware)`,
        );
        return 'high';
      }
      return v as QuarantineThreshold;
    },
    databaseUrl(): string {
      const v = env.DATABASE_URL ?? '';
      if (!v) errors.push('DATABASE_URL is required');
      return v;
    },
    packageCacheDir(): string {
      return resolve(env.PACKAGE_CACHE_DIR || resolve(tmpdir(), 'spm-package-cache'));
    },
    done<T extends object>(config: T): Readonly<T> {
      if (errors.length)
        throw new AppError('ERR_CONFIG', `Invalid environment: ${errors.join('; ')}`, { details: errors });
      return Object.freeze(config);
    },
  };
}

/**
 * Reads and validates the worker's configuration from the environment. Every problem is reported in
 * one AppError (code ERR_CONFIG). Nothing else in the worker reads process.env.
 */
export function loadConfig(env: Env = process.env, deps: { npmRegistry?: () => string | null } = {}): WorkerConfig {
  const r = envReader(env);
  const { errors } = r;

  const databaseUrl = r.databaseUrl();

  const sourceRaw = env.SOURCE_REGISTRY_URL || (deps.npmRegistry ?? npmConfiguredRegistry)();
  if (!sourceRaw) errors.push('SOURCE_REGISTRY_URL is unset and `npm config get registry` gave nothing');
  const sourceRegistryUrl = r.url('SOURCE_REGISTRY_URL', sourceRaw) ?? '';

  const sev = env.SCAN_AUTO_REJECT_SEVERITY?.toLowerCase() || null;
  if (sev && !['critical', 'high', 'medium', 'low'].includes(sev)) {
    errors.push(`SCAN_AUTO_REJECT_SEVERITY=${env.SCAN_AUTO_REJECT_SEVERITY} (expected critical, high, medium or low)`);
  }
  const logFormat = (env.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json')) as WorkerConfig['logFormat'];
  if (logFormat !== 'json' && logFormat !== 'pretty')
    errors.push(`LOG_FORMAT=${String(logFormat)} (expected json or pretty)`);
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    errors.push(`LOG_LEVEL=${logLevel} (expected fatal, error, warn, info, debug, trace or silent)`);
  }

  const allStages: readonly StageName[] = STAGES.map((s) => s.name);
  const stagesRaw = env.WORKER_STAGES?.trim();
  const stages = stagesRaw
    ? stagesRaw
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean)
    : [...allStages];
  const unknownStages = stages.filter((s) => !(allStages as readonly string[]).includes(s));
  if (unknownStages.length || stages.length === 0) {
    errors.push(`WORKER_STAGES=${env.WORKER_STAGES} (expected a comma-separated list of ${allStages.join(', ')})`);
  }

  const config: WorkerConfig = {
    databaseUrl,
    webhooks: {
      allowPrivate: r.bool('WEBHOOK_ALLOW_PRIVATE', false),
      timeoutSeconds: r.number('WEBHOOK_TIMEOUT_SECONDS', 10, 0.1, 300),
      maxAttempts: r.number('WEBHOOK_MAX_ATTEMPTS', 12, 1, 100),
      retryBaseSeconds: r.number('WEBHOOK_RETRY_BASE_SECONDS', 10, 0, 3600),
      pollSeconds: r.number('WEBHOOK_POLL_SECONDS', 2, 0.05, 3600),
    },
    workerId: env.WORKER_ID || null,
    sleepIntervalSeconds: r.number('WORKER_SLEEP_INTERVAL', 10, 0.05, 3600),
    ...concurrency(r, env),
    stuckTimeoutMinutes: r.number('WORKER_STUCK_TIMEOUT_MINUTES', 30, 0.05, 24 * 60),
    maxAttempts: r.number('WORKER_MAX_ATTEMPTS', 5, 1, 100),
    leaseSeconds: r.number('WORKER_LEASE_SECONDS', 60, 1, 3600),
    heartbeatSeconds: r.number('WORKER_HEARTBEAT_SECONDS', 10, 0.1, 3600),
    shutdownTimeoutSeconds: r.number('WORKER_SHUTDOWN_TIMEOUT_SECONDS', 25, 0, 3600),
    retryBaseSeconds: r.number('WORKER_RETRY_BASE_SECONDS', 5, 0, 3600),
    sourceRegistryUrl,
    sourceRegistryToken: env.SOURCE_REGISTRY_TOKEN || null,
    targetRegistryUrl: r.url('TARGET_REGISTRY_URL', env.TARGET_REGISTRY_URL),
    targetRegistryToken: env.TARGET_REGISTRY_TOKEN || null,
    packageCacheDir: r.packageCacheDir(),
    downloadMaxBytes: r.number('DOWNLOAD_MAX_BYTES', 100 * 1024 * 1024, 1024),
    downloadTimeoutSeconds: r.number('DOWNLOAD_TIMEOUT_SECONDS', 120, 1, 3600),
    downloadMaxRedirects: r.number('DOWNLOAD_MAX_REDIRECTS', DEFAULT_MAX_REDIRECTS, 0, 100),
    scanMaxEntries: r.number(LIMIT_SETTINGS.maxEntries, DEFAULT_TARBALL_LIMITS.maxEntries, 1),
    scanMaxUnpackedBytes: r.number(LIMIT_SETTINGS.maxUnpackedBytes, DEFAULT_TARBALL_LIMITS.maxUnpackedBytes, 1024),
    scanMaxFileBytes: r.number(LIMIT_SETTINGS.maxFileBytes, DEFAULT_TARBALL_LIMITS.maxFileBytes, 1024),
    scanMaxCompressionRatio: r.number(
      LIMIT_SETTINGS.maxCompressionRatio,
      DEFAULT_TARBALL_LIMITS.maxCompressionRatio,
      2,
    ),
    scanAutoRejectSeverity: (sev as SeverityName | null) ?? null,
    trivyServerUrl: r.url('TRIVY_SERVER_URL', env.TRIVY_SERVER_URL),
    trivyToken: env.TRIVY_TOKEN || null,
    trivyBin: env.TRIVY_BIN || null,
    trivyTimeoutSeconds: r.number('TRIVY_TIMEOUT_SECONDS', 300, 1, 3600),
    policyReevaluationBatch: r.number('POLICY_REEVALUATION_BATCH', 500, 1, 100_000),
    logLevel,
    logFormat,
    listen: r.bool('WORKER_LISTEN', true),
    stages: allStages.filter((s) => stages.includes(s)),
    advisories: advisorySettings(r, env, databaseUrl),
    advisoriesSyncIntervalSeconds: r.duration('ADVISORIES_SYNC_INTERVAL', 1),
  };
  if (config.advisoriesSyncIntervalSeconds !== null && !config.advisories.advisoriesUrl)
    errors.push('ADVISORIES_SYNC_INTERVAL is set but ADVISORIES_URL is not (where should the worker sync from?)');
  return r.done(config);
}

export interface HealthConfig {
  databaseUrl: string;
  /** WORKER_ID, or null to read the id the worker wrote to PACKAGE_CACHE_DIR/.worker-id. */
  workerId: string | null;
  packageCacheDir: string;
  /** The oldest heartbeat still healthy (HEALTH_MAX_AGE_SECONDS, default 3× WORKER_HEARTBEAT_SECONDS). */
  maxAgeSeconds: number;
}

/** Configuration of the health command (the same variables as the worker, and HEALTH_MAX_AGE_SECONDS). */
export function loadHealthConfig(env: Env = process.env): HealthConfig {
  const r = envReader(env);
  const databaseUrl = r.databaseUrl();
  const heartbeat = r.positive('WORKER_HEARTBEAT_SECONDS', 10);
  return r.done({
    databaseUrl,
    workerId: env.WORKER_ID || null,
    packageCacheDir: r.packageCacheDir(),
    maxAgeSeconds: r.positive('HEALTH_MAX_AGE_SECONDS', heartbeat * 3),
  });
}

export interface AdvisoryConfig {
  databaseUrl: string;
  /** ADVISORIES_URL: where `advisories:sync` downloads an OSV zip from. No default host. */
  advisoriesUrl: string | null;
  /** ADVISORIES_TOKEN: optional bearer token for that URL. */
  advisoriesToken: string | null;
  /** ADVISORIES_MAX_BYTES: largest zip accepted (default 1 GiB). */
  advisoriesMaxBytes: number;
  /** ADVISORIES_TIMEOUT_SECONDS: the whole download must finish within this (default 600). */
  advisoriesTimeoutSeconds: number;
  /** ADVISORIES_QUARANTINE_SEVERITY (default high): a later match at this severity or above quarantines. */
  quarantineSeverity: QuarantineThreshold;
  /** QUARANTINE_CONTACT: whom npm users are told to ask about a quarantined version. */
  quarantineContact: string | null;
}

function advisorySettings(r: ReturnType<typeof envReader>, env: Env, databaseUrl: string): AdvisoryConfig {
  return {
    databaseUrl,
    advisoriesUrl: r.url('ADVISORIES_URL', env.ADVISORIES_URL, { directory: false }),
    advisoriesToken: env.ADVISORIES_TOKEN || null,
    advisoriesMaxBytes: r.positive('ADVISORIES_MAX_BYTES', 1024 * 1024 * 1024),
    advisoriesTimeoutSeconds: r.positive('ADVISORIES_TIMEOUT_SECONDS', 600),
    quarantineSeverity: r.quarantineSeverity(),
    quarantineContact: env.QUARANTINE_CONTACT?.trim() || null,
  };
}

/** Configuration of the advisory import and sync commands. Every problem is reported in one AppError. */
export function loadAdvisoryConfig(env: Env = process.env): AdvisoryConfig {
  const r = envReader(env);
  return r.done(advisorySettings(r, env, r.databaseUrl()));
}
