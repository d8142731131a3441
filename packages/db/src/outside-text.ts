/**
 * Safe storage of text that comes from outside (tarball contents, manifests, registry documents,
 * lockfiles, advisories, error messages). PostgreSQL refuses a NUL character in `text` (22021) and a
 * `\u0000` escape or an unpaired surrogate in `jsonb` (22P05), and one such character in a finding's
 * evidence used to reject a whole package. Every query that writes outside text passes it through
 * {@link storableText} or {@link storableJson}: NUL and lone surrogates become U+FFFD (visible, never
 * silently dropped) and over-long strings are cut, with a marker, at a code point boundary.
 */

/** The replacement for what PostgreSQL cannot store: U+FFFD REPLACEMENT CHARACTER. */
export const REPLACEMENT = '\uFFFD';

/** Longest string stored in a text column by default (characters, i.e. UTF-16 code units). */
export const MAX_STORED_TEXT = 10_000;
/** Longest single string inside a stored JSON document by default. */
export const MAX_STORED_JSON_STRING = 64 * 1024;

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
// eslint-disable-next-line no-control-regex -- NUL is exactly what has to be found
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** True when `s` holds nothing PostgreSQL refuses and is at most `max` long. */
function clean(s: string, max: number): boolean {
  UNSTORABLE.lastIndex = 0;
  return s.length <= max && !UNSTORABLE.test(s);
}

/**
 * `s` made storable: NUL and lone surrogates replaced by U+FFFD, and cut to `max` characters (the cut
 * never splits a surrogate pair; ` …[cut: N characters]` says how much was dropped). Never throws;
 * null and undefined stay null.
 */
export function storableText(s: string, max?: number): string;
export function storableText(s: string | null | undefined, max?: number): string | null;
export function storableText(s: string | null | undefined, max = MAX_STORED_TEXT): string | null {
  if (s === null || s === undefined) return null;
  if (clean(s, max)) return s;
  let out = s.replace(UNSTORABLE, REPLACEMENT);
  if (out.length > max) {
    const dropped = out.length - max;
    const marker = ` …[cut: ${dropped} characters]`;
    let end = Math.max(0, max - marker.length);
    const code = out.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end--;
    out = out.slice(0, end) + marker;
  }
  return out;
}

/** A deep copy of `value` with every string (and object key) made storable. */
export function storableValue(value: unknown, maxString = MAX_STORED_JSON_STRING): unknown {
  if (typeof value === 'string') return storableText(value, maxString);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((v) => storableValue(v, maxString));
  const maybeJson = value as { toJSON?: () => unknown };
  if (typeof maybeJson.toJSON === 'function') return storableValue(maybeJson.toJSON(), maxString);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[storableText(k, maxString)] = storableValue(v, maxString);
  return out;
}

/**
 * `value` as JSON text PostgreSQL's `jsonb` accepts (see {@link storableValue}); null for undefined.
 * Never throws for strings; throws only what JSON.stringify throws (a cycle, a BigInt).
 */
export function storableJson(value: unknown, maxString = MAX_STORED_JSON_STRING): string | null {
  if (value === undefined) return null;
  return JSON.stringify(storableValue(value, maxString));
}
