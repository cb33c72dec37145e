// How far apart the score distributions of right and wrong steps lie, the CPMI paper's third
// metric: unlike AUC it sees the size of the gap, not only the order.

import { compareNumbers } from "./order.js";

/**
 * Exact 1-D Wasserstein-1 distance between two empirical distributions, ∫ |F_a(t) − F_b(t)| dt,
 * by one merge over both sorted samples. Non-finite values (unscored steps) are left out; NaN if
 * either sample is then empty.
 */
export function wasserstein1(a: readonly number[], b: readonly number[]): number {
  const x = a.filter(Number.isFinite).sort(compareNumbers);
  const y = b.filter(Number.isFinite).sort(compareNumbers);
  if (x.length === 0 || y.length === 0) return NaN;
  let i = 0;
  let j = 0;
  let area = 0;
  let t = Math.min(x[0]!, y[0]!);
  while (i < x.length || j < y.length) {
    // Advance past every sample equal to the current point, then integrate to the next one.
    while (i < x.length && x[i]! <= t) i++;
    while (j < y.length && y[j]! <= t) j++;
    const next = Math.min(i < x.length ? x[i]! : Infinity, j < y.length ? y[j]! : Infinity);
    if (next === Infinity) break;
    area += Math.abs(i / x.length - j / y.length) * (next - t);
    t = next;
  }
  return area;
}
