import type { WorkerConfig } from '../config.js';
import { TransientError } from '../errors.js';
import { ExecError, run } from '../exec.js';
import { excerpt, type Finding, type Severity } from './types.js';

export interface TrivyOptions {
  /** The executable (TRIVY_BIN, or `trivy` from PATH). */
  bin: string;
  /** Client/server mode: the Trivy server (TRIVY_SERVER_URL), or null for a standalone run. */
  serverUrl: string | null;
  token: string | null;
  timeoutMs: number;
}

/** Trivy settings from the worker config, or null when Trivy is not configured (neither a server nor a binary). */
export function trivyOptions(
  config: Pick<WorkerConfig, 'trivyBin' | 'trivyServerUrl' | 'trivyToken' | 'trivyTimeoutSeconds'>,
): TrivyOptions | null {
  if (!config.trivyBin && !config.trivyServerUrl) return null;
  return {
    bin: config.trivyBin ?? 'trivy',
    serverUrl: config.trivyServerUrl ? config.trivyServerUrl.replace(/\/+$/, '') : null,
    token: config.trivyToken,
    timeoutMs: config.trivyTimeoutSeconds * 1000,
  };
}

/** The arguments of a scan: `rootfs` (a published tarball has no lockfile for `fs` to read), vulnerabilities only. */
export function trivyArgs(opts: TrivyOptions, dir: string): string[] {
  const args = ['rootfs', '--format', 'json', '--scanners', 'vuln', '--quiet'];
  if (opts.serverUrl) {
    args.push('--server', opts.serverUrl);
    if (opts.token) args.push('--token', opts.token);
  }
  args.push(dir);
  return args;
}

function failure(what: string, err: unknown): TransientError {
  if (err instanceof ExecError) return new TransientError(`trivy ${what} failed: ${err.message}`, { cause: err });
  return new TransientError(`trivy ${what} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

const versionCache = new Map<string, { version: string; expires: number }>();

/** `trivy --version --format json` (or its text form), cached for ten minutes per executable. */
export async function trivyVersion(opts: TrivyOptions, signal?: AbortSignal): Promise<string> {
  const hit = versionCache.get(opts.bin);
  if (hit && hit.expires > Date.now()) return hit.version;
  let out;
  try {
    out = await run(opts.bin, ['--version', '--format', 'json'], { timeoutMs: 30_000, signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw failure('--version', err);
  }
  if (out.exitCode !== 0)
    throw failure('--version', new Error(`exit code ${out.exitCode}: ${excerpt(out.stderr, 300)}`));
  let version: string | null = null;
  try {
    const j = JSON.parse(out.stdout) as { Version?: unknown };
    if (typeof j.Version === 'string') version = j.Version;
  } catch {
    version = out.stdout.match(/Version:\s*v?([\w.+-]+)/)?.[1] ?? null;
  }
  if (!version) throw failure('--version', new Error(`unrecognised output: ${excerpt(out.stdout, 200)}`));
  versionCache.set(opts.bin, { version, expires: Date.now() + 10 * 60_000 });
  return version;
}

const SEVERITY: Record<string, Severity> = { CRITICAL: 'critical', HIGH: 'high', MEDIUM: 'medium', LOW: 'low' };

interface TrivyVuln {
  VulnerabilityID?: unknown;
  VendorIDs?: unknown;
  PkgName?: unknown;
  PkgPath?: unknown;
  InstalledVersion?: unknown;
  FixedVersion?: unknown;
  Severity?: unknown;
  Title?: unknown;
  Description?: unknown;
  PrimaryURL?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Maps a Trivy JSON report (schema 2) to findings. `Results` and each result's `Vulnerabilities` may
 * be missing or null; `FixedVersion` may list several versions separated by commas; an UNKNOWN
 * severity becomes medium. Throws for something that is not a Trivy report.
 */
export function mapTrivyReport(report: unknown): Finding[] {
  if (!report || typeof report !== 'object' || Array.isArray(report)) throw new Error('not a Trivy JSON report');
  const r = report as { SchemaVersion?: unknown; Results?: unknown };
  if (r.SchemaVersion !== undefined && r.SchemaVersion !== 2)
    throw new Error(`unsupported Trivy report schema ${String(r.SchemaVersion)}`);
  const out: Finding[] = [];
  for (const result of Array.isArray(r.Results) ? r.Results : []) {
    const target = str((result as { Target?: unknown })?.Target);
    const vulns = (result as { Vulnerabilities?: unknown })?.Vulnerabilities;
    for (const v of Array.isArray(vulns) ? (vulns as TrivyVuln[]) : []) {
      const id = str(v?.VulnerabilityID);
      if (!id) continue;
      const sev = SEVERITY[String(v.Severity ?? '').toUpperCase()];
      const fixed = (str(v.FixedVersion) ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const pkg = `${str(v.PkgName) ?? '?'}@${str(v.InstalledVersion) ?? '?'}`;
      const f: Finding = {
        id,
        source: 'trivy',
        severity: sev ?? 'medium',
        title: str(v.Title) ?? id,
        evidence: pkg,
        explanation:
          `Trivy reports ${pkg}${target ? ` (${target})` : ''} as affected by ${id}.` +
          (fixed.length ? ` Fixed in ${fixed.join(', ')}.` : ' No fixed version is known.') +
          (sev ? '' : ' Trivy gives no severity; treated as medium.') +
          (str(v.Description) ? ` ${excerpt(str(v.Description)!, 400)}` : ''),
      };
      const file = str(v.PkgPath) ?? target;
      if (file) f.file = file;
      const aliases = Array.isArray(v.VendorIDs)
        ? v.VendorIDs.filter((x): x is string => typeof x === 'string' && x !== id)
        : [];
      if (aliases.length) f.aliases = aliases;
      if (fixed.length) f.fixedVersions = fixed;
      if (str(v.PrimaryURL)) f.url = str(v.PrimaryURL);
      out.push(f);
    }
  }
  return out;
}

/**
 * Runs `trivy rootfs` on an extracted package through the exec wrapper (argument array, timeout,
 * the job's cancel signal). Any failure (cannot start, timeout, non-zero exit, unreadable output)
 * is a TransientError: a failed scan is retried, never taken as clean. Cancellation is rethrown.
 */
export async function trivyScan(
  opts: TrivyOptions,
  dir: string,
  signal?: AbortSignal,
): Promise<{ version: string; findings: Finding[]; durationMs: number }> {
  const version = await trivyVersion(opts, signal);
  let out;
  try {
    out = await run(opts.bin, trivyArgs(opts, dir), { timeoutMs: opts.timeoutMs, signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw failure('scan', err);
  }
  if (out.exitCode !== 0) throw failure('scan', new Error(`exit code ${out.exitCode}: ${excerpt(out.stderr, 300)}`));
  let findings: Finding[];
  try {
    findings = mapTrivyReport(JSON.parse(out.stdout));
  } catch (err) {
    throw failure('scan', new Error(`unreadable report: ${(err as Error).message}`));
  }
  return { version, findings, durationMs: out.durationMs };
}
