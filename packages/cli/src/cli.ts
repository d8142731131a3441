import { parseArgs } from 'node:util';
import {
  decideCommand,
  login,
  logout,
  parseWaitOptions,
  report,
  sbom,
  status,
  submit,
  VERSION,
  type Common,
  type Io,
} from './commands.js';
import { CliError, EXIT, usageError } from './errors.js';

export const HELP = `spm ${VERSION}: the Secure Package Manager's command-line client

Usage:
  spm login [--url URL] [--username NAME] [--password-stdin] [--scopes submit,read,registry] [--days N]
  spm login --session [--url URL] [--username NAME] [--password-stdin]     (for approve and reject)
  spm login --token TOKEN [--url URL]
  spm logout                    ends the stored token on the server and forgets it
  spm submit [LOCKFILE] [--wait] [--timeout S] [--fail-on rejected,pending] [--sarif FILE]
             [--name APP] [--app-version V] [--priority urgent|high|normal|low]
  spm status REQUEST [--wait] [--timeout S] [--fail-on ...] [--sarif FILE]
  spm report PACKAGE            PACKAGE is name@version or a package id
  spm sbom REQUEST [--format cyclonedx|spdx] [--output FILE]   its bill of materials (CycloneDX 1.6, SPDX 2.3)
  spm approve PACKAGE... [--reason TEXT]     (approvers and admins)
  spm reject PACKAGE... --reason TEXT        (approvers and admins)

Options for every command:
  --url URL      the server (else SPM_URL, else the one \`spm login\` stored)
  --token TOKEN  an API token (else SPM_TOKEN, else the one \`spm login\` stored)
  --json         print a machine-readable result on stdout
  --all          (submit, status) list the allowed packages too
  --interval S   (--wait) seconds between polls, default 2

LOCKFILE defaults to the first of package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml
found in the current folder. --fail-on defaults to rejected,pending (none: only errors fail).
--priority: users may choose normal (default) or low; approvers and admins also high or urgent.

Exit codes:
  0  everything allowed (approved or published)
  1  something rejected
  2  something still waiting for a person, or --timeout passed first
  3  usage, connection or server error
`;

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'v', default: false },
  username: { type: 'string' },
  'password-stdin': { type: 'boolean', default: false },
  session: { type: 'boolean', default: false },
  scopes: { type: 'string' },
  days: { type: 'string' },
  wait: { type: 'boolean', default: false },
  timeout: { type: 'string' },
  interval: { type: 'string' },
  'fail-on': { type: 'string' },
  sarif: { type: 'string' },
  all: { type: 'boolean', default: false },
  name: { type: 'string' },
  'app-version': { type: 'string' },
  priority: { type: 'string' },
  reason: { type: 'string' },
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
} as const;

/** Which options each command takes, beyond --url, --token, --json and --help. */
const ACCEPTS: Record<string, readonly string[]> = {
  login: ['username', 'password-stdin', 'session', 'scopes', 'days'],
  logout: [],
  submit: ['wait', 'timeout', 'interval', 'fail-on', 'sarif', 'all', 'name', 'app-version', 'priority'],
  status: ['wait', 'timeout', 'interval', 'fail-on', 'sarif', 'all'],
  report: [],
  sbom: ['format', 'output'],
  approve: ['reason'],
  reject: ['reason'],
};
const EVERYWHERE = ['url', 'token', 'json', 'help', 'version'];

/** Runs one command line; returns the exit code (never throws). */
export async function run(argv: string[], io: Io): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`spm: ${err.message} (${err.code})\n`);
      if (err.hint) io.stderr.write(`     ${err.hint}\n`);
      return EXIT.error;
    }
    io.stderr.write(`spm: unexpected failure: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.error;
  }
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.allowed;
  }
  const [command, ...args] = positionals;
  if (values.help || !command) {
    (values.help ? io.stdout : io.stderr).write(HELP);
    return values.help ? EXIT.allowed : EXIT.error;
  }
  const accepted = ACCEPTS[command];
  if (!accepted) throw usageError(`Unknown command "${command}".`);
  for (const [key, value] of Object.entries(values)) {
    const given = value !== undefined && value !== false;
    if (given && !EVERYWHERE.includes(key) && !accepted.includes(key)) {
      throw usageError(`spm ${command} does not take --${key}.`);
    }
  }
  const common: Common = { url: values.url, token: values.token, json: values.json };
  const extra = (max: number) => {
    if (args.length > max) throw usageError(`spm ${command}: unexpected argument "${args[max]}".`);
  };
  switch (command) {
    case 'login':
      extra(0);
      return login(io, common, {
        username: values.username,
        passwordStdin: values['password-stdin'],
        session: values.session,
        scopes: values.scopes,
        days: values.days,
      });
    case 'logout':
      extra(0);
      return logout(io, common);
    case 'submit':
      extra(1);
      return submit(io, common, args[0], {
        ...parseWaitOptions(values),
        name: values.name,
        appVersion: values['app-version'],
        priority: values.priority,
      });
    case 'status':
      extra(1);
      return status(io, common, args[0], parseWaitOptions(values));
    case 'report':
      extra(1);
      return report(io, common, args[0]);
    case 'sbom':
      extra(1);
      return sbom(io, common, args[0], { format: values.format, output: values.output });
    case 'approve':
    case 'reject':
      return decideCommand(io, common, command, args, values.reason);
    default:
      throw usageError(`Unknown command "${command}".`);
  }
}
