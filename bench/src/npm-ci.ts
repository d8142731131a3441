import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { msSince } from './stats.js';

export interface NpmCiRun {
  ms: number;
  exitCode: number;
  stderrTail: string;
}

/**
 * `npm ci --ignore-scripts --no-audit --no-fund` of the lockfile into a new directory with an empty
 * cache (a CI machine's first install), against `registry`. Timed from spawn to exit.
 */
export async function runNpmCi(opts: { lockfile: unknown; packageJson: unknown; registry: string }): Promise<NpmCiRun> {
  const dir = await mkdtemp(join(tmpdir(), 'spm-bench-npmci-'));
  try {
    await writeFile(join(dir, 'package.json'), JSON.stringify(opts.packageJson, null, 2));
    await writeFile(join(dir, 'package-lock.json'), JSON.stringify(opts.lockfile, null, 2));
    const cache = join(dir, '.npm-cache');
    const args = [
      'ci',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--cache',
      cache,
      '--registry',
      opts.registry,
      '--loglevel',
      'error',
    ];
    const start = process.hrtime.bigint();
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      const child = spawn('npm', args, {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'pipe'],
        // A clean npm environment: no user .npmrc, no update check.
        env: { ...process.env, npm_config_userconfig: join(dir, '.npmrc-none'), npm_config_update_notifier: 'false' },
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      child.on('error', reject);
      child.on('exit', (c) => resolve({ code: c ?? -1, stderr: err }));
    });
    return { ms: msSince(start), exitCode: code, stderrTail: stderr.trim().slice(-1000) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
