import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, passwordProblem } from '@spm/db';

export interface ApiConfig {
  nodeEnv: string;
  databaseUrl: string;
  jwtSecret: string;
  /** A @fastify/jwt / fast-jwt duration: seconds as a number, or a string such as `8h`. */
  jwtExpiresIn: string | number;
  /** The same lifetime in seconds (at most MAX_JWT_LIFETIME_SECONDS). */
  jwtLifetimeSeconds: number;
  port: number;
  host: string;
  adminUsername: string | null;
  adminPassword: string | null;
  uploadMaxBytes: number;
  /** Lockfile entries (packages to vet) one upload may hold; more is 413 ERR_MAX_LOCKFILE_ENTRIES. */
  maxLockfileEntries: number;
  /** Requests one user may have waiting for the workers (admins: no limit); more is 429. */
  userMaxOpenRequests: number;
  /** Packages one user's requests may have waiting for the workers (admins: no limit); more is 429. */
  userMaxQueuedPackages: number;
  /** Login attempts allowed per minute for one IP address and username. */
  loginRateLimit: number;
  /** Login attempts allowed per minute from one IP address, whatever the usernames (password spraying). */
  loginRateLimitPerAddress: number;
  /** Four eyes: nobody approves a package only they requested (admins may override with a reason). */
  approvalFourEyes: boolean;
  /** Webhook URLs may point at loopback, private and link-local addresses (WEBHOOK_ALLOW_PRIVATE). */
  webhookAllowPrivate: boolean;
  packageCacheDir: string;
  targetRegistryUrl: string | null;
  /** Base URL clients reach the API at (tarball links of the built-in registry); null: derived from the request. */
  publicUrl: string | null;
  logLevel: string;
  logFormat: 'json' | 'pretty';
  /** Whether proxy headers (X-Forwarded-For) are trusted for the client address. */
  trustProxy: boolean;
  /** /registry/ answers only callers with an API token of scope `registry` (or a session token). */
  registryRequireAuth: boolean;
  /** QUARANTINE_CONTACT: whom npm users are told to ask about a quarantined version (null: the approvers). */
  quarantineContact: string | null;
  /** When set, /metrics needs `Authorization: Bearer <this>`; null: /metrics is open. */
  metricsToken: string | null;
  /** The OpenAPI document and UI under /docs are open to anyone; false: only to signed-in callers. */
  docsPublic: boolean;
  /** The built web app (apps/web/dist) served on `/`; the API runs without it when the folder has no index.html. */
  webRoot: string;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/**
 * The longest a session token may live: a week. Tokens are revocable (logout, password change, disabling
 * and role changes end them), so the lifetime is not the only defence, but a stolen token should still
 * die on its own within days; machines use named API tokens instead.
 */
export const MAX_JWT_LIFETIME_SECONDS = 7 * 24 * 3600;
const MIN_JWT_LIFETIME_SECONDS = 60;
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const DEV_JWT_SECRET = 'development-only-jwt-secret-do-not-use-in-production';
// apps/api/{src,dist}/config.* → apps/web/dist: where `pnpm build` puts the web app in the repository.
const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

/**
 * Reads and validates the API's configuration from the environment. Every problem is reported in one
 * AppError (code ERR_CONFIG): `Invalid environment: A=..; B=..`. Returns a frozen object; nothing else
 * in the API reads process.env.
 */
export function loadConfig(env: Env = process.env, opts: { isTTY?: boolean } = {}): Readonly<ApiConfig> {
  const errors: string[] = [];
  const str = (key: string): string | null => {
    const v = env[key];
    return v === undefined || v.trim() === '' ? null : v.trim();
  };
  const int = (key: string, def: number, min: number, max: number): number => {
    const raw = str(key);
    if (raw === null) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      errors.push(`${key}=${raw} (expected an integer from ${min} to ${max})`);
      return def;
    }
    return n;
  };
  const url = (key: string): string | null => {
    const raw = str(key);
    if (raw === null) return null;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
      return u.toString();
    } catch {
      errors.push(`${key}=${raw} (expected an http(s) URL)`);
      return null;
    }
  };

  const nodeEnv = str('NODE_ENV') ?? 'production';
  const isDev = nodeEnv === 'development';

  const databaseUrl = str('DATABASE_URL');
  if (databaseUrl === null) errors.push('DATABASE_URL is required (postgres://user:password@host:5432/database)');
  else if (!/^postgres(ql)?:\/\//.test(databaseUrl)) errors.push('DATABASE_URL=<hidden> (expected a postgres:// URL)');

  let jwtSecret = str('JWT_SECRET');
  if (jwtSecret === null) {
    if (isDev) jwtSecret = DEV_JWT_SECRET;
    else errors.push('JWT_SECRET is required outside development (at least 32 random characters)');
  } else if (jwtSecret.length < 32 && !isDev) {
    errors.push('JWT_SECRET=<hidden> (must be at least 32 characters)');
  }

  const expiresRaw = str('JWT_EXPIRES_IN') ?? '8h';
  let jwtExpiresIn: string | number = expiresRaw;
  let jwtLifetimeSeconds = 8 * 3600;
  const duration = /^(\d{1,12})\s*(s|m|h|d|w)?$/.exec(expiresRaw);
  if (!duration) {
    errors.push(`JWT_EXPIRES_IN=${expiresRaw} (expected seconds or a duration such as 30m, 8h, 1d)`);
  } else {
    const seconds = Number(duration[1]) * DURATION_UNITS[duration[2] ?? 's']!;
    if (seconds < MIN_JWT_LIFETIME_SECONDS || seconds > MAX_JWT_LIFETIME_SECONDS) {
      errors.push(
        `JWT_EXPIRES_IN=${expiresRaw} (expected from ${MIN_JWT_LIFETIME_SECONDS} seconds to 7d; machines use API tokens)`,
      );
    } else {
      jwtLifetimeSeconds = seconds;
      if (duration[2] === undefined) jwtExpiresIn = seconds;
    }
  }

  const adminUsername = str('ADMIN_USERNAME');
  const adminPassword = env.ADMIN_PASSWORD ?? null;
  if ((adminUsername === null) !== (adminPassword === null || adminPassword === '')) {
    errors.push('ADMIN_USERNAME and ADMIN_PASSWORD must be set together');
  } else if (adminPassword !== null && adminUsername !== null && !isDev) {
    const problem = passwordProblem(adminPassword, adminUsername);
    if (problem !== null) errors.push(`ADMIN_PASSWORD=<hidden> (not accepted: ${problem})`);
  }

  const logLevel = (str('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) errors.push(`LOG_LEVEL=${logLevel} (expected one of ${LOG_LEVELS.join(', ')})`);
  const formatRaw = str('LOG_FORMAT');
  let logFormat: 'json' | 'pretty' = (opts.isTTY ?? process.stdout.isTTY) ? 'pretty' : 'json';
  if (formatRaw === 'json' || formatRaw === 'pretty') logFormat = formatRaw;
  else if (formatRaw !== null) errors.push(`LOG_FORMAT=${formatRaw} (expected json or pretty)`);

  const bool = (key: string, def: boolean): boolean => {
    const raw = (str(key) ?? String(def)).toLowerCase();
    if (!['true', 'false', '1', '0'].includes(raw)) {
      errors.push(`${key}=${raw} (expected true or false)`);
      return def;
    }
    return raw === 'true' || raw === '1';
  };

  const metricsToken = str('METRICS_TOKEN');
  if (metricsToken !== null && metricsToken.length < 16) {
    errors.push('METRICS_TOKEN=<hidden> (at least 16 characters, or unset to leave /metrics open)');
  }

  const config: ApiConfig = {
    nodeEnv,
    databaseUrl: databaseUrl ?? '',
    jwtSecret: jwtSecret ?? '',
    jwtExpiresIn,
    jwtLifetimeSeconds,
    port: int('PORT', 5000, 0, 65535),
    host: str('HOST') ?? '0.0.0.0',
    adminUsername,
    adminPassword: adminPassword === '' ? null : adminPassword,
    uploadMaxBytes: int('UPLOAD_MAX_BYTES', 20 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxLockfileEntries: int('MAX_LOCKFILE_ENTRIES', 20_000, 1, 10_000_000),
    userMaxOpenRequests: int('USER_MAX_OPEN_REQUESTS', 20, 1, 1_000_000),
    userMaxQueuedPackages: int('USER_MAX_QUEUED_PACKAGES', 50_000, 1, 100_000_000),
    loginRateLimit: int('LOGIN_RATE_LIMIT', 10, 1, 100_000),
    loginRateLimitPerAddress: int('LOGIN_RATE_LIMIT_PER_ADDRESS', 20, 1, 100_000),
    approvalFourEyes: bool('APPROVAL_FOUR_EYES', true),
    webhookAllowPrivate: bool('WEBHOOK_ALLOW_PRIVATE', false),
    packageCacheDir: resolve(str('PACKAGE_CACHE_DIR') ?? '.data/packages'),
    targetRegistryUrl: url('TARGET_REGISTRY_URL'),
    publicUrl: url('PUBLIC_URL'),
    logLevel,
    logFormat,
    trustProxy: bool('TRUST_PROXY', false),
    registryRequireAuth: bool('REGISTRY_REQUIRE_AUTH', false),
    quarantineContact: str('QUARANTINE_CONTACT')?.trim() || null,
    metricsToken,
    docsPublic: bool('DOCS_PUBLIC', true),
    webRoot: resolve(str('WEB_ROOT') ?? DEFAULT_WEB_ROOT),
  };
  if (errors.length > 0) {
    throw new AppError('ERR_CONFIG', `Invalid environment: ${errors.join('; ')}`, { details: { errors } });
  }
  return Object.freeze(config);
}
