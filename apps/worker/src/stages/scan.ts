import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { advisoriesForPackage, advisoryStats, Status, type DB, type PackageAdvisory } from '@spm/db';
import { PermanentError, permanentCause, TransientError } from '../errors.js';
import { withTempDir } from '../temp-dir.js';
import { archiveFindings, ArchiveRefusedError, withPackageView } from '../scan/archive.js';
import { builtinScan } from '../scan/builtin.js';
import { dedupeFindings } from '../scan/merge.js';
import { SourceRegistry } from '../registry/source.js';
import { countBySeverity, securityScore } from '../scan/score.js';
import { licenceOf, type ManifestLike } from '../scan/signals.js';
import { trivyOptions, trivyScan } from '../scan/trivy.js';
import { excerpt, severityRank, type Finding, type ScannerRun, type Severity } from '../scan/types.js';
import type { StageContext, StageHandler, StageOutcome } from './types.js';

/** What the scan leaves in package_status.scan_state. */
export type ScanState = 'clean' | 'findings' | 'malware' | 'rejected-by-policy' | 'archive-refused';

export interface ScanStageDeps {
  /** The registry's version documents: the worker's shared SourceRegistry (one is made from the config otherwise). */
  registry?: Pick<SourceRegistry, 'versionDocument'>;
}

const BUILTIN_VERSION = '1';

function tarballPath(cacheDir: string, key: string): string | null {
  const p = resolve(cacheDir, key);
  const rel = relative(resolve(cacheDir), p);
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return null;
  return p;
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** The declared licence as a comparable string; the lockfile may hold a legacy object or array, serialised. */
function declaredLicence(raw: string | null): string | null {
  if (!raw) return null;
  const t = raw.trim();
  if (t.startsWith('{') || t.startsWith('[') || t.startsWith('"')) {
    try {
      const v = JSON.parse(t) as unknown;
      return licenceOf(Array.isArray(v) ? { licenses: v } : { license: v });
    } catch {
      return t;
    }
  }
  return t;
}

function sortFindings(findings: Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => severityRank(b.f.severity) - severityRank(a.f.severity) || a.i - b.i)
    .map((x) => x.f);
}

function summarise(findings: Finding[], n = 3): string {
  const shown = findings.slice(0, n).map((f) => `${f.id} (${f.severity}): ${excerpt(f.title, 80)}`);
  return shown.join('; ') + (findings.length > n ? `; and ${findings.length - n} more` : '');
}

async function lookupAdvisories(
  db: DB,
  name: string,
): Promise<{ advisories: PackageAdvisory[]; stats: Awaited<ReturnType<typeof advisoryStats>> }> {
  try {
    const [advisories, stats] = await Promise.all([advisoriesForPackage(db, name), advisoryStats(db)]);
    return { advisories, stats };
  } catch (err) {
    throw new TransientError(`advisory lookup failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The security-scan stage (Downloaded → Security Scanning → Security Scanned).
 *
 * Reads the stored tarball once into its npm-equivalent view (`scan/archive.ts`: exactly the files npm
 * installs; a hostile archive or one over a hard limit is Rejected, kind policy), adds the archive's own
 * findings (second top-level folder, duplicates, unusual sizes), runs the built-in scanner on the view's files and, when configured, Trivy; merges and deduplicates their findings; records a
 * `security_scans` row (scanners and versions, counts per severity, findings, duration, score); and
 * decides: malware → reject (policy); a finding at or above SCAN_AUTO_REJECT_SEVERITY → reject
 * (policy); otherwise Security Scanned with security_score and scan_state set, where the policy
 * decides (stages/decide.ts). A scanner failure throws TransientError (retried,
 * never a pass). A tarball missing from the cache sends the package back to Licence Checked to be
 * downloaded again.
 */
export function createScanStage(deps: ScanStageDeps = {}): StageHandler {
  return async function scanStage(ctx: StageContext): Promise<StageOutcome> {
    const { pkg, config, db, signal, log } = ctx;
    const started = Date.now();
    const file = pkg.storageKey ? tarballPath(config.packageCacheDir, pkg.storageKey) : null;
    if (!file || !(await exists(file))) {
      log.warn({ storageKey: pkg.storageKey }, 'stored tarball missing; sending the package back to be downloaded');
      return {
        kind: 'done',
        to: Status.LicenceChecked,
        reason: `stored tarball ${pkg.storageKey ?? '(none recorded)'} is missing from the cache; downloading it again`,
      };
    }

    const limits = {
      maxEntries: config.scanMaxEntries,
      maxUnpackedBytes: config.scanMaxUnpackedBytes,
      maxFileBytes: config.scanMaxFileBytes,
      maxCompressionRatio: config.scanMaxCompressionRatio,
    };
    const trivy = trivyOptions(config);
    const registry = deps.registry ?? SourceRegistry.fromConfig(config);
    const scanners: ScannerRun[] = [];

    let findings: Finding[];
    try {
      findings = await withPackageView(file, { limits, signal }, async (view) => {
        const manifest = view.manifest as ManifestLike | null;
        let registryDoc: ManifestLike | null = null;
        let registryError: string | undefined;
        try {
          registryDoc = (await registry.versionDocument(pkg.name, pkg.version, signal)) as ManifestLike;
        } catch (err) {
          if (signal.aborted) throw err;
          registryError = excerpt((err as Error).message ?? String(err));
        }
        const { advisories, stats } = await lookupAdvisories(db, pkg.name);

        const t0 = Date.now();
        let builtin: Finding[];
        try {
          builtin = await builtinScan({
            contents: view,
            name: pkg.name,
            version: pkg.version,
            manifest,
            manifestError: view.manifestError,
            registryDoc,
            registryError,
            declaredLicence: declaredLicence(pkg.declaredLicense),
            advisories,
            signal,
          });
        } catch (err) {
          if (signal.aborted || permanentCause(err)) throw err;
          throw new TransientError(`built-in scanner failed: ${(err as Error).message}`, { cause: err });
        }
        scanners.push({
          name: 'builtin',
          version: BUILTIN_VERSION,
          durationMs: Date.now() - t0,
          findings: builtin.length,
          details: {
            advisories: stats.count,
            advisoriesNewest: stats.latestModified?.toISOString() ?? null,
            registryComparison: registryDoc ? 'compared' : 'unavailable',
            ...view.stats,
          },
        });
        const fromArchive = archiveFindings(view);

        let fromTrivy: Finding[] = [];
        if (trivy) {
          // Trivy reads a folder: it gets the view's files laid out as npm would, nothing else.
          const res = await withTempDir('spm-trivy-', async (dir) => {
            await view.materialize(dir);
            return trivyScan(trivy, dir, signal);
          });
          fromTrivy = res.findings;
          scanners.push({
            name: 'trivy',
            version: res.version,
            durationMs: res.durationMs,
            findings: res.findings.length,
            details: { mode: trivy.serverUrl ? 'client/server' : 'standalone' },
          });
        }
        return sortFindings(dedupeFindings([...fromArchive, ...builtin, ...fromTrivy]));
      });
    } catch (err) {
      if (err instanceof ArchiveRefusedError) {
        const f: Finding = {
          id: 'archive-refused',
          source: 'signal',
          severity: 'critical',
          title: err.limit ? 'The archive passes a hard limit and was not read further' : 'The archive was refused',
          evidence: excerpt(err.message),
          explanation: err.limit
            ? 'Reading it would take more than this machine allows (the limits sit far above every real package measured); raise the setting named in the evidence only if the package is expected to be this large.'
            : 'The archive is not a readable tar archive, or it is built to write outside the package folder. It was not scanned.',
        };
        return {
          kind: 'reject',
          rejection: 'policy',
          reason: err.message,
          patch: { scan_state: 'archive-refused' },
          scan: {
            packageId: pkg.packageId,
            scanners: [{ name: 'archive', version: BUILTIN_VERSION, durationMs: Date.now() - started, findings: 1 }],
            counts: countBySeverity([f]),
            findings: [f],
            malware: false,
            score: securityScore([f]),
            durationMs: Date.now() - started,
          },
        };
      }
      if (err instanceof PermanentError || err instanceof TransientError || signal.aborted) throw err;
      // A bug or a data error fails the same way every time: rethrown for the worker to end it at once.
      if (permanentCause(err)) throw err;
      throw new TransientError(`security scan failed: ${(err as Error).message}`, { cause: err });
    }

    const counts = countBySeverity(findings);
    const malware = findings.filter((f) => f.malware);
    const score = securityScore(findings);
    const durationMs = Date.now() - started;
    const threshold = config.scanAutoRejectSeverity as Severity | null;
    const blocking = threshold ? findings.filter((f) => severityRank(f.severity) >= severityRank(threshold)) : [];
    const scanState: ScanState = malware.length
      ? 'malware'
      : blocking.length
        ? 'rejected-by-policy'
        : findings.some((f) => f.severity !== 'info')
          ? 'findings'
          : 'clean';

    // Recorded by the worker with the transition, in the fenced completion: nothing is written here.
    const scan = {
      packageId: pkg.packageId,
      scanners,
      counts,
      findings,
      malware: malware.length > 0,
      score,
      durationMs,
    };
    const patch = { security_score: score, scan_state: scanState };
    const details = { score, counts, scanners: scanners.map((s) => `${s.name}@${s.version}`) };
    log.info({ score, counts, durationMs, scanState }, 'security scan complete');

    if (malware.length) {
      return {
        kind: 'reject',
        rejection: 'policy',
        reason: `malware: ${pkg.name}@${pkg.version} is listed as malicious (${summarise(malware)})`,
        patch,
        details,
        scan,
      };
    }
    if (blocking.length) {
      return {
        kind: 'reject',
        rejection: 'policy',
        reason: `security policy SCAN_AUTO_REJECT_SEVERITY=${threshold}: ${blocking.length} finding(s) at or above ${threshold}: ${summarise(blocking)}`,
        patch,
        details,
        scan,
      };
    }
    // The decision is the policy's (the decide stage, next): the scan only reports.
    return { kind: 'done', patch, details, scan };
  };
}

/** The scan stage with default dependencies (registry documents fetched from SOURCE_REGISTRY_URL). */
export const scanStage: StageHandler = createScanStage();
