import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The real package-manager clients, installed by `pnpm install` as devDependencies of this package
 * (so tests need no network to get them): yarn 1, Yarn 4 (@yarnpkg/cli-dist's bundle), pnpm 9 and 10.
 * Each runs as `node <its entry>`: no PATH lookup, no corepack, no download of another version.
 */
export type ClientName = 'yarn1' | 'yarn4' | 'pnpm9' | 'pnpm10';

const modules = fileURLToPath(new URL('../node_modules/', import.meta.url));

export const CLIENT_ENTRIES: Readonly<Record<ClientName, string>> = {
  yarn1: join(modules, 'yarn1/bin/yarn.js'),
  yarn4: join(modules, '@yarnpkg/cli-dist/bin/yarn.js'),
  pnpm9: join(modules, 'pnpm9/bin/pnpm.cjs'),
  pnpm10: join(modules, 'pnpm10/bin/pnpm.cjs'),
};

export interface ClientRun {
  ok: boolean;
  output: string;
}

/**
 * The environment a client runs in: the caller's, without any npm/yarn/pnpm configuration that
 * whatever runs the tests set (npm_config_*, YARN_*, PNPM_*), with HOME pointed at `home` so no user
 * configuration is read, and every switch that would reach the internet off: update checks,
 * telemetry, corepack and pnpm's own version management.
 */
export function clientEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(npm_config_|yarn_|pnpm_|corepack_)/i.test(k)),
  );
  return {
    ...env,
    HOME: home,
    USERPROFILE: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    COREPACK_ENABLE_NETWORK: '0',
    COREPACK_ENABLE_STRICT: '0',
    COREPACK_ENABLE_AUTO_PIN: '0',
    YARN_ENABLE_TELEMETRY: '0',
    YARN_IGNORE_PATH: '1',
    npm_config_update_notifier: 'false',
    npm_config_manage_package_manager_versions: 'false',
    ...extra,
  };
}

/** Runs a client with argument arrays (no shell). Never throws for a failed run: `ok` and `output` tell. */
export function runClient(
  client: ClientName,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<ClientRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLIENT_ENTRIES[client], ...args],
      { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 180_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}${err && !stderr ? err.message : ''}` }),
    );
  });
}
