import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const r = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests import the workspace packages from source; processes the tests spawn run the built dist.
const alias = {
  '@spm/db/testing': r('./packages/db/src/testing/index.ts'),
  '@spm/db/vocabulary': r('./packages/db/src/vocabulary.ts'),
  '@spm/db': r('./packages/db/src/index.ts'),
  '@spm/testkit': r('./packages/testkit/src/index.ts'),
  '@spm/tarball': r('./packages/tarball/src/index.ts'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['{apps,packages,bench}/*/test/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**', 'apps/web/**'],
          environment: 'node',
          // Some unit tests are CPU-bound property checks; on a loaded 2-core machine the default
          // 5 s per test is a wall-clock bound they can miss. A hang still fails.
          testTimeout: 60_000,
        },
      },
      {
        // The web app's components and modules, in a simulated DOM (the browser tests use a real one).
        resolve: { alias },
        test: {
          name: 'web',
          sequence: { groupOrder: 0 },
          include: ['apps/web/test/**/*.test.{ts,tsx}'],
          environment: 'happy-dom',
          testTimeout: 60_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['{apps,packages,bench}/*/test/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          globalSetup: ['./test/global-setup.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
          maxWorkers: 3,
        },
      },
    ],
  },
});
