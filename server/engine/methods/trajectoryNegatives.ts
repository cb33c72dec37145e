// Hard negatives read from the solution itself, at no model cost: the results its steps compute
// (the number after each "="), latest first, that differ from the gold answer. A wrong step's result
// is carried forward to the solution's final answer, so the latest wrong result is exactly the wrong
// answer the solution is heading to: the negative the model's own samples find most often on this
// data, found here without generating a token.
//
// Deviation from the paper (Section 5.1 samples negatives from the model and falls back to heuristic
// edits): this is one more heuristic, used by CPMI with `negativesFrom: "solution"` (the default of
// `steplens label` and `bench`), because sampled negatives are what CPMI generates tokens for. The
// paper's Appendix E.1 finds M = 1, the single hardest negative, as good as larger M.

import { perturbations, sameAnswer } from "../cpmi/negatives.js";

// `\s*(?:\$\s*)?`, not `\s*\$?\s*`: the latter splits a run of spaces every way before it fails.
const RESULT = /=\s*(?:\$\s*)?(-?\d+(?:,\d{3})*(?:\.\d+)?)/g;

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

/** Every result the steps compute, normalised: to tell a negative read from the solution from a made-up one. */
export function stepResults(steps: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const step of steps) for (const m of step.matchAll(RESULT)) out.add(String(Number(m[1]!.replace(/,/g, ""))));
  return out;
}
