// Step ROC-AUC as the probability that a random right step outscores a random wrong one (ties count
// half): the Mann-Whitney U statistic, computed exactly from average ranks in O(n log n).

import { compareNumbers } from "./order.js";

/**
 * Exact ROC-AUC; label 1 = correct step (positive), higher score = more likely correct.
 * NaN scores (steps that were not scored) are left out; ±Infinity are ordinary extremes.
 * NaN when either class is empty after that.
 */
export function rocAuc(scores: readonly number[], labels: readonly (0 | 1)[]): number {
  if (scores.length !== labels.length) {
    throw new RangeError(`rocAuc: ${scores.length} scores but ${labels.length} labels`);
  }
  const items: { s: number; y: 0 | 1 }[] = [];
  let nPos = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) continue;
    const y = labels[i]!;
    items.push({ s, y });
    if (y === 1) nPos++;
  }
  const nNeg = items.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  items.sort((a, b) => compareNumbers(a.s, b.s));
  let rankSumPos = 0;
  for (let i = 0; i < items.length; ) {
    let j = i;
    let posInGroup = 0;
    while (j < items.length && items[j]!.s === items[i]!.s) {
      if (items[j]!.y === 1) posInGroup++;
      j++;
    }
    // Ranks i+1 … j are tied; each gets their mean.
    rankSumPos += posInGroup * ((i + 1 + j) / 2);
    i = j;
  }
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
