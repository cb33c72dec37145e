// Code lenses over each solution: its score, where it first goes wrong, and commands to re-score it
// or pick the best of several candidates. Ranges come from the current text, scores from the last
// check, so lenses stay on their solutions while the user types and the next check runs.

import type { CodeLens } from "vscode-languageserver";
import { PickBestOfNCommand, ScoreFileCommand, ShowStepReportCommand, type DocumentScores, type StepReportArgs, type WireRange } from "../../protocol/index.js";
import type { ParsedDocument } from "../engine/parse/types.js";
import { wireRange } from "./wire.js";

function lineStart(range: WireRange): WireRange {
  return { start: { line: range.start.line, character: 0 }, end: { line: range.start.line, character: 0 } };
}

export function solutionLensTitle(score: number | null, aggregation: string, steps: number, firstError: number): string {
  const value = score == null ? "—" : score.toFixed(2);
  const error = firstError >= 0 ? `first error: step ${firstError + 1}` : "no error found";
  return `StepLens: score ${value} (${aggregation} of ${steps} step${steps === 1 ? "" : "s"}) · ${error}`;
}

export function codeLenses(uri: string, doc: ParsedDocument, scores: DocumentScores | undefined): CodeLens[] {
  const lenses: CodeLens[] = [];
  const withSteps = doc.solutions.filter((s) => s.steps.length > 0);
  if (withSteps.length > 1) {
    const at = doc.problemRange ? wireRange(doc.problemRange) : wireRange(withSteps[0]!.range);
    lenses.push({ range: lineStart(at), command: { title: `Pick best of ${withSteps.length}`, command: PickBestOfNCommand, arguments: [uri] } });
  }
  for (const solution of withSteps) {
    const range = lineStart(wireRange(solution.range));
    const scored = scores?.solutions.find((s) => s.index === solution.index);
    if (!scored) {
      lenses.push({ range, command: { title: "StepLens: not scored yet — Score", command: ScoreFileCommand, arguments: [uri] } });
      continue;
    }
    const args: StepReportArgs = { uri, solutionIndex: solution.index };
    if (scored.firstError >= 0) args.stepIndex = scored.firstError;
    lenses.push({ range, command: { title: solutionLensTitle(scored.score, scored.aggregation, scored.steps.length, scored.firstError), command: ShowStepReportCommand, arguments: [args] } });
    lenses.push({ range, command: { title: "Re-score", command: ScoreFileCommand, arguments: [uri] } });
  }
  return lenses;
}
