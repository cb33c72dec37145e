// Engine results in the wire shape of protocol/index.ts. The engine's positions already count
// UTF-16 code units from 0, as LSP does, so a range converts field by field.

import { createHash } from "node:crypto";
import type { DocumentScores, WireGold, WireRange, WireSolutionScore, WireStepScore } from "../../protocol/index.js";
import type { SourceRange } from "../engine/parse/types.js";
import type { DocumentScore } from "../engine/scoreDocument.js";
import type { Engine } from "../engine/engineOptions.js";
import type { GoldAnswer } from "../engine/cpmi/scorer.js";
import { backendName, modelNameOf } from "./engineHost.js";

export function wireRange(r: SourceRange): WireRange {
  return { start: { line: r.start.line, character: r.start.column }, end: { line: r.end.line, character: r.end.column } };
}

/** The solution index is part of the key: candidates often share a first step, ignoring one must not hide the other. */
export function stepKey(solutionIndex: number, text: string): string {
  return createHash("sha1").update(`${solutionIndex}\u0000${text}`).digest("hex").slice(0, 16);
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function wireGold(gold: GoldAnswer | undefined, fromSetting: boolean): WireGold | undefined {
  if (!gold) return undefined;
  // The engine calls any gold answer handed in from outside a "flag"; here it came from the setting.
  const source = gold.source === "flag" && fromSetting ? "setting" : gold.source;
  const w: WireGold = { value: gold.value, source };
  if (gold.agreement != null) w.agreement = gold.agreement;
  return w;
}

/** The first weak or wrong step the user has not ignored (its index; -1: none). Stale steps do not count. */
export function firstErrorOf(steps: readonly WireStepScore[]): number {
  return steps.find((s) => (s.verdict === "weak" || s.verdict === "wrong") && !s.ignored && !s.stale)?.index ?? -1;
}

/**
 * "Ignore this step": marks the ignored steps and moves each solution's first error past them, so
 * diagnostics, lenses, the after-line text and the report all stop naming an ignored step.
 */
export function applyIgnored(scores: DocumentScores, ignored: ReadonlySet<string>): void {
  for (const solution of scores.solutions) {
    for (const step of solution.steps) if (step.key !== undefined && ignored.has(step.key)) step.ignored = true;
    // Stale steps do not count: a stale solution's first error is known only before its first edit.
    solution.firstError = firstErrorOf(solution.steps);
  }
}

export interface WireContext {
  uri: string;
  version: number;
  engine: Engine;
  goldFromSetting: boolean;
  ignored: ReadonlySet<string>;
  tokens?: { evaluated: number; generated: number };
}

export function documentScores(scored: DocumentScore, ctx: WireContext): DocumentScores {
  const solutions: WireSolutionScore[] = scored.solutions.map((s) => {
    const steps: WireStepScore[] = s.steps.map((st) => {
      const key = stepKey(s.solution.index, st.step.text);
      const w: WireStepScore = {
        index: st.step.index,
        range: wireRange(st.step.range),
        textRange: wireRange(st.step.textRange),
        text: st.step.text,
        reward: finite(st.score.reward),
        softLabel: finite(st.score.softLabel),
        verdict: st.verdict,
        rank: st.score.rank,
        goldGain: finite(st.score.goldGain),
        negativeMean: finite(st.score.negativeMean),
        terms: st.score.terms.map((t) => ({ template: t.template, goldGain: t.goldGain, negativeGains: t.negativeGains, negativeMean: t.negativeMean, reward: t.reward })),
        key,
      };
      if (ctx.ignored.has(key)) w.ignored = true;
      return w;
    });
    const sol: WireSolutionScore = {
      index: s.solution.index,
      range: wireRange(s.solution.range),
      score: finite(s.result.score),
      aggregation: s.result.aggregation,
      // The engine's first error, less the steps the user ignored.
      firstError: firstErrorOf(steps),
      negatives: s.result.negatives.map((n) => n.value),
      steps,
    };
    if (s.solution.title) sol.title = s.solution.title;
    if (s.solution.finalAnswer) sol.finalAnswer = s.solution.finalAnswer.value;
    return sol;
  });
  const out: DocumentScores = {
    uri: ctx.uri,
    version: ctx.version,
    problem: scored.document.problem,
    solutions,
    warnings: scored.warnings,
    model: modelNameOf(ctx.engine),
    backend: backendName(ctx.engine),
    threshold: ctx.engine.scorer.config.threshold,
  };
  const gold = wireGold(scored.gold, ctx.goldFromSetting);
  if (gold) out.gold = gold;
  if (ctx.tokens) out.tokens = ctx.tokens;
  return out;
}
