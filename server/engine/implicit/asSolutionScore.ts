// Implicit PRM's result in the shape every front end already shows (SolutionScore): the step
// reward and soft label in CPMI's places, verdicts and first error from the same threshold rule,
// and the Implicit PRM terms (β, summed log-ratio, top tokens, q_i) beside them for a hover.

import type { GoldAnswer, SolutionScore, StepScore } from "../cpmi/scorer.js";
import { implicitCalibration, type ImplicitScore } from "./implicitPrm.js";

/**
 * Implicit PRM reads no gold answer; `gold` is carried only so the result still names the one the
 * user gave (an empty value with source "fallback" when there is none: nothing was guessed).
 */
export function implicitSolutionScore(imp: ImplicitScore, gold: GoldAnswer | undefined): SolutionScore {
  const steps: StepScore[] = imp.steps.map((s) => ({
    index: s.index,
    reward: s.reward,
    softLabel: s.softLabel,
    goldGain: NaN,
    negativeGains: [],
    negativeMean: NaN,
    terms: [],
    rank: 0,
    truncated: s.truncated,
  }));
  steps
    .filter((s) => !s.truncated)
    .sort((a, b) => b.reward - a.reward)
    .forEach((s, r) => (s.rank = r + 1));
  return {
    steps,
    method: "implicit",
    implicit: imp,
    score: imp.score,
    aggregation: imp.aggregation,
    firstError: imp.firstError,
    gold: gold ?? { value: "", source: "fallback", agreement: 0 },
    negatives: [],
    templates: [],
    goldLogprobs: [],
    // Implicit PRM generates nothing and has no from-scratch variant: its one pass per model is the floor.
    tokens: { evaluated: imp.tokens.evaluated, generated: 0, naive: 2 * imp.tokens.text },
    calibration: implicitCalibration(imp.beta),
    warnings: imp.warnings,
  };
}
