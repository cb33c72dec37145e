// `a - b` turns Infinity - Infinity into NaN, which breaks Array.prototype.sort; this comparator
// keeps infinite scores (a reward of -Infinity is a legitimate "certainly wrong") in order.

export function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Distinct non-NaN values, ascending (0 and -0 are one value). */
export function distinctSorted(values: Iterable<number>): number[] {
  const set = new Set<number>();
  for (const v of values) if (!Number.isNaN(v)) set.add(v);
  return [...set].sort(compareNumbers);
}
