// CPMI-Merge and its Rand_Merge control (CPMI paper, Section 5.2 and Appendix E.2): the first step's
// label comes from Monte Carlo rollouts, every later step's from CPMI. The paper merges at index 1
// (MC for step 1 only) because that was its best quality per cost; `mergeIndex` keeps the ablation
// of Table 12 possible.
//
// One scale: the paper trains on CPMI rewards passed through a robust z-score and a sigmoid (Eq. 8),
// which lands them in [0, 1], where MC values (a share of rollouts) already are. So the merge joins
// MC values with CPMI *soft labels*, never with raw rewards (whose range is about −5..5).

export interface MergeInput {
  /** MC values (share of rollouts reaching the gold answer) of the first `mergeIndex` steps at least. */
  mcValues: readonly number[];
  /** CPMI soft labels, one per step. */
  cpmiSoftLabels: readonly number[];
  /** Steps labeled by MC (the paper's "Merge1" = 1). */
  mergeIndex?: number;
}

export function cpmiMerge({ mcValues, cpmiSoftLabels, mergeIndex = 1 }: MergeInput): number[] {
  return cpmiSoftLabels.map((s, i) => (i < mergeIndex ? mcValues[i]! : s));
}

/** Rand_Merge: the same structure with uniform random values in place of CPMI after the merge index. */
export function randMerge(mcValues: readonly number[], steps: number, random: () => number, mergeIndex = 1): number[] {
  return Array.from({ length: steps }, (_, i) => (i < mergeIndex ? mcValues[i]! : random()));
}

/** A small seeded generator (mulberry32) so Rand_Merge runs are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
