import { describe, expect, it } from 'vitest';
import { describeAffected, describeRange } from '../src/advisory-ranges.js';

const range = (...events: unknown[]) => ({ type: 'ECOSYSTEM', events });

describe('describeRange', () => {
  it('reads introduced 0 and fixed as below the fix', () => {
    expect(describeRange(range({ introduced: '0' }, { fixed: '1.2.3' }))).toEqual(['< 1.2.3']);
  });
  it('reads a bounded interval with an inclusive last_affected', () => {
    expect(describeRange(range({ introduced: '1.0.0' }, { last_affected: '1.4.0' }))).toEqual(['>= 1.0.0, <= 1.4.0']);
  });
  it('reads several intervals in one range, and an open end', () => {
    expect(
      describeRange(
        range(
          { introduced: '1.0.0' },
          { fixed: '1.0.5' },
          { introduced: '2.0.0' },
          { limit: '2.1.0' },
          { introduced: '3.0.0' },
        ),
      ),
    ).toEqual(['>= 1.0.0, < 1.0.5', '>= 2.0.0, < 2.1.0', '>= 3.0.0']);
  });
  it('says "all versions" for introduced 0 with no end', () => {
    expect(describeRange(range({ introduced: '0' }))).toEqual(['all versions']);
  });
  it('ignores what is not an OSV range', () => {
    expect(describeRange(null)).toEqual([]);
    expect(describeRange({ events: 'x' })).toEqual([]);
    expect(describeRange(range(42, { fixed: 7 }))).toEqual([]);
  });
});

describe('describeAffected', () => {
  it('prefers ranges and falls back to listed versions, without repeating an interval', () => {
    expect(
      describeAffected([
        { ranges: [range({ introduced: '0' }, { fixed: '2.0.0' })], versions: ['1.0.0', '1.1.0'] },
        { ranges: [range({ introduced: '0' }, { fixed: '2.0.0' })], versions: [] },
        { ranges: [], versions: ['3.0.0'] },
      ]),
    ).toEqual(['< 2.0.0', '= 3.0.0']);
  });
  it('caps a long list of versions', () => {
    const versions = Array.from({ length: 25 }, (_, i) => `1.0.${i}`);
    const out = describeAffected([{ ranges: null, versions }]);
    expect(out).toHaveLength(21);
    expect(out.at(-1)).toBe('and 5 more listed versions');
  });
});
