// Code lenses over each solution: its score, where it first goes wrong, and commands to re-score it
// or pick the best of several candidates. Ranges come from the current text, scores from the last
// check (as staleView adjusted them to the current text), so lenses stay on their solutions while the
// user types, and say so when an edit made the numbers stale. With no model to score with, they say
// what is wrong instead of offering a Score that would only repeat the error.

import type { CodeLens } from "vscode-languageserver";
import {
  PickBestOfNCommand,
  ScoreFileCommand,
  SelectModelCommand,
  ShowProblemCommand,
  ShowStepReportCommand,
  type DocumentScores,
  type ServerStatus,
  type StepReportArgs,
  type WireRange,
  type WireSolutionScore,
} from "../../protocol/index.js";
import type { ParsedDocument } from "../engine/parse/types.js";
import { wireRange } from "./wire.js";

function lineStart(range: WireRange): WireRange {
  return { start: { line: range.start.line, character: 0 }, end: { line: range.start.line, character: 0 } };
}

export function solutionLensTitle(score: number | null, aggregation: string, steps: number, firstError: number, ignored = 0): string {
  const value = score == null ? "—" : score.toFixed(2);
  const error = firstError >= 0 ? `first error: step ${firstError + 1}` : "no error found";
  const skipped = ignored > 0 ? ` (${ignored} ignored)` : "";
  return `StepLens: score ${value} (${aggregation} of ${steps} step${steps === 1 ? "" : "s"}) · ${error}${skipped}`;
}

/** A solution edited since its check: what still holds (a first error before the edit) and what happens next. */
export function staleLensTitle(solution: Pick<WireSolutionScore, "firstError">, checking: boolean): string {
  const next = checking ? "rescoring after your edit…" : "edited since it was scored";
  return `StepLens: ${next}${solution.firstError >= 0 ? ` · first error: step ${solution.firstError + 1}` : ""}`;
}

export interface LensContext {
  /** A check of this document is waiting out its debounce, queued or running. */
  checking: boolean;
  /**
   * Documents are checked without being asked (check frequency other than manual). While the model
   * loads the queue holds nothing (a load drops it and schedules every document after), yet a check
   * follows: the lens says so instead of "not scored yet — Score".
   */
  autoCheck?: boolean;
  /** The server's status: an error state explains lenses that have no scores. */
  status?: ServerStatus;
  /** Whether the server or the client executes a command; a lens names only those (default: all). */
  canRun?: (command: string) => boolean;
}

/** Why nothing can be scored now, in a few words, or undefined when a check could run. */
export function unavailableReason(status: ServerStatus | undefined): string | undefined {
  switch (status?.state) {
    case "error":
      return status.problem?.summary ?? "the model could not be loaded";
    case "unreachable":
      return "the model server cannot be reached";
    case "unauthorized":
      return "the model server refused the token";
    default:
      return undefined;
  }
}

export function codeLenses(uri: string, doc: ParsedDocument, scores: DocumentScores | undefined, ctx: LensContext = { checking: false }): CodeLens[] {
  const lenses: CodeLens[] = [];
  const withSteps = doc.solutions.filter((s) => s.steps.length > 0);
  if (withSteps.length > 1) {
    const at = doc.problemRange ? wireRange(doc.problemRange) : wireRange(withSteps[0]!.range);
    lenses.push({ range: lineStart(at), command: { title: `Pick best of ${withSteps.length}`, command: PickBestOfNCommand, arguments: [uri] } });
  }
  const unavailable = unavailableReason(ctx.status);
  for (const solution of withSteps) {
    const range = lineStart(wireRange(solution.range));
    const scored = scores?.solutions.find((s) => s.index === solution.index);
    if (!scored && unavailable) {
      lenses.push({ range, command: { title: `StepLens: not scored — ${unavailable}`, command: ShowProblemCommand, arguments: [] } });
      if (ctx.status?.problem?.setting === "steplens.modelPath" && (ctx.canRun?.(SelectModelCommand) ?? true)) lenses.push({ range, command: { title: "Select Model…", command: SelectModelCommand, arguments: [] } });
      continue;
    }
    if (!scored) {
      const loading = ctx.status?.state === "starting" || ctx.status?.state === "loading";
      const title = ctx.checking || (loading && ctx.autoCheck) ? "StepLens: scoring…" : "StepLens: not scored yet — Score";
      lenses.push({ range, command: { title, command: ScoreFileCommand, arguments: [uri] } });
      continue;
    }
    const args: StepReportArgs = { uri, solutionIndex: solution.index };
    if (scored.firstError >= 0) args.stepIndex = scored.firstError;
    const ignored = scored.steps.filter((s) => s.ignored).length;
    const title = scored.stale
      ? staleLensTitle(scored, ctx.checking)
      : solutionLensTitle(scored.score, scored.aggregation, scored.steps.length, scored.firstError, ignored);
    lenses.push({ range, command: { title, command: ShowStepReportCommand, arguments: [args] } });
    lenses.push({ range, command: { title: scored.stale && !ctx.checking ? "Score" : "Re-score", command: ScoreFileCommand, arguments: [uri] } });
  }
  return lenses;
}
