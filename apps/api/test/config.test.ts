import { describe, expect, it } from 'vitest';
import { AppError } from '@spm/db';
import { loadConfig } from '../src/config.js';

const base = { DATABASE_URL: 'postgres://spm:secret@db:5432/spm', JWT_SECRET: 'x'.repeat(40) };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base, { isTTY: false });
    expect(c).toMatchObject({
      port: 5000,
      host: '0.0.0.0',
      jwtExpiresIn: '8h',
      uploadMaxBytes: 20 * 1024 * 1024,
      loginRateLimit: 10,
      logLevel: 'info',
      logFormat: 'json',
      adminUsername: null,
      targetRegistryUrl: null,
      publicUrl: null,
      trustProxy: false,
      maxLockfileEntries: 20_000,
      userMaxOpenRequests: 20,
      userMaxQueuedPackages: 50_000,
      registryRequireAuth: false,
      metricsToken: null,
      docsPublic: true,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads the quota and exposure settings, and reports every bad one', () => {
    const c = loadConfig({
      ...base,
      MAX_LOCKFILE_ENTRIES: '5000',
      USER_MAX_OPEN_REQUESTS: '3',
      USER_MAX_QUEUED_PACKAGES: '9000',
      REGISTRY_REQUIRE_AUTH: 'true',
      METRICS_TOKEN: 'a-scrape-token-of-some-length',
      DOCS_PUBLIC: 'false',
    });
    expect(c).toMatchObject({
      maxLockfileEntries: 5000,
      userMaxOpenRequests: 3,
      userMaxQueuedPackages: 9000,
      registryRequireAuth: true,
      metricsToken: 'a-scrape-token-of-some-length',
      docsPublic: false,
    });
    let err: AppError | undefined;
    try {
      loadConfig({
        ...base,
        MAX_LOCKFILE_ENTRIES: '0',
        USER_MAX_OPEN_REQUESTS: 'many',
        REGISTRY_REQUIRE_AUTH: 'yes',
        METRICS_TOKEN: 'short',
        DOCS_PUBLIC: 'no',
      });
    } catch (e) {
      err = e as AppError;
    }
    expect(err?.code).toBe('ERR_CONFIG');
    for (const key of [
      'MAX_LOCKFILE_ENTRIES=0',
      'USER_MAX_OPEN_REQUESTS=many',
      'REGISTRY_REQUIRE_AUTH=yes',
      'DOCS_PUBLIC=no',
    ]) {
      expect(err?.message).toContain(key);
    }
    expect(err?.message).toContain('METRICS_TOKEN=<hidden>');
    expect(err?.message).not.toContain('short');
  });

  it('logs pretty on a TTY unless LOG_FORMAT says otherwise', () => {
    expect(loadConfig(base, { isTTY: true }).logFormat).toBe('pretty');
    expect(loadConfig({ ...base, LOG_FORMAT: 'json' }, { isTTY: true }).logFormat).toBe('json');
  });

  it('reads every variable', () => {
    const c = loadConfig({
      ...base,
      JWT_EXPIRES_IN: '3600',
      PORT: '8080',
      HOST: '127.0.0.1',
      ADMIN_USERNAME: 'root',
      ADMIN_PASSWORD: 'a long password',
      UPLOAD_MAX_BYTES: '1048576',
      LOGIN_RATE_LIMIT: '5',
      PACKAGE_CACHE_DIR: '/var/cache/spm',
      TARGET_REGISTRY_URL: 'http://verdaccio:4873',
      PUBLIC_URL: 'https://spm.example.test/',
      LOG_LEVEL: 'DEBUG',
      LOG_FORMAT: 'pretty',
      TRUST_PROXY: 'true',
    });
    expect(c).toMatchObject({
      jwtExpiresIn: 3600,
      port: 8080,
      host: '127.0.0.1',
      adminUsername: 'root',
      adminPassword: 'a long password',
      uploadMaxBytes: 1048576,
      loginRateLimit: 5,
      packageCacheDir: '/var/cache/spm',
      targetRegistryUrl: 'http://verdaccio:4873/',
      publicUrl: 'https://spm.example.test/',
      logLevel: 'debug',
      logFormat: 'pretty',
      trustProxy: true,
    });
  });

  it('reports every problem in one ERR_CONFIG error, without echoing secrets', () => {
    let err: AppError | undefined;
    try {
      loadConfig({
        DATABASE_URL: 'mysql://root:hunter2@db/x',
        JWT_SECRET: 'short',
        PORT: 'abc',
        UPLOAD_MAX_BYTES: '-1',
        LOG_LEVEL: 'loud',
        LOG_FORMAT: 'xml',
        TARGET_REGISTRY_URL: 'ftp://x',
        JWT_EXPIRES_IN: 'forever',
        ADMIN_USERNAME: 'root',
      });
    } catch (e) {
      err = e as AppError;
    }
    expect(err).toBeInstanceOf(AppError);
    expect(err!.code).toBe('ERR_CONFIG');
    expect(err!.message).toMatch(/^Invalid environment: /);
    for (const key of [
      'DATABASE_URL',
      'JWT_SECRET',
      'PORT=abc',
      'UPLOAD_MAX_BYTES=-1',
      'LOG_LEVEL=loud',
      'LOG_FORMAT=xml',
      'TARGET_REGISTRY_URL=ftp://x',
      'JWT_EXPIRES_IN=forever',
      'ADMIN_USERNAME and ADMIN_PASSWORD',
    ]) {
      expect(err!.message).toContain(key);
    }
    expect(err!.message).not.toContain('hunter2');
    expect(err!.message).not.toContain('short');
  });

  it('requires DATABASE_URL and JWT_SECRET outside development', () => {
    expect(() => loadConfig({})).toThrow(/DATABASE_URL is required.*JWT_SECRET is required/);
    expect(() => loadConfig({ DATABASE_URL: base.DATABASE_URL, NODE_ENV: 'production' })).toThrow(
      /JWT_SECRET is required/,
    );
  });

  it('allows a missing JWT_SECRET in development only', () => {
    const c = loadConfig({ DATABASE_URL: base.DATABASE_URL, NODE_ENV: 'development' });
    expect(c.jwtSecret.length).toBeGreaterThanOrEqual(32);
  });
});
