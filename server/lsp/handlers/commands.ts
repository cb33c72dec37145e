// workspace/executeCommand: the server's own command (Ignore this step) and the commands its lenses
// and code actions name. The VS Code extension implements Score / Pick best / Explain itself (a
// webview, a quick pick) and says so in initializationOptions.clientCommands; for every other
// editor the server executes them, so a lens works in Neovim, Helix or Emacs as it does in VS Code.

import { ErrorCodes, MessageType, ResponseError, type CancellationToken, type ExecuteCommandParams } from "vscode-languageserver";
import { z } from "zod";
import { IgnoreStepCommand, PickBestOfNCommand, ScoreFileCommand, ShowStepReportCommand, type BestOfNResult, type DocumentScores } from "../../../protocol/index.js";
import type { ServerContext } from "../context.js";
import { stepHover } from "../hover.js";
import { solutionLensTitle } from "../lenses.js";
import { DiagnosticDataSchema, parseParams, StepReportArgsSchema } from "../params.js";
import { markdownToPlainText } from "../plainText.js";
import { runBestOfN, scoreNow } from "./requests.js";

/** The commands the server executes unless the client implements them. */
export const SERVER_COMMANDS = [ScoreFileCommand, PickBestOfNCommand, ShowStepReportCommand] as const;

const UriArgs = z.tuple([z.string().min(1).max(8192)]).rest(z.unknown());

function ignoreStep(ctx: ServerContext, args: unknown): null {
  const [data] = parseParams(z.tuple([DiagnosticDataSchema]).rest(z.unknown()), args, `${IgnoreStepCommand} arguments`);
  // Only steps the server has scored in an open document: anything else would be kept for nothing.
  if (!ctx.documents.get(data.uri)) throw new ResponseError(ErrorCodes.InvalidParams, `${IgnoreStepCommand}: ${data.uri} is not open in the editor`);
  const state = ctx.states.get(data.uri);
  const steps = state?.scores?.solutions.flatMap((s) => s.steps) ?? [];
  if (!state || !steps.some((s) => s.key === data.stepKey)) throw new ResponseError(ErrorCodes.InvalidParams, `${IgnoreStepCommand}: no scored step ${data.stepKey} in ${data.uri}`);
  state.ignored.add(data.stepKey);
  for (const step of steps) if (step.key === data.stepKey) step.ignored = true;
  ctx.publish(data.uri);
  return null;
}

function showStepReport(ctx: ServerContext, args: unknown): null {
  const [target] = parseParams(z.tuple([StepReportArgsSchema]).rest(z.unknown()), args, `${ShowStepReportCommand} arguments`);
  const scores = ctx.states.get(target.uri)?.scores;
  const solution = scores?.solutions.find((s) => s.index === target.solutionIndex);
  if (!scores || !solution) {
    ctx.showMessage(MessageType.Info, "StepLens: this solution is not scored yet; run Score first.");
    return null;
  }
  const step = target.stepIndex != null ? solution.steps.find((s) => s.index === target.stepIndex) : undefined;
  const text = step
    ? markdownToPlainText(stepHover(step, solution, scores))
    : solutionLensTitle(solution.score, solution.aggregation, solution.steps.length, solution.firstError);
  ctx.showMessage(MessageType.Info, text);
  return null;
}

function rankingMessage(result: BestOfNResult): string {
  if (result.best < 0) return `StepLens: none of the ${result.candidates.length} candidates could be scored${result.warnings[0] ? `: ${result.warnings[0]}` : ""}`;
  const order = result.candidates.map((c, i) => ({ c, i })).sort((a, b) => (b.c.score ?? -Infinity) - (a.c.score ?? -Infinity));
  const line = ({ c }: { c: BestOfNResult["candidates"][number] }): string =>
    `${c.title} (score ${c.score == null ? "—" : c.score.toFixed(2)}${c.finalAnswer ? `, answer ${c.finalAnswer}` : ""})`;
  return `StepLens: best of ${result.candidates.length}: ${line(order[0]!)}; then ${order.slice(1).map(line).join("; ")}`;
}

export async function executeCommand(ctx: ServerContext, params: ExecuteCommandParams, token: CancellationToken): Promise<DocumentScores | BestOfNResult | null> {
  const args: unknown = params.arguments ?? [];
  if (!ctx.serverCommands.includes(params.command)) {
    throw new ResponseError(ErrorCodes.InvalidParams, `the StepLens server does not execute ${params.command}; it executes ${ctx.serverCommands.join(", ")}`);
  }
  switch (params.command) {
    case IgnoreStepCommand:
      return ignoreStep(ctx, args);
    case ShowStepReportCommand:
      return showStepReport(ctx, args);
    case ScoreFileCommand:
      return scoreNow(ctx, parseParams(UriArgs, args, `${ScoreFileCommand} arguments`)[0]);
    case PickBestOfNCommand: {
      const result = await runBestOfN(ctx, [parseParams(UriArgs, args, `${PickBestOfNCommand} arguments`)[0]], token);
      ctx.showMessage(MessageType.Info, rankingMessage(result));
      return result;
    }
    default:
      throw new ResponseError(ErrorCodes.InvalidParams, `the StepLens server does not execute ${params.command}`);
  }
}
