import { describe, expect, it } from 'vitest';
import { REPLACEMENT, storableJson, storableText, storableValue } from '../src/outside-text.js';

describe('storableText', () => {
  it('leaves ordinary text, including paired surrogates (emoji), exactly as it is', () => {
    const s = 'caf\u00e9 \u{1F600} \u4e2d\u6587 tab\tnewline\n';
    expect(storableText(s)).toBe(s);
    expect(storableText(null)).toBeNull();
    expect(storableText(undefined)).toBeNull();
  });

  it('replaces NUL and lone surrogates, high or low, with U+FFFD', () => {
    expect(storableText('a\u0000b')).toBe(`a${REPLACEMENT}b`);
    expect(storableText('x\uD800y')).toBe(`x${REPLACEMENT}y`);
    expect(storableText('x\uDC00y')).toBe(`x${REPLACEMENT}y`);
    expect(storableText('end\uD83D')).toBe(`end${REPLACEMENT}`);
    expect(storableText('\uDE00\uD83D\uDE00')).toBe(`${REPLACEMENT}\u{1F600}`);
  });

  it('cuts over-long text at the limit, saying how much was cut, never splitting a surrogate pair', () => {
    const cut = storableText('a'.repeat(500), 100);
    expect(cut).toHaveLength(100);
    expect(cut).toMatch(/^a+ …\[cut: 400 characters\]$/);
    const emoji = storableText('\u{1F600}'.repeat(100), 101);
    expect(emoji.length).toBeLessThanOrEqual(101);
    expect(emoji).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('storableJson', () => {
  it('cleans every string and key, deep, and keeps numbers, booleans, null and dates', () => {
    const when = new Date('2026-01-01T00:00:00Z');
    const v = storableValue({ 'k\u0000': ['\uD800', { n: 1, b: true, z: null, d: when }] });
    expect(v).toEqual({ [`k${REPLACEMENT}`]: [REPLACEMENT, { n: 1, b: true, z: null, d: when }] });
    expect(storableJson(undefined)).toBeNull();
    expect(storableJson({ evidence: 'a\u0000b' })).toBe(`{"evidence":"a${REPLACEMENT}b"}`);
    expect(storableJson({ evidence: 'x'.repeat(100) }, 50)).toMatch(/ …\[cut: \d+ characters\]"}$/);
  });
});
