import semver from 'semver';
import { storableText } from '@spm/db';
import { cvss3BaseScore } from './cvss.js';
import { SEVERITIES, type Severity } from './types.js';

export type OsvEvent = { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

/** A range we can evaluate: npm advisories use ECOSYSTEM ranges (node-semver order); SEMVER is the same order. */
export interface OsvRange {
  type: 'ECOSYSTEM' | 'SEMVER';
  events: OsvEvent[];
}

/** The part of an `affected[]` entry the matcher needs. */
export interface AffectedSpec {
  ranges: OsvRange[];
  versions: string[];
}

export interface NormalisedAffected extends AffectedSpec {
  packageName: string;
  fixedVersions: string[];
}

/** An OSV record reduced to what we store and match (the full record is kept as `raw`). */
export interface NormalisedAdvisory {
  id: string;
  modified: Date;
  published: Date | null;
  withdrawn: Date | null;
  aliases: string[];
  summary: string | null;
  severity: Severity | null;
  cvssVector: string | null;
  malware: boolean;
  affected: NormalisedAffected[];
  raw: Record<string, unknown>;
}

export type ParseResult =
  { ok: true; advisory: NormalisedAdvisory } | { ok: false; id: string | null; error: string; skipped?: boolean };

const EVENT_KEYS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;
type EventKey = (typeof EVENT_KEYS)[number];

function eventKey(e: OsvEvent): EventKey {
  return Object.keys(e)[0] as EventKey;
}

function eventValue(e: OsvEvent): string {
  return Object.values(e)[0] as string;
}

const SEMVER_OPTS = { loose: false, includePrerelease: true } as const;

/** Orders event versions: introduced "0" before everything, limit "*" after everything, else node-semver. */
function compareEventVersions(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '0') return -1;
  if (b === '0') return 1;
  if (a.includes('*')) return 1;
  if (b.includes('*')) return -1;
  return semver.compare(a, b, SEMVER_OPTS);
}

/**
 * Validates one range's events against the OSV schema rules: each event has exactly one of introduced /
 * fixed / last_affected / limit with a string value, there is at least one introduced, fixed and
 * last_affected are not mixed, and every version is valid semver (introduced may be "0", limit "*").
 * Returns an error message, or null when the range is well formed.
 */
export function validateRange(range: unknown): string | null {
  if (!range || typeof range !== 'object') return 'range is not an object';
  const r = range as { type?: unknown; events?: unknown };
  if (!Array.isArray(r.events) || r.events.length === 0) return 'range has no events';
  let introduced = 0;
  let fixed = 0;
  let lastAffected = 0;
  for (const e of r.events) {
    if (!e || typeof e !== 'object' || Array.isArray(e)) return 'event is not an object';
    const keys = Object.keys(e);
    if (keys.length !== 1 || !EVENT_KEYS.includes(keys[0] as EventKey)) {
      return `event ${JSON.stringify(e)} must have exactly one of ${EVENT_KEYS.join(', ')}`;
    }
    const k = keys[0] as EventKey;
    const v = (e as Record<string, unknown>)[k];
    if (typeof v !== 'string' || v === '') return `event ${JSON.stringify(e)} has no version string`;
    if (k === 'introduced') introduced++;
    if (k === 'fixed') fixed++;
    if (k === 'last_affected') lastAffected++;
    const ok =
      (k === 'introduced' && v === '0') || (k === 'limit' && v.includes('*')) || semver.valid(v, SEMVER_OPTS) !== null;
    if (!ok) return `event ${JSON.stringify(e)}: ${JSON.stringify(v)} is not a valid semantic version`;
  }
  if (introduced === 0) return 'range has no introduced event';
  if (fixed > 0 && lastAffected > 0) return 'range mixes fixed and last_affected events';
  return null;
}

function beforeLimits(v: string, events: OsvEvent[]): boolean {
  const limits = events.filter((e) => eventKey(e) === 'limit');
  if (limits.length === 0) return true;
  return limits.some((e) => compareEventVersions(v, eventValue(e)) < 0);
}

/**
 * Whether `version` lies in `range`, exactly as the OSV specification's evaluation pseudocode
 * (`IncludedInRanges` for one range): walk the events sorted by version, `introduced` switches on,
 * `fixed` (v >= fixed) and `last_affected` (v > last_affected) switch off, and nothing at or beyond a
 * `limit` is included. The range must have passed {@link validateRange}.
 */
export function includedInRange(version: string, range: OsvRange): boolean {
  if (!semver.valid(version, SEMVER_OPTS)) return false;
  if (!beforeLimits(version, range.events)) return false;
  const sorted = [...range.events].sort((a, b) => compareEventVersions(eventValue(a), eventValue(b)));
  let vulnerable = false;
  for (const e of sorted) {
    const k = eventKey(e);
    const at = eventValue(e);
    if (k === 'introduced' && compareEventVersions(version, at) >= 0) vulnerable = true;
    else if (k === 'fixed' && compareEventVersions(version, at) >= 0) vulnerable = false;
    else if (k === 'last_affected' && compareEventVersions(version, at) > 0) vulnerable = false;
  }
  return vulnerable;
}

/** OSV `IsVulnerable` for one affected entry: listed in `versions[]`, or inside any range. */
export function isAffected(version: string, affected: AffectedSpec): boolean {
  for (const listed of affected.versions) {
    if (listed === version) return true;
    if (
      semver.valid(listed, SEMVER_OPTS) &&
      semver.valid(version, SEMVER_OPTS) &&
      semver.eq(listed, version, SEMVER_OPTS)
    ) {
      return true;
    }
  }
  return affected.ranges.some((r) => includedInRange(version, r));
}

function parseDate(v: unknown): Date | null {
  if (typeof v !== 'string' || v === '') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

const DB_SEVERITY: Record<string, Severity> = {
  CRITICAL: 'critical',
  HIGH: 'high',
  MODERATE: 'medium',
  MEDIUM: 'medium',
  LOW: 'low',
};

interface SeverityEntry {
  type?: unknown;
  score?: unknown;
}

/**
 * The advisory's severity: the highest CVSS v3 base score computed from any v3 vector (top level or per
 * package), else `database_specific.severity` (GHSA's CRITICAL/HIGH/MODERATE/LOW), else null (unknown;
 * CVSS v4 vectors are kept but not scored). Malware is always critical.
 */
export function advisorySeverity(
  rec: Record<string, unknown>,
  malware: boolean,
): { severity: Severity | null; vector: string | null } {
  const entries: SeverityEntry[] = [];
  if (Array.isArray(rec.severity)) entries.push(...(rec.severity as SeverityEntry[]));
  if (Array.isArray(rec.affected)) {
    for (const a of rec.affected as Array<{ severity?: unknown }>) {
      if (a && Array.isArray(a.severity)) entries.push(...(a.severity as SeverityEntry[]));
    }
  }
  let best: { score: number; severity: Severity; vector: string } | null = null;
  let anyVector: string | null = null;
  for (const e of entries) {
    if (!e || typeof e.score !== 'string') continue;
    anyVector ??= e.score;
    if (e.type !== 'CVSS_V3') continue;
    const s = cvss3BaseScore(e.score);
    if (s && (!best || s.score > best.score)) best = { ...s, vector: e.score };
  }
  if (malware) return { severity: 'critical', vector: best?.vector ?? anyVector };
  if (best) return { severity: best.severity, vector: best.vector };
  const dbs = (rec.database_specific as { severity?: unknown } | undefined)?.severity;
  if (typeof dbs === 'string' && DB_SEVERITY[dbs.toUpperCase()])
    return { severity: DB_SEVERITY[dbs.toUpperCase()]!, vector: anyVector };
  if (Array.isArray(rec.affected)) {
    for (const a of rec.affected as Array<{
      ecosystem_specific?: { severity?: unknown };
      database_specific?: { severity?: unknown };
    }>) {
      const s = a?.ecosystem_specific?.severity ?? a?.database_specific?.severity;
      if (typeof s === 'string' && DB_SEVERITY[s.toUpperCase()])
        return { severity: DB_SEVERITY[s.toUpperCase()]!, vector: anyVector };
    }
  }
  return { severity: null, vector: anyVector };
}

/** `MAL-` records (OpenSSF malicious packages) mean malware, whether as the id or an alias. */
export function isMalwareId(id: string, aliases: string[] = []): boolean {
  return id.startsWith('MAL-') || aliases.some((a) => a.startsWith('MAL-'));
}

/**
 * Parses and validates one OSV record, keeping only `ecosystem: npm` affected entries. Malformed
 * records (no id or modified date, malformed events) are rejected with a reason; records with no npm
 * package are reported as skipped. Never throws.
 */
export function parseOsvRecord(input: unknown): ParseResult {
  if (!input || typeof input !== 'object' || Array.isArray(input))
    return { ok: false, id: null, error: 'not a JSON object' };
  const rec = input as Record<string, unknown>;
  // Outside text: an id is a primary key, so a NUL or lone surrogate is made storable here, once.
  const id = typeof rec.id === 'string' && rec.id.trim() !== '' ? storableText(rec.id.trim(), 200) : null;
  if (!id) return { ok: false, id: null, error: 'missing id' };
  const modified = parseDate(rec.modified);
  if (!modified) return { ok: false, id, error: 'missing or invalid modified date' };
  if (rec.affected !== undefined && !Array.isArray(rec.affected))
    return { ok: false, id, error: 'affected is not an array' };

  const affected: NormalisedAffected[] = [];
  for (const [i, a] of ((rec.affected as unknown[] | undefined) ?? []).entries()) {
    if (!a || typeof a !== 'object') return { ok: false, id, error: `affected[${i}] is not an object` };
    const entry = a as { package?: { ecosystem?: unknown; name?: unknown }; ranges?: unknown; versions?: unknown };
    if (entry.package?.ecosystem !== 'npm') continue;
    if (typeof entry.package.name !== 'string' || entry.package.name === '') {
      return { ok: false, id, error: `affected[${i}] has no package name` };
    }
    if (entry.ranges !== undefined && !Array.isArray(entry.ranges))
      return { ok: false, id, error: `affected[${i}].ranges is not an array` };
    const ranges: OsvRange[] = [];
    for (const [j, r] of ((entry.ranges as unknown[] | undefined) ?? []).entries()) {
      const type = (r as { type?: unknown } | null)?.type;
      if (type === 'GIT') continue; // commit ranges cannot be evaluated against a version number
      if (type !== 'ECOSYSTEM' && type !== 'SEMVER') {
        return { ok: false, id, error: `affected[${i}].ranges[${j}] has unknown type ${JSON.stringify(type)}` };
      }
      const problem = validateRange(r);
      if (problem) return { ok: false, id, error: `affected[${i}].ranges[${j}]: ${problem}` };
      ranges.push({ type, events: (r as { events: OsvEvent[] }).events.map((e) => ({ ...e }) as OsvEvent) });
    }
    const fixedVersions = [
      ...new Set(ranges.flatMap((r) => r.events.filter((e) => eventKey(e) === 'fixed').map(eventValue))),
    ].sort((x, y) => semver.compare(x, y, SEMVER_OPTS));
    affected.push({ packageName: entry.package.name, ranges, versions: strings(entry.versions), fixedVersions });
  }
  if (affected.length === 0) return { ok: false, id, error: 'no npm package affected', skipped: true };

  const aliases = [...new Set(strings(rec.aliases).filter((a) => a !== id))];
  const malware = isMalwareId(id, aliases);
  const { severity, vector } = advisorySeverity(rec, malware);
  return {
    ok: true,
    advisory: {
      id,
      modified,
      published: parseDate(rec.published),
      withdrawn: parseDate(rec.withdrawn),
      aliases,
      summary: typeof rec.summary === 'string' ? rec.summary.slice(0, 1000) : null,
      severity,
      cvssVector: vector,
      malware,
      affected,
      raw: rec,
    },
  };
}

export function isSeverity(s: unknown): s is Severity {
  return typeof s === 'string' && (SEVERITIES as readonly string[]).includes(s);
}
