import { describe, expect, it } from 'vitest';
import { lineLocator } from '../../src/scan/lines.js';

describe('lineLocator', () => {
  it('answers the 1-based line of every offset, the same as counting line breaks before it', () => {
    const text = 'a\nbb\n\nccc\r\nd\n';
    const locate = lineLocator(text);
    for (let pos = 0; pos <= text.length + 2; pos++) {
      const counted = text.slice(0, pos).split('\n').length;
      expect(locate(pos), `offset ${pos}`).toBe(counted);
    }
    expect(lineLocator('')(0)).toBe(1);
    expect(lineLocator('no breaks')(5)).toBe(1);
  });
});
