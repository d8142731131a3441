import { describe, expect, it } from 'vitest';
import { isRealInstant, MULTILINE_TEXT_PATTERN, PLAIN_TEXT_PATTERN } from '../src/input.js';
import { refuseControlCharacters } from '../src/plugins/input.js';

describe('isRealInstant', () => {
  it.each(['2026-01-31T12:00:00Z', '2024-02-29T23:59:59.999+05:30', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59z'])(
    'accepts %s',
    (t) => expect(isRealInstant(t)).toBe(true),
  );
  it.each([
    '9999-12-31T23:59:60Z',
    '2025-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:60:00Z',
    '0000-01-01T00:00:00Z',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00',
    '2026-01-01',
    '+275760-09-13T00:00:00Z',
    '',
  ])('refuses %s', (t) => expect(isRealInstant(t)).toBe(false));
});

describe('refuseControlCharacters', () => {
  it('gives every string without a pattern the plain-text pattern, however deep, and leaves the input alone', () => {
    const input = {
      type: 'object',
      properties: {
        a: { type: 'string' },
        b: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        c: { type: 'array', items: { type: 'string', pattern: '^@' } },
        d: { type: 'string', pattern: MULTILINE_TEXT_PATTERN },
        e: { type: 'string', enum: ['x'] },
        f: { type: 'integer' },
      },
    };
    const copy = structuredClone(input);
    const out = refuseControlCharacters(input) as typeof input & {
      properties: Record<string, Record<string, unknown>>;
    };
    expect(input).toEqual(copy);
    expect(out.properties.a).toEqual({ type: 'string', pattern: PLAIN_TEXT_PATTERN });
    expect((out.properties.b!.anyOf as unknown[])[0]).toEqual({ type: 'string', pattern: PLAIN_TEXT_PATTERN });
    expect(out.properties.c!.items).toEqual({
      type: 'string',
      pattern: '^@',
      allOf: [{ pattern: PLAIN_TEXT_PATTERN }],
    });
    expect(out.properties.d).toEqual({ type: 'string', pattern: MULTILINE_TEXT_PATTERN });
    expect(out.properties.e).toEqual({ type: 'string', enum: ['x'] });
    expect(out.properties.f).toEqual({ type: 'integer' });
  });

  it('the patterns refuse what they should', () => {
    const plain = new RegExp(PLAIN_TEXT_PATTERN, 'u');
    const multi = new RegExp(MULTILINE_TEXT_PATTERN, 'u');
    expect(plain.test('a b é ✓')).toBe(true);
    for (const c of ['\u0000', '\u0001', '\t', '\n', '\u001b', '\u007f']) expect(plain.test(`a${c}b`)).toBe(false);
    expect(multi.test('line\r\nline\tx')).toBe(true);
    for (const c of ['\u0000', '\u0008', '\u000b', '\u001b', '\u007f']) expect(multi.test(`a${c}b`)).toBe(false);
  });
});
