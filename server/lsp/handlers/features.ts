// The standard LSP features over the last scores: hover, code lenses, code actions, and the
// commands the server executes itself.

import { CodeActionKind, type CodeAction, type Hover, type Position } from "vscode-languageserver";
import { IgnoreStepCommand, ShowStepReportCommand, type DiagnosticData, type DocumentScores, type StepReportArgs, type WireRange, type WireSolutionScore, type WireStepScore } from "../../../protocol/index.js";
import type { ServerContext } from "../context.js";
import { SOURCE } from "../diagnostics.js";
import { stepHover } from "../hover.js";
import { codeLenses } from "../lenses.js";
import { markdownToPlainText } from "../plainText.js";
import { executeCommand } from "./commands.js";
import { stepKey, wireRange } from "../wire.js";
import { promptHoverLines } from "../promptHover.js";

function contains(range: WireRange, p: Position): boolean {
  const afterStart = p.line > range.start.line || (p.line === range.start.line && p.character >= range.start.character);
  const beforeEnd = p.line < range.end.line || (p.line === range.end.line && p.character <= range.end.character);
  return afterStart && beforeEnd;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The scored step under the cursor; after edits, found by its text in the last scores. */
function stepAt(ctx: ServerContext, uri: string, position: Position): { step: WireStepScore; solution: WireSolutionScore; scores: DocumentScores } | undefined {
  const doc = ctx.documents.get(uri);
  const scores = ctx.states.get(uri)?.scores;
  if (!doc || !scores) return undefined;
  if (scores.version === doc.version) {
    for (const solution of scores.solutions) {
      const step = solution.steps.find((s) => contains(s.range, position));
      if (step) return { step, solution, scores };
    }
    return undefined;
  }
  const parsed = ctx.parsedNow(uri);
  for (const sol of parsed?.solutions ?? []) {
    const here = sol.steps.find((s) => contains(wireRange(s.range), position));
    if (!here) continue;
    const key = stepKey(sol.index, here.text);
    const solution = scores.solutions.find((s) => s.index === sol.index);
    const step = solution?.steps.find((s) => s.key === key);
    return step && solution ? { step, solution, scores } : undefined;
  }
  return undefined;
}

export function registerFeatures(ctx: ServerContext): void {
  const { connection, queue } = ctx;

  connection.onHover((params): Hover | null => {
    queue.prioritize(params.textDocument.uri);
    const found = stepAt(ctx, params.textDocument.uri, params.position);
    if (!found) return null;
    let markdown = stepHover(found.step, found.solution, found.scores);
    const engine = ctx.host.current;
    const parsed = ctx.parsedNow(params.textDocument.uri);
    if (engine && parsed) {
      try {
        markdown += "\n" + promptHoverLines(engine, parsed, found.solution, found.step, found.scores).join("\n");
      } catch (err) {
        // The numbers above stand without it: a hover must not fail over its details.
        ctx.connection.console.warn(`StepLens: the prompt text for the hover failed: ${(err as Error).message}`);
      }
    }
    const contents = ctx.caps.hoverMarkdown ? { kind: "markdown" as const, value: markdown } : { kind: "plaintext" as const, value: markdownToPlainText(markdown) };
    return { contents, range: found.step.range };
  });

  // Lenses answer at once, from the state the marks come from; the refresh after each check brings
  // the new numbers. A request that waited for the check ran for seconds, and VS Code stretches its
  // lens debounce to the time requests take: lenses then trailed the marks by seconds (and by tens of
  // seconds after a first check that waited on a model server). A client that cannot be told to
  // refresh (Neovim 0.7) would keep "scoring…" until its next request: it gets the answer after
  // the check instead, as before.
  connection.onCodeLens(async (params, token) => {
    const uri = params.textDocument.uri;
    // Lenses are asked for the files on screen: their checks go before those of files in the background.
    queue.prioritize(uri);
    if (!ctx.caps.codeLensRefresh && queue.pending(uri)) {
      await new Promise<void>((resolve) => {
        const sub = token.onCancellationRequested(() => resolve());
        void queue.idle(uri).then(() => {
          sub.dispose();
          resolve();
        });
      });
    }
    const parsed = ctx.parsedNow(uri);
    if (!parsed) return [];
    return codeLenses(uri, parsed, ctx.states.get(uri)?.scores, {
      checking: queue.pending(uri),
      autoCheck: ctx.config.settings.check.frequency !== "manual",
      status: ctx.host.status(),
      canRun: (c) => ctx.canRun(c),
    });
  });

  connection.onCodeAction((params): CodeAction[] => {
    const actions: CodeAction[] = [];
    for (const d of params.context.diagnostics) {
      if (d.source !== SOURCE || !isObject(d.data)) continue;
      const data = d.data as unknown as DiagnosticData;
      const args: StepReportArgs = { uri: data.uri, solutionIndex: data.solutionIndex, stepIndex: data.stepIndex };
      actions.push({ title: "Explain this step", kind: CodeActionKind.QuickFix, diagnostics: [d], command: { title: "Explain this step", command: ShowStepReportCommand, arguments: [args] } });
      actions.push({ title: "Ignore this step", kind: CodeActionKind.QuickFix, diagnostics: [d], command: { title: "Ignore this step", command: IgnoreStepCommand, arguments: [data] } });
    }
    return actions;
  });

  connection.onExecuteCommand((params, token) => executeCommand(ctx, params, token));
}
