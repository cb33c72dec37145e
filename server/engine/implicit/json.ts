// Implicit PRM's terms in the JSON every machine-readable front end writes (`steplens score --json`,
// `steplens serve`'s /v1/score), so the two cannot drift apart: snake_case, null for not scored.

import type { ImplicitScore, ImplicitStepScore } from "./implicitPrm.js";

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export interface ImplicitStepJson {
  beta: number;
  /** Σ over the step's tokens of log π_θ − log π_ref. */
  log_ratio: number | null;
  q: number | null;
  tokens: number;
  /** The five tokens with the largest |log-ratio|, largest first. */
  top_tokens: { text: string; log_ratio: number }[];
}

export function implicitStepJson(t: ImplicitStepScore | undefined): ImplicitStepJson | null {
  if (!t) return null;
  return {
    beta: t.beta,
    log_ratio: finiteOrNull(t.logRatio),
    q: finiteOrNull(t.q),
    tokens: t.tokens,
    top_tokens: t.topTokens.map((k) => ({ text: k.text, log_ratio: k.logRatio })),
  };
}

/** The solution-level fields: the outcome reward r and β. */
export function implicitSolutionJson(imp: ImplicitScore | undefined): { outcome: number | null; beta: number } | Record<string, never> {
  return imp ? { outcome: finiteOrNull(imp.outcome), beta: imp.beta } : {};
}
