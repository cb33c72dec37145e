// One number for a whole solution from its steps' soft labels. "min" asks "how bad is the worst
// step" (a chain is as strong as its weakest link); "product" treats soft labels as independent
// probabilities of correctness; "mean" is the paper's Best-of-N rule; "last" trusts the final belief.

export const AGGREGATIONS = ["min", "mean", "last", "product"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export function isAggregation(s: string): s is Aggregation {
  return (AGGREGATIONS as readonly string[]).includes(s);
}

export function aggregate(values: readonly number[], how: Aggregation): number {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return NaN;
  switch (how) {
    case "min":
      return Math.min(...v);
    case "mean":
      return v.reduce((a, b) => a + b, 0) / v.length;
    case "last":
      return v[v.length - 1]!;
    case "product":
      return v.reduce((a, b) => a * b, 1);
  }
}

/** Index of the first step whose soft label falls below the threshold, or -1. */
export function predictFirstError(softLabels: readonly number[], threshold: number): number {
  return softLabels.findIndex((s) => Number.isFinite(s) && s < threshold);
}
