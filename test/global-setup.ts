import type { TestProject } from 'vitest/node';
import { createTemplateDatabase, dropDatabase } from '../packages/db/src/testing/index.js';

/**
 * Integration tests need PostgreSQL. With DATABASE_URL set, a migrated template database is created on
 * that server; otherwise PostgreSQL is started with testcontainers. Each test file then clones its own
 * database from the template (createTestDatabase).
 */
export default async function setup(_project: TestProject): Promise<() => Promise<void>> {
  let serverUrl = process.env.DATABASE_URL;
  let stopContainer: (() => Promise<unknown>) | undefined;
  if (!serverUrl) {
    try {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:16-alpine').start();
      serverUrl = container.getConnectionUri();
      stopContainer = () => container.stop();
    } catch (err) {
      throw new Error(
        'Integration tests need PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) ' +
          `or make Docker available for testcontainers. Starting a container failed: ${(err as Error).message}`,
      );
    }
  }
  const template = await createTemplateDatabase(serverUrl);
  process.env.SPM_TEST_SERVER_URL = serverUrl;
  process.env.SPM_TEST_TEMPLATE_DB = template;
  return async () => {
    await dropDatabase(serverUrl, template).catch(() => undefined);
    await stopContainer?.();
  };
}
