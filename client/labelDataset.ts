// Label Dataset: input and output through dialogs, resume or start over, a cancellable progress
// notification fed by the server's work-done progress, and a summary with the metrics.

import { randomUUID } from "node:crypto";
import path from "node:path";
import * as vscode from "vscode";
import { ErrorCodes, LSPErrorCodes, ResponseError, WorkDoneProgress, type WorkDoneProgressParams } from "vscode-languageclient/node";
import { LabelDatasetRequest, type LabelDatasetParams, type LabelDatasetResult } from "../protocol/index.js";
import { countCompleteRecords, defaultOutputPath, isSameFile, labelSummary } from "./labelFormat.js";
import { message, type StepLensServer } from "./languageClient.js";

export async function labelDataset(server: StepLensServer, output: vscode.LogOutputChannel): Promise<void> {
  const inputs = await vscode.window.showOpenDialog({
    title: "StepLens: dataset to label (ProcessBench-style JSONL)",
    canSelectMany: false,
    filters: { "JSON Lines": ["jsonl"], "All files": ["*"] },
    openLabel: "Label this dataset",
  });
  const input = inputs?.[0];
  if (!input) return;
  if (input.scheme !== "file") {
    void vscode.window.showWarningMessage("StepLens labels datasets on this machine's disk only.");
    return;
  }
  const out = await vscode.window.showSaveDialog({
    title: "StepLens: where to write the labeled records",
    defaultUri: vscode.Uri.file(defaultOutputPath(input.fsPath)),
    filters: { "JSON Lines": ["jsonl"] },
    saveLabel: "Write labels here",
  });
  if (!out) return;
  // Before the resume question, which would otherwise count the input's own records as labeled ones.
  if (path.resolve(out.fsPath) === path.resolve(input.fsPath) || (await isSameFile(input.fsPath, out.fsPath))) {
    void vscode.window.showErrorMessage(`StepLens: ${path.basename(out.fsPath)} is the input file itself (or a link to it); labeling would overwrite the records it reads. Choose another output file.`);
    return;
  }

  let overwrite = false;
  const already = await countCompleteRecords(out.fsPath);
  if (already > 0) {
    const resume = `Resume after ${already} records`;
    const choice = await vscode.window.showWarningMessage(
      `${path.basename(out.fsPath)} already holds ${already} labeled records.`,
      { modal: true, detail: "Resume labels the records after them; Start over replaces the file." },
      resume,
      "Start over",
    );
    if (!choice) return;
    overwrite = choice === "Start over";
  }

  const client = await server.ready();
  const workDoneToken = randomUUID();
  const params: LabelDatasetParams & WorkDoneProgressParams = { input: input.fsPath, output: out.fsPath, overwrite, workDoneToken };
  const title = already > 0 && !overwrite ? `StepLens: labeling ${path.basename(input.fsPath)} (resuming after ${already} records)` : `StepLens: labeling ${path.basename(input.fsPath)}`;
  output.info(`label ${input.fsPath} → ${out.fsPath}${overwrite ? " (start over)" : ""}`);

  let result: LabelDatasetResult | undefined;
  try {
    result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
      let done = 0;
      const sub = client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
        if (value.kind === "end") return;
        const pct = value.percentage;
        const increment = typeof pct === "number" && pct > done ? pct - done : undefined;
        if (increment !== undefined) done = pct!;
        progress.report({ message: value.message, increment });
      });
      try {
        return await client.sendRequest<LabelDatasetResult>(LabelDatasetRequest, params, token);
      } finally {
        sub.dispose();
      }
    });
  } catch (err) {
    if (err instanceof ResponseError && err.code === LSPErrorCodes.RequestCancelled) {
      void vscode.window.showInformationMessage("StepLens stopped labeling. Run Label Dataset again with the same output to resume.");
      return;
    }
    // The server's words for a problem with the files (the output is locked by another run, holds
    // records of another scale, is the input): they already say what to do.
    if (err instanceof ResponseError && err.code === ErrorCodes.InvalidParams) {
      output.warn(err.message);
      void vscode.window.showErrorMessage(`StepLens: ${err.message}`);
      return;
    }
    throw new Error(`labeling failed: ${message(err)}`, { cause: err });
  }

  for (const m of result.messages) output.info(m);
  const summary = labelSummary(result, path.basename(out.fsPath));
  output.info(summary);
  output.info(`wrote ${out.fsPath}${result.calibration ? `; soft-label calibration ${result.calibration.id}: ${result.calibration.description}` : ""}`);
  if (result.metrics) output.info(`metrics: ${JSON.stringify(result.metrics)}`);
  const buttons = result.malformed > 0 || result.messages.length > 0 ? ["Open Output File", "Show Log"] : ["Open Output File"];
  const pick = await (result.cancelled ? vscode.window.showWarningMessage(summary, ...buttons) : vscode.window.showInformationMessage(summary, ...buttons));
  if (pick === "Open Output File") await vscode.window.showTextDocument(out, { preview: true });
  else if (pick === "Show Log") output.show(true);
}
