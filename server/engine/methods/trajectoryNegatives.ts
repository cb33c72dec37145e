// Hard negatives read from the solution itself, at no model cost: the results its steps compute
// (the number after each "="), latest first, that differ from the gold answer. A wrong step's result
// is carried forward to the solution's final answer, so the latest wrong result is exactly the wrong
// answer the solution is heading to: the negative the model's own samples find most often on this
// data, found here without generating a token.
//
// Deviation from the paper (Section 5.1 samples negatives from the model and falls back to heuristic
// edits): this is one more heuristic, used by the cost-lean CPMI setting that `steplens bench`
// measures beside the default, because sampled negatives are what CPMI generates tokens for.

import { perturbations, sameAnswer } from "../cpmi/negatives.js";

const RESULT = /=\s*\$?\s*(-?\d+(?:,\d{3})*(?:\.\d+)?)/g;

export function trajectoryNegatives(steps: readonly string[], gold: string, m: number): string[] {
  const out: string[] = [];
  const push = (v: string): void => {
    const n = String(Number(v.replace(/,/g, "")));
    if (out.length < m && Number.isFinite(Number(n)) && !sameAnswer(n, gold) && !out.some((o) => sameAnswer(o, n))) out.push(n);
  };
  for (let k = steps.length - 1; k >= 0; k--) {
    const results = [...steps[k]!.matchAll(RESULT)].map((x) => x[1]!);
    for (let j = results.length - 1; j >= 0; j--) push(results[j]!);
  }
  for (const p of perturbations(gold, steps)) push(p.value);
  return out;
}
