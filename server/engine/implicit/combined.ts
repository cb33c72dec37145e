// CPMI and Implicit PRM read different evidence: CPMI asks how a step moves the model's belief in
// the right answer against wrong ones (needs a target answer), Implicit PRM how much a model trained
// on outcomes prefers the step's own tokens (needs a pair). Where they agree the step is clear;
// the combined step score is their mean, so one confident method outweighs a hesitant other. On
// arith-processbench-dev the mean beat both alone (bench/results-implicit/): step ROC-AUC and
// ProcessBench F1 above CPMI's and Implicit PRM's; on the Best-of-N set it ties CPMI. So it is an
// option (`--method cpmi_implicit`, Best-of-N `cpmi+implicit-min`), not the default.

import { aggregate, predictFirstError } from "../cpmi/aggregate.js";
import type { SolutionScore } from "../cpmi/scorer.js";
import type { ImplicitScore } from "./implicitPrm.js";

/** Per step, the mean of two soft labels; a step only one of them scored keeps that one's value. */
export function combineStepScores(cpmi: readonly number[], implicit: readonly number[]): number[] {
  return cpmi.map((c, i) => {
    const m = implicit[i];
    if (!Number.isFinite(c)) return m ?? NaN;
    if (m == null || !Number.isFinite(m)) return c;
    return (c + m) / 2;
  });
}

/**
 * A CPMI result whose soft labels become the combined ones (the CPMI rewards and terms stay, the
 * Implicit PRM terms are attached), with the score, first error and token count to match.
 */
export function combineWithImplicit(result: SolutionScore, imp: ImplicitScore, threshold: number): SolutionScore {
  const soft = combineStepScores(
    result.steps.map((s) => s.softLabel),
    imp.steps.map((s) => s.softLabel),
  );
  soft.forEach((v, i) => (result.steps[i]!.softLabel = v));
  result.score = aggregate(soft, result.aggregation);
  result.firstError = predictFirstError(soft, threshold);
  result.method = "cpmi_implicit";
  result.implicit = imp;
  result.tokens = { ...result.tokens, evaluated: result.tokens.evaluated + imp.tokens.evaluated, naive: result.tokens.naive + 2 * imp.tokens.text };
  for (const w of imp.warnings) if (!result.warnings.includes(w)) result.warnings.push(w);
  return result;
}
