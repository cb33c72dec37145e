// Best-of-N by Implicit PRM: each candidate is scored as written, with no target answer, so a
// record's gold answer changes nothing and none is guessed (no rollouts, no pseudo-gold).

import type { BonInputRecord, BonResult, BonVariant } from "../bon/bestOfN.js";
import { aggregate } from "../cpmi/aggregate.js";
import type { GoldAnswer } from "../cpmi/scorer.js";
import { parseDocument } from "../parse/index.js";
import type { ImplicitPrmScorer } from "./implicitPrm.js";
import { writtenFromDocument } from "./written.js";
import { combineStepScores } from "./combined.js";

/**
 * Scores: the variant's aggregation of the step soft labels ("implicit"), or the outcome reward r
 * ("implicit-outcome"). The result's target is the record's gold when it has one, otherwise an
 * empty "fallback": nothing was drawn.
 */
export async function pickImplicit(implicit: ImplicitPrmScorer, record: BonInputRecord, variant: BonVariant, signal?: AbortSignal): Promise<BonResult> {
  const outcome = variant.scorer === "implicit-outcome";
  const none = outcome ? -Infinity : 0;
  const scores: number[] = [];
  const answers: (string | undefined)[] = [];
  for (const c of record.candidates) {
    const doc = parseDocument(c.text);
    const sol = doc.solutions[0];
    answers.push(sol?.finalAnswer?.value);
    const written = sol ? writtenFromDocument(c.text, doc, sol) : undefined;
    if (!written) {
      scores.push(none);
      continue;
    }
    const imp = await implicit.score(written, signal);
    const s = outcome ? imp.outcome : aggregate(imp.steps.map((x) => x.softLabel), variant.aggregation);
    scores.push(Number.isFinite(s) ? s : none);
  }
  let pick = 0;
  scores.forEach((s, k) => {
    if (s > scores[pick]!) pick = k;
  });
  const target: GoldAnswer = record.gold_answer != null ? { value: String(record.gold_answer), source: "record" } : { value: "", source: "fallback", agreement: 0 };
  return { scores, pick, target, answers };
}

/** Candidate k's CPMI soft labels averaged with its Implicit PRM ones (Best-of-N cpmi+implicit). */
export async function withImplicitSoftLabels(implicit: ImplicitPrmScorer | undefined, record: BonInputRecord, k: number, cpmi: readonly number[], signal?: AbortSignal): Promise<number[]> {
  if (!implicit) throw new Error("Best-of-N method cpmi+implicit-min needs Implicit PRM's pair: pass --reference-model PATH (--model is then the policy)");
  const text = record.candidates[k]!.text;
  const doc = parseDocument(text);
  const written = doc.solutions[0] ? writtenFromDocument(text, doc, doc.solutions[0]) : undefined;
  if (!written) return [...cpmi];
  const imp = await implicit.score(written, signal);
  return combineStepScores(cpmi, imp.steps.map((s) => s.softLabel));
}
