import { parseArgs } from 'node:util';
import { createDb, createUser, passwordProblem, type Role } from '@spm/db';
import { loadConfig } from '../config.js';

const USAGE =
  'usage: pnpm --filter @spm/api create-user --username NAME [--role user|approver|admin]\n' +
  '  The password is read from SPM_PASSWORD, or from the first line of stdin.';

async function readStdinLine(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** Creates a user from the shell. Exit codes: 0 created, 64 usage, 65 user exists / bad input, 1 other. */
async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { username: { type: 'string' }, role: { type: 'string', default: 'user' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 64;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const role = values.role as Role;
  if (!values.username || !['user', 'approver', 'admin'].includes(role)) {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/.test(values.username)) {
    process.stderr.write('username: letters, digits and . _ @ - only, at most 100 characters\n');
    return 65;
  }
  // Only DATABASE_URL matters here; the server's other settings are not required.
  const config = loadConfig({ ...process.env, NODE_ENV: 'development', LOG_FORMAT: 'json' });
  const password = process.env.SPM_PASSWORD ?? (await readStdinLine());
  const problem = passwordProblem(password, values.username);
  if (problem !== null) {
    process.stderr.write(`password not accepted: ${problem}\n`);
    return 65;
  }
  const { db } = createDb({ connectionString: config.databaseUrl, max: 1, applicationName: 'spm-create-user' });
  try {
    const user = await createUser(db, { username: values.username, password, role });
    await db
      .insertInto('audit_log')
      .values({
        actor_id: null,
        actor_username: 'cli',
        action: 'user.create',
        target_type: 'user',
        target_id: String(user.id),
        details: JSON.stringify({ username: user.username, role: user.role, via: 'create-user' }),
        ip: null,
      })
      .execute();
    process.stdout.write(`created ${user.role} ${user.username} (id ${user.id})\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return (err as { code?: string }).code === 'ERR_USER_EXISTS' ? 65 : 1;
  } finally {
    await db.destroy();
  }
}

main().then((code) => process.exit(code));
