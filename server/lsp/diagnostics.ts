// Weak and wrong steps as LSP diagnostics, with the reason in words: the user should learn from the
// message alone whether the step hurt the right answer or helped a wrong one, and which step is the
// first error (an Error; the weak steps after it are Warnings).

import { DiagnosticSeverity, type Diagnostic } from "vscode-languageserver";
import type { DiagnosticData, DocumentScores, WireRange, WireSolutionScore, WireStepScore } from "../../protocol/index.js";
import { sameAnswer } from "../engine/cpmi/negatives.js";
import { implicitStepMessage } from "./implicitHover.js";
import { disagreementDiagnostics } from "./disagreement.js";

export const SOURCE = "StepLens";

export function signed(x: number, digits = 2): string {
  const s = Math.abs(x).toFixed(digits);
  return x < 0 && Number(s) !== 0 ? `−${s}` : `+${s}`;
}

/** The negative whose log-probability this step raised most, with its mean gain over templates. */
export function strongestNegative(step: WireStepScore, negatives: readonly string[]): { value: string; gain: number } | undefined {
  let best: { value: string; gain: number } | undefined;
  negatives.forEach((value, m) => {
    const gain = negativeGain(step, m);
    if (gain !== undefined && (!best || gain > best.gain)) best = { value, gain };
  });
  return best;
}

function negativeGain(step: WireStepScore, m: number): number | undefined {
  const gains = step.terms.map((t) => t.negativeGains[m]).filter((g): g is number => g != null && Number.isFinite(g));
  return gains.length === 0 ? undefined : gains.reduce((a, b) => a + b, 0) / gains.length;
}

/** The answer the solution itself reaches, when it is not the gold one: the answer its wrong steps carry. */
export function carriedWrongAnswer(solution: WireSolutionScore, gold: string | undefined): string | undefined {
  const own = solution.finalAnswer;
  return own !== undefined && gold !== undefined && !sameAnswer(own, gold) ? own : undefined;
}

/**
 * Why the reward is low, from its terms. The solution's own wrong answer is named when it is the
 * reason: a sampled negative can be a near miss of the text's answer (117 where the text says 116),
 * and the user reads the text, not the samples.
 */
export function reasonOf(step: WireStepScore, solution: WireSolutionScore, gold: string | undefined): string {
  const goldGain = step.goldGain ?? 0;
  const instead = gold ? ` instead of ${gold}` : "";
  const carried = carriedWrongAnswer(solution, gold);
  const carriedAt = carried === undefined ? -1 : solution.negatives.findIndex((n) => sameAnswer(n, carried));
  const carriedGain = carriedAt >= 0 ? negativeGain(step, carriedAt) : undefined;
  if (carried !== undefined && carriedGain !== undefined && carriedGain > 0 && carriedGain > goldGain) {
    return `moves the model toward ${carried}, the answer this solution reaches,${instead}`;
  }
  const neg = strongestNegative(step, solution.negatives);
  const reached = carried !== undefined ? `; this solution reaches ${carried}` : "";
  if (neg && neg.gain > 0 && neg.gain > goldGain) return `moves the model toward the wrong answer ${neg.value}${instead}${reached}`;
  if (goldGain < 0) return `makes the correct answer${gold ? ` ${gold}` : ""} less likely${reached}`;
  return `helps the wrong answers more than the correct one${gold ? ` ${gold}` : ""}${reached}`;
}

export function stepMessage(step: WireStepScore, solution: WireSolutionScore, scores: DocumentScores): string {
  // Implicit PRM reads no answer: its reason is in the step's own tokens.
  if (solution.method === "implicit") return implicitStepMessage(step, solution, scores) ?? `Step ${step.index + 1} has a low Implicit PRM reward`;
  const where = scores.solutions.length > 1 ? ` of ${solution.title ?? `solution ${solution.index + 1}`}` : "";
  const reward = step.reward == null ? "—" : signed(step.reward);
  const soft = step.softLabel == null ? "—" : step.softLabel.toFixed(2);
  const first = solution.firstError === step.index ? " is the first error: it" : "";
  return `Step ${step.index + 1}${where}${first} ${reasonOf(step, solution, scores.gold?.value)} (reward ${reward}, soft label ${soft})`;
}

export interface ExtraNote {
  message: string;
  range?: WireRange;
}

const LINE_ZERO: WireRange = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

export function buildDiagnostics(scores: DocumentScores | undefined, notes: readonly ExtraNote[]): Diagnostic[] {
  const out: Diagnostic[] = notes.map((n) => ({ range: n.range ?? LINE_ZERO, severity: DiagnosticSeverity.Information, source: SOURCE, message: n.message }));
  if (!scores) return out;
  for (const solution of scores.solutions) {
    for (const step of solution.steps) {
      // A stale score belongs to an older text: its squiggle would point at a problem that may be gone.
      if ((step.verdict !== "weak" && step.verdict !== "wrong") || step.ignored || step.stale) continue;
      const data: DiagnosticData = { uri: scores.uri, solutionIndex: solution.index, stepIndex: step.index, stepKey: step.key ?? "" };
      out.push({
        range: step.textRange,
        // The first error is what a reader fixes first; the weak steps after it stand on a wrong prefix.
        severity: solution.firstError === step.index ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
        source: SOURCE,
        code: step.verdict,
        message: stepMessage(step, solution, scores),
        data,
      });
    }
  }
  out.push(...disagreementDiagnostics(scores));
  return out;
}
