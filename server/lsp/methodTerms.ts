// What the scores of a check carry beyond CPMI's terms: Implicit PRM's terms per step (for the
// hover and the diagnostic's words) and, with several methods (steplens.methods), every method's view
// of each step, so the hover, the after-line score and the disagreement notes can set them side by side.

import type { DocumentScores, WireImplicitTerms, WireMethodScore } from "../../protocol/index.js";
import type { ImplicitStepScore } from "../engine/implicit/implicitPrm.js";
import type { MethodScore } from "../engine/methods/scoreMethods.js";
import { wireGold } from "./wire.js";

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function wireImplicit(t: ImplicitStepScore): WireImplicitTerms {
  return {
    beta: t.beta,
    logRatio: finite(t.logRatio),
    reward: finite(t.reward),
    q: finite(t.q),
    softLabel: finite(t.softLabel),
    tokens: t.tokens,
    topTokens: t.topTokens.map((k) => ({ text: k.text, logRatio: k.logRatio })),
  };
}

/**
 * `wire` was built from `results[0]` (documentScores); this adds the method, Implicit PRM's terms
 * (from whichever method computed them) and, with more than one method, each method's soft label
 * and verdict per step. A gold answer one method drew (CPMI's pseudo-gold) is shown when the first
 * method read none (Implicit PRM).
 */
export function addMethodTerms(wire: DocumentScores, results: readonly MethodScore[], goldFromSetting: boolean): DocumentScores {
  const several = results.length > 1;
  if (several) wire.methods = results.map((r) => r.method);
  for (const solution of wire.solutions) {
    const scoredBy = results.map((r) => ({ method: r.method, scored: r.scored.solutions.find((s) => s.solution.index === solution.index) }));
    const first = scoredBy[0]!.scored;
    if (first) solution.method = first.result.method ?? results[0]!.method;
    if (first?.result.implicit) solution.outcome = finite(first.result.implicit.outcome);
    const implicit = scoredBy.find((x) => x.scored?.result.implicit)?.scored?.result.implicit;
    for (const step of solution.steps) {
      const terms = implicit?.steps[step.index];
      if (terms) step.implicit = wireImplicit(terms);
      if (!several) continue;
      step.methods = scoredBy.flatMap(({ method, scored }): WireMethodScore[] => {
        const st = scored?.steps.find((x) => x.step.index === step.index);
        return st ? [{ method, softLabel: finite(st.score.softLabel), reward: finite(st.score.reward), verdict: st.verdict }] : [];
      });
    }
  }
  if (!wire.gold) {
    const gold = results.find((r) => r.scored.gold?.value)?.scored.gold;
    const w = wireGold(gold, goldFromSetting);
    if (w) wire.gold = w;
  }
  for (const r of results.slice(1)) for (const w of r.scored.warnings) if (!wire.warnings.includes(w)) wire.warnings.push(w);
  return wire;
}
