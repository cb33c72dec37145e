// ProcessBench's protocol (Zheng et al., 2024): a verifier must name the first wrong step of an
// erroneous solution exactly, and name none in a correct one; F1 is the harmonic mean of the two
// accuracies, so a verifier cannot win by flagging everything or nothing.

import { distinctSorted } from "./order.js";

export interface LabeledRecord {
  /** One score per step; higher means more likely correct. NaN for a step that was not scored. */
  scores: readonly number[];
  /** Index of the first wrong step, -1 when every step is right. */
  label: number;
}

export interface F1Report {
  /** NaN when either class (erroneous or correct records) is empty. */
  f1: number;
  /** Share of erroneous records whose first error was found at exactly the right step. */
  accErroneous: number;
  /** Share of correct records in which no step was flagged. */
  accCorrect: number;
  nErroneous: number;
  nCorrect: number;
}

export interface ThresholdedF1 extends F1Report {
  /** Steps scoring strictly below it are flagged. */
  threshold: number;
}

/** Steps before `label` are right (1), the step at `label` and every later one wrong (0); -1: all right. */
export function stepLabels(label: number, nSteps: number): (0 | 1)[] {
  return Array.from({ length: nSteps }, (_, i) => (label < 0 || i < label ? 1 : 0));
}

/** Index of the first step scoring below the threshold, -1 if none. NaN (unscored) steps are never flagged. */
export function firstErrorAt(scores: readonly number[], threshold: number): number {
  for (let i = 0; i < scores.length; i++) if (scores[i]! < threshold) return i;
  return -1;
}

function harmonic(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return a + b > 0 ? (2 * a * b) / (a + b) : 0;
}

export function processBenchF1(records: readonly LabeledRecord[], threshold: number): F1Report {
  let hitErr = 0;
  let nErr = 0;
  let hitOk = 0;
  let nOk = 0;
  for (const r of records) {
    const predicted = firstErrorAt(r.scores, threshold);
    if (r.label < 0) {
      nOk++;
      if (predicted === -1) hitOk++;
    } else {
      nErr++;
      if (predicted === r.label) hitErr++;
    }
  }
  const accErroneous = nErr ? hitErr / nErr : NaN;
  const accCorrect = nOk ? hitOk / nOk : NaN;
  return { f1: harmonic(accErroneous, accCorrect), accErroneous, accCorrect, nErroneous: nErr, nCorrect: nOk };
}

/**
 * The threshold with the best F1 on the set, as the paper and ProcessBench report it (an oracle
 * threshold: an upper bound for a threshold fixed in advance).
 *
 * Only the position of the threshold among the distinct scores u1 < … < um matters, so there are
 * m + 1 "pieces": piece p flags exactly the scores of rank ≤ p. Each record is right on one run of
 * consecutive pieces, found from its scores' ranks; a difference array then counts hits for all
 * pieces in one sweep, O(N log N) for N steps. Each piece is reported by one threshold inside it:
 * -Infinity (flag nothing), the midpoint between neighbours, or +Infinity (flag every finite score).
 * Ties go to the lowest threshold. With one class empty, F1 is NaN and the piece that is best for
 * the class present is returned.
 */
export function bestProcessBenchF1(records: readonly LabeledRecord[]): ThresholdedF1 {
  const values = distinctSorted(records.flatMap((r) => r.scores));
  const m = values.length;
  const rank = new Map<number, number>(values.map((v, i) => [v, i + 1]));
  const okDiff = new Int32Array(m + 2);
  const errDiff = new Int32Array(m + 2);
  let nOk = 0;
  let nErr = 0;
  for (const r of records) {
    // Lowest rank among the steps before the labelled one (all steps for a correct record):
    // pieces below it leave those steps unflagged.
    const upto = r.label < 0 ? r.scores.length : Math.min(r.label, r.scores.length);
    let minRank = m + 1;
    for (let i = 0; i < upto; i++) {
      const s = r.scores[i]!;
      if (!Number.isNaN(s)) minRank = Math.min(minRank, rank.get(s)!);
    }
    if (r.label < 0) {
      nOk++;
      okDiff[0]!++;
      okDiff[minRank]!--;
      continue;
    }
    nErr++;
    const s = r.scores[r.label];
    if (s === undefined || Number.isNaN(s)) continue; // the wrong step can never be flagged
    const lo = rank.get(s)!;
    const hi = minRank - 1;
    if (lo <= hi) {
      errDiff[lo]!++;
      errDiff[hi + 1]!--;
    }
  }

  let bestPiece = 0;
  let bestObjective = -1;
  let okHits = 0;
  let errHits = 0;
  for (let p = 0; p <= m; p++) {
    okHits += okDiff[p]!;
    errHits += errDiff[p]!;
    if (p === m && m > 0 && values[m - 1] === Infinity) break; // "flag +Infinity too" has no threshold
    const accErr = nErr ? errHits / nErr : NaN;
    const accOk = nOk ? okHits / nOk : NaN;
    const objective = nErr && nOk ? harmonic(accErr, accOk) : nErr ? accErr : nOk ? accOk : 0;
    if (objective > bestObjective) {
      bestObjective = objective;
      bestPiece = p;
    }
  }
  const threshold = pieceThreshold(values, bestPiece);
  return { ...processBenchF1(records, threshold), threshold };
}

/** A threshold t with: score < t ⇔ rank(score) ≤ p. */
function pieceThreshold(values: readonly number[], p: number): number {
  if (p === 0) return -Infinity;
  if (p === values.length) return Infinity;
  const below = values[p - 1]!;
  const above = values[p]!;
  const mid = below / 2 + above / 2; // halves first: no overflow near ±MAX_VALUE
  return Number.isFinite(mid) && mid > below && mid <= above ? mid : above;
}
