import { mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './errors.js';

/*
 * Where the CLI finds the server and the token: --url/--token, then SPM_URL/SPM_TOKEN (what a CI job
 * sets), then the file `spm login` writes ($SPM_CONFIG, else $XDG_CONFIG_HOME/spm/config.json, else
 * ~/.config/spm/config.json), readable by its owner only.
 */

export interface StoredConfig {
  url?: string;
  token?: string;
  username?: string;
  /** What the token is: an API token (`spm login`, the default) or a session (`spm login --session`). */
  kind?: 'api-token' | 'session';
  /** When the token stops working (ISO 8601), as the server said. */
  expiresAt?: string;
}

export interface Connection {
  url: string;
  token: string | undefined;
}

export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.SPM_CONFIG) return env.SPM_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'spm', 'config.json');
}

export async function readStoredConfig(env: NodeJS.ProcessEnv): Promise<StoredConfig> {
  const file = configPath(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`, 'ERR_CONFIG');
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    const c = parsed as Record<string, unknown>;
    return {
      url: typeof c.url === 'string' ? c.url : undefined,
      token: typeof c.token === 'string' ? c.token : undefined,
      username: typeof c.username === 'string' ? c.username : undefined,
      kind: c.kind === 'api-token' || c.kind === 'session' ? c.kind : undefined,
      expiresAt: typeof c.expiresAt === 'string' ? c.expiresAt : undefined,
    };
  } catch (err) {
    throw new CliError(`${file} is not valid: ${(err as Error).message}`, 'ERR_CONFIG', 'Run `spm login` again.');
  }
}

/** Writes the config file for its owner only (0600, in a 0700 folder). */
export async function writeStoredConfig(env: NodeJS.ProcessEnv, config: StoredConfig): Promise<string> {
  const file = configPath(env);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}

export async function removeStoredToken(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const stored = await readStoredConfig(env);
  if (!stored.token) return undefined;
  const { token: _dropped, kind: _kind, expiresAt: _expires, ...rest } = stored;
  if (Object.keys(rest).length === 0) await rm(configPath(env), { force: true });
  else await writeStoredConfig(env, rest);
  return configPath(env);
}

/** The server's base address: http(s) only, without a trailing slash. */
export function normaliseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(`"${raw}" is not a URL.`, 'ERR_USAGE', 'Give the server as http://host:port or https://host.');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new CliError(`"${raw}" is not an http(s) URL.`, 'ERR_USAGE');
  }
  return u.toString().replace(/\/+$/, '');
}

export async function resolveConnection(
  env: NodeJS.ProcessEnv,
  flags: { url?: string | undefined; token?: string | undefined },
): Promise<Connection> {
  const stored = flags.url && flags.token ? {} : await readStoredConfig(env);
  const url = flags.url || env.SPM_URL || stored.url;
  if (!url) {
    throw new CliError(
      'No server given.',
      'ERR_USAGE',
      'Set SPM_URL (and SPM_TOKEN), pass --url, or run `spm login --url <server>`.',
    );
  }
  return { url: normaliseUrl(url), token: flags.token || env.SPM_TOKEN || stored.token };
}
