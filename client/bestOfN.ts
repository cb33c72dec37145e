// Pick Best of N: score every candidate solution of the chosen files, list them best first, reveal
// the one picked, then copy it or append it to a JSONL file of choices.

import * as vscode from "vscode";
import { BestOfNRequest, type BestOfNCandidate, type BestOfNParams, type BestOfNResult } from "../protocol/index.js";
import { appendJsonLine, candidateItems, choiceLine } from "./bestOfNItems.js";
import { formatScore } from "./buckets.js";
import type { StepLensServer } from "./languageClient.js";
import { asUri, asUris, fileName } from "./uriArgs.js";
import { toRange } from "./ranges.js";

const LAST_CHOICES_FILE = "steplens.lastChoicesFile";

export async function pickBestOfN(context: vscode.ExtensionContext, server: StepLensServer, output: vscode.LogOutputChannel, uriArg: unknown, urisArg: unknown): Promise<void> {
  const selected = asUris(urisArg);
  const first = asUri(uriArg);
  const targets = selected.length > 0 ? selected : first ? [first] : vscode.window.activeTextEditor ? [vscode.window.activeTextEditor.document.uri] : [];
  const files: vscode.Uri[] = [];
  for (const uri of targets) {
    const st = await vscode.workspace.fs.stat(uri).then(
      (s) => s,
      () => undefined,
    );
    if (st?.type === vscode.FileType.Directory) output.warn(`Best of N skips the folder ${uri.fsPath}: select solution files.`);
    else files.push(uri);
  }
  if (files.length === 0) {
    void vscode.window.showWarningMessage("StepLens: open a solution file, or select candidate files in the Explorer, to pick the best of N.");
    return;
  }

  const client = await server.ready();
  const params: BestOfNParams = { uris: files.map((u) => u.toString()) };
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `StepLens: scoring candidates of ${files.length === 1 ? fileName(files[0]!) : `${files.length} files`}…`, cancellable: true },
    (_progress, token) => client.sendRequest<BestOfNResult>(BestOfNRequest, params, token),
  );
  for (const w of result.warnings) output.warn(w);
  if (result.candidates.length === 0) {
    const why = result.warnings[0] ? ` ${result.warnings[0]}` : "";
    void vscode.window.showWarningMessage(`StepLens found no candidate solutions to compare.${why}`);
    return;
  }

  const items = candidateItems(result, (uri) => fileName(uri));
  const gold = result.gold ? `gold ${result.gold.value}${result.gold.source === "fallback" ? " (model's majority)" : ""}` : "no gold answer";
  const pick = await vscode.window.showQuickPick(items, {
    title: `StepLens: Best of ${result.candidates.length}`,
    placeHolder: `Candidates by ${result.aggregation} soft label, best first · ${gold}`,
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!pick) return;
  await reveal(pick.candidate);
  await offerActions(context, pick.candidate);
}

async function reveal(candidate: BestOfNCandidate): Promise<void> {
  const uri = vscode.Uri.parse(candidate.uri);
  const editor = await vscode.window.showTextDocument(uri, { preview: false });
  const range = toRange(candidate.range);
  // The cursor at its start, not the candidate selected: one keystroke would replace a selection.
  editor.selection = new vscode.Selection(range.start, range.start);
  editor.revealRange(range, vscode.TextEditorRevealType.AtTop);
}

async function offerActions(context: vscode.ExtensionContext, candidate: BestOfNCandidate): Promise<void> {
  const score = candidate.score === null ? "not scored" : `score ${formatScore(candidate.score)}`;
  const choice = await vscode.window.showInformationMessage(`${candidate.title}: ${score}${candidate.finalAnswer !== undefined ? `, answer ${candidate.finalAnswer}` : ""}.`, "Copy text", "Append choice to JSONL…");
  if (choice === "Copy text") {
    await vscode.env.clipboard.writeText(candidate.text);
    return;
  }
  if (choice !== "Append choice to JSONL…") return;
  const last = context.workspaceState.get<string>(LAST_CHOICES_FILE);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await vscode.window.showSaveDialog({
    title: "StepLens: append the choice to a JSONL file",
    defaultUri: last ? vscode.Uri.parse(last) : folder ? vscode.Uri.joinPath(folder, "choices.jsonl") : undefined,
    filters: { "JSON Lines": ["jsonl"] },
    saveLabel: "Append",
  });
  if (!target) return;
  const uri = vscode.Uri.parse(candidate.uri);
  const line = choiceLine(candidate, uri.scheme === "file" ? vscode.workspace.asRelativePath(uri, false) : candidate.uri);
  if (target.scheme === "file") {
    await appendJsonLine(target.fsPath, line);
  } else {
    const old = await vscode.workspace.fs.readFile(target).then(
      (b) => b,
      () => new Uint8Array(),
    );
    const oldText = new TextDecoder().decode(old);
    const joined = oldText && !oldText.endsWith("\n") ? `${oldText}\n${line}` : `${oldText}${line}`;
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(joined));
  }
  await context.workspaceState.update(LAST_CHOICES_FILE, target.toString());
  void vscode.window.showInformationMessage(`StepLens appended ${candidate.title} to ${fileName(target)}.`);
}
