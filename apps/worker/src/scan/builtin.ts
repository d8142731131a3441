import semver from 'semver';
import type { PackageAdvisory } from '@spm/db';
import { isAffected, isSeverity, validateRange, type OsvRange } from './osv.js';
import { behaviourFiles } from './behaviour/files.js';
import { detectBehaviour } from './behaviour/index.js';
import { supplyChainSignals, type ManifestLike } from './signals.js';
import { excerpt, type Finding, type PackageFiles } from './types.js';

/**
 * Matches name@version against the advisories stored for the package name (OSV rules; withdrawn ones
 * are never passed in). A `MAL-` advisory gives a critical malware finding. Ranges that no longer
 * validate are ignored rather than guessed at.
 */
export function matchAdvisories(version: string, advisories: PackageAdvisory[]): Finding[] {
  const out: Finding[] = [];
  for (const adv of advisories) {
    const hit = adv.affected.some((a) => {
      const ranges = (Array.isArray(a.ranges) ? a.ranges : []).filter((r): r is OsvRange => validateRange(r) === null);
      return isAffected(version, { ranges, versions: a.versions });
    });
    if (!hit) continue;
    const allFixed = [...new Set(adv.affected.flatMap((a) => a.fixedVersions))];
    const later = allFixed.filter((v) => semver.valid(v) && semver.valid(version) && semver.gt(v, version));
    const fixedVersions = (later.length ? later : allFixed).sort((a, b) =>
      semver.valid(a) && semver.valid(b) ? semver.compare(a, b) : a.localeCompare(b),
    );
    const url =
      adv.references.find((r) => r.type === 'ADVISORY')?.url ??
      adv.references.find((r) => typeof r.url === 'string')?.url;
    const severity = adv.malware ? 'critical' : isSeverity(adv.severity) ? adv.severity : 'medium';
    const f: Finding = {
      id: adv.id,
      source: 'osv',
      severity,
      title: adv.malware ? `Known malicious package (${adv.id})` : (adv.summary ?? adv.id),
      explanation: adv.malware
        ? `This version is listed as malware by ${adv.id}${adv.summary ? `: ${adv.summary}` : ''}. It must not be installed.`
        : `This version is in the affected range of ${adv.id}${adv.aliases.length ? ` (${adv.aliases.join(', ')})` : ''}.` +
          (fixedVersions.length ? ` Fixed in ${fixedVersions.join(', ')}.` : ' No fixed version is known.') +
          (isSeverity(adv.severity) ? '' : ' The advisory gives no severity; treated as medium.') +
          (adv.details ? ` ${excerpt(adv.details, 400)}` : ''),
    };
    if (adv.aliases.length) f.aliases = [...adv.aliases];
    if (fixedVersions.length) f.fixedVersions = fixedVersions;
    if (url) f.url = url;
    if (adv.cvssVector) f.evidence = adv.cvssVector;
    if (adv.malware) f.malware = true;
    out.push(f);
  }
  return out;
}

export interface BuiltinScanInput {
  /** The files npm installs (the archive's view). */
  contents: PackageFiles;
  name: string;
  version: string;
  manifest: ManifestLike | null;
  manifestError?: string | null;
  registryDoc: ManifestLike | null;
  registryError?: string;
  declaredLicence: string | null;
  advisories: PackageAdvisory[];
  signal?: AbortSignal;
}

/**
 * The built-in scanner: advisory matches, supply-chain signals and behaviour detection over all code
 * of the package (scan/behaviour). Needs no external service.
 */
export async function builtinScan(input: BuiltinScanInput): Promise<Finding[]> {
  const vulns = matchAdvisories(input.version, input.advisories);
  const signals = await supplyChainSignals(input);
  const behaviour = detectBehaviour({
    files: await behaviourFiles(input.contents.files, input.signal),
    manifest: input.manifest,
    signal: input.signal,
  });
  return [...vulns, ...signals, ...behaviour];
}
