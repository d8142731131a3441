import { createDb } from '../db.js';
import { seedDevUsers, seedLicenses, type SeededUser } from '../seed.js';

/**
 * `pnpm --filter @spm/db seed`: adds the default licence policy (rows admins edited are kept) and, only
 * when NODE_ENV=development, one user per role (dev-admin, dev-approver, dev-user) with a random
 * password that is printed once: users that already exist are left alone and not printed again.
 * `--json` prints `{ "licenses": n, "users": [...] }` on stdout for scripts (`pnpm start` keeps it in
 * .data/). Exits 2 on invalid configuration, 1 on failure.
 */
async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('Invalid environment: DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/spm)');
    return 2;
  }
  const dev = process.env.NODE_ENV === 'development';
  const { db } = createDb({ connectionString: url, max: 1, applicationName: 'spm-seed' });
  try {
    const licenses = await seedLicenses(db);
    const users: SeededUser[] = dev ? await seedDevUsers(db) : [];
    if (json) {
      process.stdout.write(`${JSON.stringify({ licenses, users })}\n`);
      return 0;
    }
    console.log(`licence policy: ${licenses} default entries added`);
    if (!dev) {
      console.log('development users: not created (only with NODE_ENV=development); use ADMIN_USERNAME/ADMIN_PASSWORD');
    } else if (users.length === 0) {
      console.log('development users: already exist (passwords were printed when they were created)');
    } else {
      console.log('development users (shown once, keep them):');
      for (const u of users) console.log(`  ${u.role.padEnd(8)} ${u.username} / ${u.password}`);
    }
    return 0;
  } catch (err) {
    console.error('seed failed:', err);
    return 1;
  } finally {
    await db.destroy();
  }
}

process.exitCode = await main();
