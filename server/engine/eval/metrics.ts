// The CPMI paper's evaluation (Section 6.3) in one call: step ROC-AUC, ProcessBench-style F1 and
// the Wasserstein distance between right and wrong steps. Pure functions; `steplens eval` reads
// the file and prints the report.

import { rocAuc } from "./rocAuc.js";
import { bestProcessBenchF1, processBenchF1, stepLabels, type LabeledRecord, type ThresholdedF1 } from "./processBench.js";
import { wasserstein1 } from "./wasserstein.js";

export { rocAuc } from "./rocAuc.js";
export { bestProcessBenchF1, firstErrorAt, processBenchF1, stepLabels, type F1Report, type LabeledRecord, type ThresholdedF1 } from "./processBench.js";
export { wasserstein1 } from "./wasserstein.js";
export { formatEvalReport } from "./formatReport.js";

export interface EvalReport {
  records: number;
  steps: number;
  /** Steps with a NaN score; AUC and Wasserstein leave them out, F1 never flags them. */
  unscoredSteps: number;
  /** Step ROC-AUC of the scores, right steps as positives. */
  auc: number;
  /** ProcessBench F1 at the best threshold on the scores (an oracle threshold). */
  f1Best: ThresholdedF1;
  /** ProcessBench F1 with `threshold` applied to the probability scores; only when both are given. */
  f1AtThreshold?: ThresholdedF1;
  /** Wasserstein-1 between right and wrong steps, on the probability scores when given, else the scores. */
  wasserstein: number;
  wassersteinOn: "soft labels" | "scores";
}

export interface EvalOptions {
  /** Soft-label threshold for `f1AtThreshold` (probability space, like the labeler's `first_error`). */
  threshold?: number;
  /**
   * Per-step scores in [0, 1], one array per record, shaped like `records[k].scores`. The CLI
   * passes the soft labels, so the Wasserstein distance is in probability space as in the CPMI
   * paper's Table 3 and comparable across models whose raw rewards differ in scale. If any record's
   * array is missing or differently long, they are all ignored rather than mixed with raw scores.
   */
  probabilityScores?: readonly (readonly number[])[];
}

export function evaluateLabeled(records: readonly LabeledRecord[], opts: EvalOptions = {}): EvalReport {
  const scores: number[] = [];
  const labels: (0 | 1)[] = [];
  for (const r of records) {
    scores.push(...r.scores);
    labels.push(...stepLabels(r.label, r.scores.length));
  }
  const probs = opts.probabilityScores;
  const useProbs =
    probs != null && records.length > 0 && probs.length === records.length && probs.every((p, k) => p.length === records[k]!.scores.length);
  const right: number[] = [];
  const wrong: number[] = [];
  records.forEach((r, k) => {
    const values = useProbs ? probs[k]! : r.scores;
    stepLabels(r.label, values.length).forEach((y, i) => (y ? right : wrong).push(values[i]!));
  });
  const report: EvalReport = {
    records: records.length,
    steps: scores.length,
    unscoredSteps: scores.filter(Number.isNaN).length,
    auc: rocAuc(scores, labels),
    f1Best: bestProcessBenchF1(records),
    wasserstein: wasserstein1(right, wrong),
    wassersteinOn: useProbs ? "soft labels" : "scores",
  };
  if (useProbs && opts.threshold != null) {
    const soft = records.map((r, k) => ({ scores: probs[k]!, label: r.label }));
    report.f1AtThreshold = { ...processBenchF1(soft, opts.threshold), threshold: opts.threshold };
  }
  return report;
}
