// Weak and wrong steps as LSP diagnostics, with the reason in words: the user should learn from the
// message alone whether the step hurt the right answer or helped a wrong one.

import { DiagnosticSeverity, type Diagnostic } from "vscode-languageserver";
import type { DiagnosticData, DocumentScores, WireRange, WireSolutionScore, WireStepScore } from "../../protocol/index.js";
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
    const gains = step.terms.map((t) => t.negativeGains[m]).filter((g): g is number => g != null && Number.isFinite(g));
    if (gains.length === 0) return;
    const gain = gains.reduce((a, b) => a + b, 0) / gains.length;
    if (!best || gain > best.gain) best = { value, gain };
  });
  return best;
}

/** Why the reward is low, from its terms. */
export function reasonOf(step: WireStepScore, solution: WireSolutionScore, gold: string | undefined): string {
  const neg = strongestNegative(step, solution.negatives);
  const goldGain = step.goldGain ?? 0;
  if (neg && neg.gain > 0 && neg.gain > goldGain) {
    return `moves the model toward a wrong answer: ${neg.value}${gold ? ` instead of ${gold}` : ""}`;
  }
  if (goldGain < 0) return `makes the correct answer${gold ? ` ${gold}` : ""} less likely`;
  return `helps the wrong answers more than the correct one${gold ? ` ${gold}` : ""}`;
}

export function stepMessage(step: WireStepScore, solution: WireSolutionScore, scores: DocumentScores): string {
  // Implicit PRM reads no answer: its reason is in the step's own tokens.
  if (solution.method === "implicit") return implicitStepMessage(step, solution, scores) ?? `Step ${step.index + 1} has a low Implicit PRM reward`;
  const where = scores.solutions.length > 1 ? ` of ${solution.title ?? `solution ${solution.index + 1}`}` : "";
  const reward = step.reward == null ? "—" : signed(step.reward);
  const soft = step.softLabel == null ? "—" : step.softLabel.toFixed(2);
  return `Step ${step.index + 1}${where} ${reasonOf(step, solution, scores.gold?.value)} (reward ${reward}, soft label ${soft})`;
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
      if ((step.verdict !== "weak" && step.verdict !== "wrong") || step.ignored) continue;
      const data: DiagnosticData = { uri: scores.uri, solutionIndex: solution.index, stepIndex: step.index, stepKey: step.key ?? "" };
      out.push({
        range: step.textRange,
        severity: step.verdict === "wrong" ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
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
