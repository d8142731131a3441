/**
 * Line numbers of character offsets in one text: the offsets of its line breaks are found once, on
 * the first question, and each answer is a binary search (a bundle with thousands of findings and
 * long strings costs one pass, not one pass per finding).
 */
export function lineLocator(source: string): (pos: number) => number {
  let breaks: number[] | null = null;
  return (pos) => {
    if (breaks === null) {
      breaks = [];
      for (let i = source.indexOf('\n'); i !== -1; i = source.indexOf('\n', i + 1)) breaks.push(i);
    }
    // The number of line breaks before pos, plus one.
    let lo = 0;
    let hi = breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (breaks[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}
