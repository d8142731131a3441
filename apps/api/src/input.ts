import { AppError } from '@spm/db';

/*
 * What every string a client sends must satisfy before a handler sees it. PostgreSQL refuses NUL in text
 * and a JavaScript Date of an impossible instant, so both used to surface as 500s; control characters
 * have no business in names, ids or filters either (they forge log lines and confuse terminals). The
 * rules live here once: `plugins/input.ts` applies them to every route schema, the error mapper turns
 * their failures into stable codes, and handlers that read strings outside a schema (multipart fields)
 * call `assertPlainText`.
 */

/** Single-line text: no C0 control character (U+0000–U+001F) and no DEL (U+007F). */
export const PLAIN_TEXT_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';
/** Free text a person types into a text area (a reason, notes): tab, line feed and carriage return are allowed. */
export const MULTILINE_TEXT_PATTERN = '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$';
export const CONTROL_CHARACTER_PATTERNS: ReadonlySet<string> = new Set([PLAIN_TEXT_PATTERN, MULTILINE_TEXT_PATTERN]);

const PLAIN_TEXT = new RegExp(PLAIN_TEXT_PATTERN, 'u');

export const ERR_CONTROL_CHARACTER = 'ERR_CONTROL_CHARACTER';
export const ERR_INVALID_TIMESTAMP = 'ERR_INVALID_TIMESTAMP';

/** Throws 400 ERR_CONTROL_CHARACTER when `value` holds a control character; for strings read outside a schema. */
export function assertPlainText(field: string, value: string): void {
  if (!PLAIN_TEXT.test(value)) {
    throw new AppError(ERR_CONTROL_CHARACTER, controlCharacterMessage(field), { status: 400 });
  }
}

export function controlCharacterMessage(field: string): string {
  return `${field} contains a control character (U+0000–U+001F or U+007F): remove it.`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * True when `text` is an RFC 3339 date-time that names a real instant between the years 1 and 9999:
 * no 30 February, no 24:00, no leap second `:60` (which neither JavaScript nor PostgreSQL can hold), and
 * an offset within ±23:59. Pure; never throws.
 */
export function isRealInstant(text: string): boolean {
  const m = RFC3339.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (y < 1) return false;
  if (m[8] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return (
    t.getUTCFullYear() === y &&
    t.getUTCMonth() === mo - 1 &&
    t.getUTCDate() === d &&
    t.getUTCHours() === h &&
    t.getUTCMinutes() === mi &&
    t.getUTCSeconds() === s &&
    Number.isFinite(Date.parse(text))
  );
}
