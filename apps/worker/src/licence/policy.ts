import { createRequire } from 'node:module';
import parseSpdx from 'spdx-expression-parse';
import correctSpdx from 'spdx-correct';
import { DEPRECATED_LICENSE_IDS, policyLicense, type LicenseTier } from '@spm/db';

// spdx-license-ids ships JSON only; createRequire keeps this working on Node 20 and 24 alike.
const require = createRequire(import.meta.url);
const LICENSE_IDS: ReadonlySet<string> = new Set(require('spdx-license-ids') as string[]);

/** A tier from the policy, or `unknown` for a licence the policy does not list (or no licence at all). */
export type EffectiveTier = LicenseTier | 'unknown';

/** Score per tier, stored as license_score. */
export const TIER_SCORE: Readonly<Record<EffectiveTier, number>> = {
  always_allowed: 100,
  allowed: 80,
  avoid: 50,
  unknown: 30,
  blocked: 0,
};

/** Tier lookup: SPDX id (or `ID WITH EXCEPTION`), compared case-insensitively. */
export type TierTable = ReadonlyMap<string, LicenseTier>;

/** Builds a {@link TierTable} from policy rows. */
export function tierTable(rows: Iterable<{ spdxId: string; tier: LicenseTier }>): TierTable {
  const m = new Map<string, LicenseTier>();
  for (const r of rows) m.set(r.spdxId.toLowerCase(), r.tier);
  return m;
}

export interface LicenceLeaf {
  /** The SPDX id evaluated (after upgrading deprecated ids and `+`). */
  id: string;
  exception?: string;
  tier: EffectiveTier;
}

export interface LicenceVerdict {
  /** The normalised SPDX expression, or null when no licence could be read. */
  expression: string | null;
  tier: EffectiveTier;
  score: number;
  /**
   * Why a person should look (stored as license_flags). Tokens, some with a value after a colon:
   * `missing`, `unlicensed`, `see-license-in:<file>`, `unparseable`, `corrected`, `deprecated-id:<id>`,
   * `or-later:<id>`, `exception:<id>`, `legacy-object`, `legacy-array`, `unknown-license:<id>`,
   * `avoid`, `review`.
   */
  flags: string[];
  /** The licences that decided the tier (for `blocked`, the blocked ones). */
  decisive: LicenceLeaf[];
  /** Every licence in the expression, evaluated. */
  leaves: LicenceLeaf[];
}

const TIER_RANK: Readonly<Record<EffectiveTier, number>> = {
  blocked: 0,
  unknown: 1,
  avoid: 2,
  allowed: 3,
  always_allowed: 4,
};

/**
 * Turns what a package declares into one licence text. npm's legacy forms are accepted:
 * a `{ type, url }` object (its `type`), and a `licenses` array, which is read as a choice between
 * its entries, `(A) OR (B)`: that is what the array was used for (dual licensing) and what npm's
 * documentation tells authors to write instead. The lockfile's value arrives as a string, or as the
 * JSON text of a legacy form, so JSON text is unpacked too.
 */
export function declaredLicenceText(input: unknown): { text: string | null; flags: string[] } {
  if (input === null || input === undefined) return { text: null, flags: [] };
  if (typeof input === 'string') {
    const s = input.trim();
    if (s.startsWith('{') || s.startsWith('[')) {
      try {
        return declaredLicenceText(JSON.parse(s));
      } catch {
        return { text: s || null, flags: [] };
      }
    }
    return { text: s || null, flags: [] };
  }
  if (Array.isArray(input)) {
    const parts = input.map((e) => declaredLicenceText(e).text).filter((t): t is string => !!t);
    const unique = [...new Set(parts)];
    if (unique.length === 0) return { text: null, flags: ['legacy-array'] };
    if (unique.length === 1) return { text: unique[0]!, flags: ['legacy-array'] };
    return { text: unique.map((p) => (/\s/.test(p) ? `(${p})` : p)).join(' OR '), flags: ['legacy-array'] };
  }
  if (typeof input === 'object') {
    const o = input as Record<string, unknown>;
    const t = typeof o.type === 'string' ? o.type : typeof o.name === 'string' ? o.name : null;
    return { text: t?.trim() || null, flags: ['legacy-object'] };
  }
  return { text: null, flags: [] };
}

type Ast =
  { license: string; plus?: boolean; exception?: string } | { left: Ast; conjunction: 'and' | 'or'; right: Ast };

function tryParse(text: string): Ast | null {
  try {
    return parseSpdx(text) as Ast;
  } catch {
    return null;
  }
}

function correctId(word: string): string | null {
  if (LICENSE_IDS.has(word) || DEPRECATED_LICENSE_IDS[word] || /^(DocumentRef-[\w.-]+:)?LicenseRef-[\w.-]+$/.test(word))
    return word;
  return correctSpdx(word, { upgrade: true });
}

/**
 * Repairs a licence text that is not a valid SPDX expression: each run of words between parentheses
 * and AND/OR/WITH keywords is corrected with spdx-correct ("Apache 2" → Apache-2.0, "mit" → MIT).
 */
function repair(text: string): string | null {
  // spdx-correct reads a whole sentence as one licence, so only texts without keywords go to it whole.
  if (!/[()]|\s(?:OR|AND|WITH)\s/i.test(text)) {
    const whole = correctSpdx(text, { upgrade: true });
    return whole && tryParse(whole) ? whole : null;
  }
  const tokens = text.split(/(\(|\)|\s+(?:OR|AND|WITH)\s+)/i).filter((t) => t.trim() !== '');
  const out: string[] = [];
  let afterWith = false;
  for (const raw of tokens) {
    const t = raw.trim();
    if (t === '(' || t === ')') {
      out.push(t);
      continue;
    }
    const kw = t.toUpperCase();
    if (kw === 'OR' || kw === 'AND' || kw === 'WITH') {
      out.push(kw);
      afterWith = kw === 'WITH';
      continue;
    }
    if (afterWith) {
      out.push(t);
      afterWith = false;
      continue;
    }
    const fixed = correctId(t);
    if (!fixed) return null;
    out.push(fixed);
  }
  const joined = out.join(' ').replace(/\( /g, '(').replace(/ \)/g, ')');
  return tryParse(joined) ? joined : null;
}

interface Eval {
  tier: EffectiveTier;
  decisive: LicenceLeaf[];
}

function lookup(tiers: TierTable, key: string): LicenseTier | undefined {
  return tiers.get(key.toLowerCase());
}

function leafOf(
  node: { license: string; plus?: boolean; exception?: string },
  tiers: TierTable,
  flags: Set<string>,
): LicenceLeaf {
  const up = policyLicense(node.license, {
    plus: node.plus,
    exception: node.exception,
    isId: (x) => LICENSE_IDS.has(x),
  });
  const { id } = up;
  const exception = up.exception;
  if (up.deprecated) flags.add(`deprecated-id:${node.license}`);
  if (up.plusKept) flags.add(`or-later:${id}`);
  if (/LicenseRef-/.test(id)) flags.add(`unknown-license:${id}`);
  let tier: EffectiveTier | undefined;
  if (exception) {
    flags.add(`exception:${exception}`);
    tier = lookup(tiers, `${id} WITH ${exception}`);
  }
  tier = tier ?? lookup(tiers, id) ?? (node.plus ? lookup(tiers, `${node.license}+`) : undefined);
  if (!tier) {
    tier = 'unknown';
    flags.add(`unknown-license:${id}`);
  }
  return exception ? { id, exception, tier } : { id, tier };
}

function render(node: Ast, leaves: Map<Ast, LicenceLeaf>, parent?: 'and' | 'or'): string {
  if ('license' in node) {
    const l = leaves.get(node)!;
    return l.exception ? `${l.id} WITH ${l.exception}` : l.id;
  }
  const s = `${render(node.left, leaves, node.conjunction)} ${node.conjunction.toUpperCase()} ${render(node.right, leaves, node.conjunction)}`;
  return parent && parent !== node.conjunction ? `(${s})` : s;
}

function evaluate(node: Ast, leaves: Map<Ast, LicenceLeaf>): Eval {
  if ('license' in node) {
    const leaf = leaves.get(node)!;
    return { tier: leaf.tier, decisive: [leaf] };
  }
  const l = evaluate(node.left, leaves);
  const r = evaluate(node.right, leaves);
  const rl = TIER_RANK[l.tier];
  const rr = TIER_RANK[r.tier];
  if (rl === rr) return { tier: l.tier, decisive: [...l.decisive, ...r.decisive] };
  // OR: the licensee may choose, so the best alternative counts. AND: every licence applies, so the worst.
  const pickLeft = node.conjunction === 'or' ? rl > rr : rl < rr;
  return pickLeft ? l : r;
}

function collect(node: Ast, tiers: TierTable, flags: Set<string>, into: Map<Ast, LicenceLeaf>): void {
  if ('license' in node) into.set(node, leafOf(node, tiers, flags));
  else {
    collect(node.left, tiers, flags, into);
    collect(node.right, tiers, flags, into);
  }
}

function verdict(
  expression: string | null,
  tier: EffectiveTier,
  flags: Set<string>,
  decisive: LicenceLeaf[],
  leaves: LicenceLeaf[],
): LicenceVerdict {
  if (tier === 'avoid') flags.add('avoid');
  if (tier === 'unknown') flags.add('review');
  return { expression, tier, score: TIER_SCORE[tier], flags: [...flags], decisive, leaves };
}

/**
 * Evaluates a declared licence (string, legacy object or array, or the JSON text of one) against the
 * policy. Pure and total: never throws; anything it cannot read is `unknown` and flagged for review.
 *
 * - SPDX expressions: OR takes the best alternative, AND the worst; `WITH` evaluates the licence
 *   (a policy row for the exact `X WITH Y` wins) and notes the exception; `X+` becomes
 *   `X-or-later`; deprecated ids are upgraded (GPL-2.0 → GPL-2.0-only).
 * - `UNLICENSED` (npm's "all rights reserved") is unknown, flagged `unlicensed`; it is not the
 *   Unlicense.
 * - `SEE LICENSE IN <file>` is unknown, flagged with the file name.
 * - Free text is corrected with spdx-correct and flagged `corrected`.
 */
export function evaluateLicence(declared: unknown, tiers: TierTable): LicenceVerdict {
  const { text, flags: formFlags } = declaredLicenceText(declared);
  const flags = new Set(formFlags);
  if (!text) {
    flags.add('missing');
    return verdict(null, 'unknown', flags, [], []);
  }
  if (/^UNLICEN[SC]ED$/i.test(text)) {
    flags.add('unlicensed');
    return verdict('UNLICENSED', 'unknown', flags, [], []);
  }
  const see = /^SEE\s+LICEN[SC]E\s+IN\s+(.+)$/i.exec(text);
  if (see) {
    const file = see[1]!.trim().slice(0, 200);
    flags.add(`see-license-in:${file}`);
    return verdict(`SEE LICENSE IN ${file}`, 'unknown', flags, [], []);
  }
  let ast = tryParse(text);
  if (!ast) {
    const fixed = repair(text);
    if (fixed) {
      ast = tryParse(fixed);
      flags.add('corrected');
    }
  }
  if (!ast) {
    flags.add('unparseable');
    return verdict(text.slice(0, 200), 'unknown', flags, [], []);
  }
  const leaves = new Map<Ast, LicenceLeaf>();
  collect(ast, tiers, flags, leaves);
  const ev = evaluate(ast, leaves);
  const decisive =
    ev.tier === 'blocked'
      ? [...leaves.values()].filter((l) => l.tier === 'blocked' && ev.decisive.includes(l))
      : ev.decisive;
  return verdict(render(ast, leaves), ev.tier, flags, decisive, [...leaves.values()]);
}

/** A sentence naming what blocked the package, for the rejection reason. */
export function blockedReason(v: LicenceVerdict): string {
  const names = [...new Set(v.decisive.map((l) => (l.exception ? `${l.id} WITH ${l.exception}` : l.id)))];
  const which = names.length ? names.join(', ') : (v.expression ?? 'the declared licence');
  return `licence ${which} is blocked by policy (declared: ${v.expression ?? 'none'})`;
}

export interface LicenceComparison {
  same: boolean;
  declared: string | null;
  tarball: string | null;
}

/**
 * Compares the licence declared in the lockfile/registry with the one in the tarball's own
 * package.json (used by the scan stage). Two declarations are the same when they normalise to the
 * same expression, or to the same set of licences combined the same way.
 */
export function compareLicences(declared: unknown, tarball: unknown): LicenceComparison {
  const empty: TierTable = new Map();
  const a = evaluateLicence(declared, empty);
  const b = evaluateLicence(tarball, empty);
  const key = (v: LicenceVerdict) =>
    v.leaves
      .map((l) => `${l.id}${l.exception ? ` WITH ${l.exception}` : ''}`.toLowerCase())
      .sort()
      .join('|');
  const ops = (e: string | null) => (e ? (e.match(/\b(AND|OR)\b/g) ?? []).sort().join(',') : '');
  const same =
    (a.expression ?? '').toLowerCase() === (b.expression ?? '').toLowerCase() ||
    (a.leaves.length > 0 && key(a) === key(b) && ops(a.expression) === ops(b.expression));
  return { same, declared: a.expression, tarball: b.expression };
}
