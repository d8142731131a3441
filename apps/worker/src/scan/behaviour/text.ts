import { INVISIBLE_RUN } from './flow.js';
import type { RuleId } from './rules.js';

export interface TextHit {
  rule: RuleId;
  start: number;
  end: number;
  detail: string;
}

const BIDI_OPEN = /[\u202a\u202b\u202d\u202e]/g;
const BIDI_POP = /\u202c/g;
const ISOLATE_OPEN = /[\u2066\u2067\u2068]/g;
const ISOLATE_POP = /\u2069/g;
const ROTATION = /\[\s*['"]push['"]\s*\]\s*\(\s*[\w$]+\s*\[\s*['"]shift['"]\s*\]\s*\(\s*\)\s*\)/;
const HEX_NAME = /\b_0x[0-9a-f]{4,}\b/gi;
// What follows the gap must be printable ASCII, as code is: parser tables in prettier's bundles are long
// runs of control characters and spaces inside strings, not hidden code.
const LONG_GAP = /[\x21-\x7e\u00a0-\uffff][ \t]{300,}[\x21-\x7e]|^[ \t]{300,}[\x21-\x7e]/m;
const BIDI_ANY = /[\u202a-\u202e\u2066-\u2069]/g;

/**
 * Whether the bidi control at `at` sits amid encoded data rather than text a person reads: among its
 * 8 neighbours on each side (controls and spaces aside), characters outside ASCII are at least as many
 * as ASCII ones. vite bundles the entities package's HTML decode tree as one long string of code points,
 * some of them controls; Trojan Source needs readable code around the control (`"user` RLO ` ` LRI `// admin`).
 */
function amidData(line: string, at: number): boolean {
  let ascii = 0;
  let outside = 0;
  for (const ch of line.slice(Math.max(0, at - 8), at) + line.slice(at + 1, at + 9)) {
    if (/[\s\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(ch)) continue;
    if (ch.charCodeAt(0) > 0x7e) outside++;
    else ascii++;
  }
  return outside > 0 && outside >= ascii;
}

/**
 * Checks on the text of a file that need no parse, so they also cover files too large or too
 * broken to parse: invisible-character runs, bidirectional controls left open on a line (Trojan
 * Source), code hidden past a long run of whitespace, and javascript-obfuscator's fingerprints
 * (string-array rotation, many `_0x` hex identifiers). Linear in the file.
 */
export function textHits(source: string): TextHit[] {
  const out: TextHit[] = [];
  const inv = INVISIBLE_RUN.exec(source);
  if (inv)
    out.push({
      rule: 'invisible-characters',
      start: inv.index,
      end: inv.index + inv[0].length,
      detail: `${[...inv[0]].length}+ invisible characters in a row`,
    });
  if (/[\u202a-\u202e\u2066-\u2069]/.test(source)) {
    let pos = 0;
    for (const raw of source.split('\n')) {
      // A string holding nothing but control characters (`const FSI = '\u2068'`) is a constant, not a
      // reordering; nor is a string of encoded data, where the controls are just code points of a table.
      const line = raw
        .replace(/(['"`])[\u200e\u200f\u202a-\u202e\u2066-\u2069]+\1/g, '')
        .replace(BIDI_ANY, (control: string, at: number, whole: string) => (amidData(whole, at) ? '' : control));
      const opens = (line.match(BIDI_OPEN)?.length ?? 0) - (line.match(BIDI_POP)?.length ?? 0);
      const isolates = (line.match(ISOLATE_OPEN)?.length ?? 0) - (line.match(ISOLATE_POP)?.length ?? 0);
      if (opens > 0 || isolates > 0) {
        out.push({
          rule: 'bidi-control',
          start: pos,
          end: pos + raw.length,
          detail: 'a bidirectional override or isolate is left open on this line',
        });
        break;
      }
      pos += raw.length + 1;
    }
  }
  const gap = LONG_GAP.exec(source);
  if (gap) {
    const at = gap.index + gap[0].length - 1;
    out.push({
      rule: 'whitespace-hidden-code',
      start: at,
      end: Math.min(source.length, at + 200),
      detail: `code after ${gap[0].length - 2}+ columns of whitespace`,
    });
  }
  const rot = ROTATION.exec(source);
  const hexNames = new Set(source.match(HEX_NAME) ?? []);
  if (rot || hexNames.size >= 10) {
    const i = rot ? rot.index : source.search(HEX_NAME);
    out.push({
      rule: 'obfuscated',
      start: i,
      end: i + 160,
      detail: [rot ? 'a rotated string array' : '', hexNames.size ? `${hexNames.size} _0x… identifiers` : '']
        .filter(Boolean)
        .join(', '),
    });
  }
  return out;
}
