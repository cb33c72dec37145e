// The terminal view of an EvalReport: one metric a row, so runs can be compared by eye or diffed.

import type { EvalReport } from "./metrics.js";
import type { ThresholdedF1 } from "./processBench.js";

function num(x: number, digits = 3): string {
  if (Number.isNaN(x)) return "n/a";
  if (x === Infinity) return "+inf";
  if (x === -Infinity) return "-inf";
  return x.toFixed(digits);
}

function pct(x: number): string {
  return Number.isNaN(x) ? "n/a" : `${(100 * x).toFixed(1)}%`;
}

function f1Detail(r: ThresholdedF1, scoreName: string): string {
  const rule =
    r.threshold === -Infinity ? "no step flagged" : r.threshold === Infinity ? "every step flagged" : `flag ${scoreName} < ${num(r.threshold)}`;
  return `${rule}; erroneous ${pct(r.accErroneous)} of ${r.nErroneous}, correct ${pct(r.accCorrect)} of ${r.nCorrect}`;
}

export function formatEvalReport(r: EvalReport): string {
  const rows: [string, string, string][] = [
    ["step ROC-AUC", num(r.auc), "right steps as positives"],
    ["ProcessBench F1 (best)", num(r.f1Best.f1), f1Detail(r.f1Best, "score")],
  ];
  if (r.f1AtThreshold) {
    rows.push([`ProcessBench F1 (soft < ${num(r.f1AtThreshold.threshold, 2)})`, num(r.f1AtThreshold.f1), f1Detail(r.f1AtThreshold, "soft label")]);
  }
  rows.push(["Wasserstein-1", num(r.wasserstein), `right vs wrong steps, on ${r.wassersteinOn}`]);

  const nameWidth = Math.max("metric".length, ...rows.map(([name]) => name.length));
  const valueWidth = Math.max("value".length, ...rows.map(([, value]) => value.length));
  const line = (a: string, b: string, c: string): string => `${a.padEnd(nameWidth)}  ${b.padStart(valueWidth)}  ${c}`.trimEnd();
  const unscored = r.unscoredSteps ? `, ${r.unscoredSteps} unscored` : "";
  return [
    `${r.records} records, ${r.steps} steps${unscored}`,
    line("metric", "value", "detail"),
    line("-".repeat(nameWidth), "-".repeat(valueWidth), "------"),
    ...rows.map(([a, b, c]) => line(a, b, c)),
  ].join("\n");
}
