import { ensureAdmin, isAppError } from '@spm/db';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

/**
 * Starts the API: validates the environment, bootstraps the first admin from ADMIN_USERNAME /
 * ADMIN_PASSWORD when no admin exists, listens, and closes gracefully on SIGTERM or SIGINT (in-flight
 * requests finish; a second signal exits at once). Migrations are run separately (`pnpm migrate`).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${isAppError(err) ? err.message : String(err)}\n`);
    process.exit(78);
  }
  const app = await buildApp(config);
  if (config.adminUsername && config.adminPassword) {
    const outcome = await ensureAdmin(app.db, { username: config.adminUsername, password: config.adminPassword });
    if (outcome === 'created')
      app.log.info({ username: config.adminUsername }, 'created the first admin from ADMIN_USERNAME');
    else if (outcome === 'exists')
      app.log.warn(
        { username: config.adminUsername },
        'no admin exists but ADMIN_USERNAME is taken by a non-admin user; not changed',
      );
  }

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
    const deadline = setTimeout(() => {
      app.log.error('shutdown took over 10 s: exiting');
      process.exit(1);
    }, 10_000);
    deadline.unref();
    app.close().then(
      () => {
        app.log.info('closed');
        process.exit(0);
      },
      (err: unknown) => {
        app.log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await app.listen({ port: config.port, host: config.host });
}

main().catch((err: unknown) => {
  process.stderr.write(`API failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
