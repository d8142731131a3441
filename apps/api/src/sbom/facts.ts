import { PackageURL } from 'packageurl-js';
import parseSpdx from 'spdx-expression-parse';
import type { BomPackage } from '@spm/db';
import { tarballFileName } from '../registry/packument.js';

/*
 * What both bill-of-materials formats say about a package, read once from what the gate recorded: the
 * package URL, the hashes (lockfile, registry and stored tarball, deduplicated), the licence, the gate's
 * decision, and the vulnerabilities of its latest scan with the waivers that cover them (VEX).
 */

export interface BomHash {
  /** The SRI algorithm: sha1, sha256, sha384 or sha512. */
  algorithm: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  hex: string;
}

export interface BomVulnerability {
  id: string;
  aliases: string[];
  severity: string;
  title: string;
  url: string | null;
  fixedVersions: string[];
  malware: boolean;
  /** The waiver that covers it (an approver's exception, with reason, owner and expiry), or null. */
  waiver: { id: number; reason: string; owner: string; expiresAt: string } | null;
  /** It arrived after the version was approved (continuous protection), not from the version's scan. */
  afterApproval: boolean;
  /** It holds the version in quarantine now (the built-in registry refuses it). */
  quarantining: boolean;
}

export interface BomFacts {
  purl: string;
  /** `@scope` or null; the name without it. */
  scope: string | null;
  shortName: string;
  hashes: BomHash[];
  /** The licence as a valid SPDX expression (what the licence stage evaluated, else what was declared), or null. */
  license: string | null;
  /** A licence text that is not a valid SPDX expression (`SEE LICENSE IN …`, a typo), or null. */
  licenseName: string | null;
  vulnerabilities: BomVulnerability[];
}

const ALGORITHMS = new Set(['sha1', 'sha256', 'sha384', 'sha512']);

/** The hashes of one or more SRI strings (`sha512-<base64> sha1-<base64>`), deduplicated. */
export function sriHashes(...sris: Array<string | null | undefined>): BomHash[] {
  const seen = new Map<string, BomHash>();
  for (const sri of sris) {
    for (const part of (sri ?? '').split(/\s+/)) {
      const m = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+=*)(?:\?.*)?$/.exec(part);
      if (!m || !ALGORITHMS.has(m[1]!)) continue;
      const hex = Buffer.from(m[2]!, 'base64').toString('hex');
      seen.set(`${m[1]}:${hex}`, { algorithm: m[1] as BomHash['algorithm'], hex });
    }
  }
  return [...seen.values()];
}

export function validSpdx(expression: string | null | undefined): string | null {
  if (!expression) return null;
  try {
    parseSpdx(expression);
    return expression;
  } catch {
    return null;
  }
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

interface WaivedJson {
  id?: unknown;
  kind?: unknown;
  subject?: unknown;
  reason?: unknown;
  owner?: unknown;
  expiresAt?: unknown;
}

/** The advisory waivers the policy applied to the package, by the advisory id or alias they name. */
function advisoryWaivers(decision: unknown): Map<string, BomVulnerability['waiver'] & object> {
  const out = new Map<string, BomVulnerability['waiver'] & object>();
  const waived = (decision as { waived?: unknown } | null)?.waived;
  if (!Array.isArray(waived)) return out;
  for (const w of waived as WaivedJson[]) {
    if (w.kind !== 'advisory' || typeof w.subject !== 'string' || typeof w.id !== 'number') continue;
    out.set(w.subject.toUpperCase(), {
      id: w.id,
      reason: typeof w.reason === 'string' ? w.reason : '',
      owner: typeof w.owner === 'string' ? w.owner : '',
      expiresAt: typeof w.expiresAt === 'string' ? w.expiresAt : '',
    });
  }
  return out;
}

/** The vulnerabilities of a package's latest scan (supply-chain signals are not vulnerabilities), waivers attached. */
export function vulnerabilitiesOf(
  pkg: Pick<BomPackage, 'findings' | 'policyDecision' | 'afterApproval'>,
): BomVulnerability[] {
  const waivers = advisoryWaivers(pkg.policyDecision);
  const out: BomVulnerability[] = [];
  for (const raw of pkg.findings) {
    const f = raw as Record<string, unknown>;
    if (!f || typeof f !== 'object' || f.source === 'signal' || typeof f.id !== 'string') continue;
    const aliases = strings(f.aliases);
    const waiver = [f.id, ...aliases].map((id) => waivers.get(id.toUpperCase())).find(Boolean) ?? null;
    out.push({
      id: f.id,
      aliases,
      severity: typeof f.severity === 'string' ? f.severity : 'unknown',
      title: typeof f.title === 'string' ? f.title : f.id,
      url: typeof f.url === 'string' && /^https?:\/\//.test(f.url) ? f.url : null,
      fixedVersions: strings(f.fixedVersions),
      malware: f.malware === true,
      waiver,
      afterApproval: false,
      quarantining: false,
    });
  }
  // Advisories that reached the version after its approval (not in its scan, or also in it).
  for (const a of pkg.afterApproval) {
    const quarantining = a.action === 'quarantine' && a.release === null;
    const known = out.find((v) => v.id === a.advisoryId);
    if (known) {
      known.afterApproval = true;
      known.quarantining = quarantining;
      known.waiver ??= a.release;
      continue;
    }
    out.push({
      id: a.advisoryId,
      aliases: a.aliases ?? [],
      severity: a.malware ? 'critical' : (a.severity ?? 'unknown'),
      title: a.summary ?? a.advisoryId,
      url: null,
      fixedVersions: [],
      malware: a.malware,
      waiver: a.release,
      afterApproval: true,
      quarantining,
    });
  }
  return out;
}

export function factsOf(pkg: BomPackage): BomFacts {
  const scoped = pkg.name.startsWith('@') ? pkg.name.split('/') : null;
  const scope = scoped ? scoped[0]! : null;
  const shortName = scoped ? scoped.slice(1).join('/') : pkg.name;
  const evaluated = validSpdx(pkg.licenseExpression) ?? validSpdx(pkg.declaredLicense);
  const text = pkg.licenseExpression ?? pkg.declaredLicense;
  return {
    purl: new PackageURL('npm', scope, shortName, pkg.version, undefined, undefined).toString(),
    scope,
    shortName,
    hashes: sriHashes(pkg.checksum, pkg.registryIntegrity, pkg.integrity),
    license: evaluated,
    licenseName: evaluated ? null : (text ?? null),
    vulnerabilities: vulnerabilitiesOf(pkg),
  };
}

/** Where `npm install` gets the vetted tarball: the gate's own registry (`…/registry/name/-/file.tgz`). */
export function servedTarball(servedRegistry: string, name: string, version: string): string {
  return `${servedRegistry}${name}/-/${tarballFileName(name, version)}`;
}
