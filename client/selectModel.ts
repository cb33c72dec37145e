// Select Model: GGUF files from the workspace, StepLens's model cache (what `steplens pull` and
// "Download a recommended model…" saved), the configured model's folder and next to the extension,
// plus Download…, Browse… (and Clear when a model would still be found without the setting). Writes
// the user (global) setting: a model is a property of the machine, not of a project, and an untrusted
// workspace could not use it anyway. The rows come from modelFiles.ts; downloads run the bundled CLI
// as a child process (pullProcess.ts), only when the user picks a model to download.

import { existsSync } from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import {
  fallbackModel,
  formatBytes,
  gatherModels,
  modelCacheDir,
  modelPickItems,
  modelPickPlaceholder,
  type ModelFile,
  type ModelPickItem,
} from "./modelFiles.js";
import { progressText, pullFailureText, pullInvocation, startPull } from "./pullProcess.js";
import { approxSize, RECOMMENDED_MODELS, type RecommendedModel } from "./recommendedModels.js";
import { MODEL_PATH, SECTION } from "./settings.js";

type ModelPick = vscode.QuickPickItem & ModelPickItem;

async function workspaceModels(): Promise<ModelFile[]> {
  const uris = await vscode.workspace.findFiles("**/*.gguf", "**/node_modules/**", 100);
  const out: ModelFile[] = [];
  for (const uri of uris) {
    if (uri.scheme !== "file") continue;
    try {
      const st = await vscode.workspace.fs.stat(uri);
      out.push({ path: uri.fsPath, bytes: st.size, source: "workspace" });
    } catch {
      // Deleted since the search.
    }
  }
  return out;
}

function configuredModel(): string {
  return vscode.workspace.getConfiguration(SECTION).get<string>(MODEL_PATH, "");
}

export async function selectModel(extensionPath: string): Promise<void> {
  const current = configuredModel();
  const models = gatherModels(await workspaceModels(), current, extensionPath);
  const fallback = fallbackModel(extensionPath);

  const items: ModelPick[] = modelPickItems(models, current, fallback, (f) => vscode.workspace.asRelativePath(f)).map((item) =>
    item.action === "separator" ? { ...item, kind: vscode.QuickPickItemKind.Separator } : item,
  );
  const pick = await vscode.window.showQuickPick(items, {
    title: "StepLens: Select Model",
    placeHolder: modelPickPlaceholder(models),
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!pick || pick.action === "separator") return;

  let value: string;
  let note = "";
  if (pick.action === "file" && pick.file) value = pick.file;
  else if (pick.action === "clear") value = "";
  else if (pick.action === "download") {
    const downloaded = await downloadRecommended(extensionPath);
    if (!downloaded) return;
    ({ path: value, note } = downloaded);
  } else {
    const chosen = await vscode.window.showOpenDialog({
      title: "StepLens: choose a GGUF model",
      canSelectMany: false,
      filters: { "GGUF models": ["gguf"] },
      openLabel: "Use this model",
      defaultUri: current && path.isAbsolute(current) ? vscode.Uri.file(path.dirname(current)) : undefined,
    });
    if (!chosen?.[0]) return;
    value = chosen[0].fsPath;
  }

  await useModel(value, fallback, note);
}

async function useModel(value: string, fallback: string | undefined, note: string): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  await config.update(MODEL_PATH, value, vscode.ConfigurationTarget.Global);
  const inspected = config.inspect<string>(MODEL_PATH);
  const overridden = vscode.workspace.isTrusted && (inspected?.workspaceValue !== undefined || inspected?.workspaceFolderValue !== undefined);
  const name = path.basename(value || fallback || "");
  if (overridden) {
    void vscode.window.showWarningMessage(
      `StepLens saved ${value ? name : "an empty steplens.modelPath"} in your user settings, but this workspace sets steplens.modelPath too, and the workspace value wins.`,
    );
  } else {
    void vscode.window.showInformationMessage(`StepLens now uses ${name || "no model"}${note}.`);
  }
}

type RecommendedPick = vscode.QuickPickItem & { model: RecommendedModel };

/** The model being downloaded: one at a time (two pulls of one file would share its partial file). */
let downloading: string | undefined;

/**
 * The curated list, then the pull with a cancellable progress notification. Resolves to the
 * downloaded file, or undefined when the user backed out, cancelled or the download failed (said).
 */
async function downloadRecommended(extensionPath: string): Promise<{ path: string; note: string } | undefined> {
  if (downloading) {
    void vscode.window.showInformationMessage(`StepLens is downloading ${downloading} already; its notification has Cancel.`);
    return undefined;
  }
  const cli = path.join(extensionPath, "dist", "cli.mjs");
  if (!existsSync(cli)) {
    void vscode.window.showErrorMessage(`StepLens cannot download models: its CLI is missing (${cli}). Rebuild the extension (npm run build) or reinstall it.`);
    return undefined;
  }
  const dir = modelCacheDir();
  const rows: RecommendedPick[] = RECOMMENDED_MODELS.map((model) => ({
    label: model.label,
    description: approxSize(model.approxBytes),
    detail: model.goodFor,
    model,
  }));
  const pick = await vscode.window.showQuickPick(rows, {
    title: "StepLens: Download a recommended model",
    placeHolder: `Downloaded into ${dir} when you choose one; an interrupted download resumes`,
    matchOnDetail: true,
  });
  if (!pick || downloading) return undefined;
  const { model } = pick;
  const invocation = pullInvocation({ cliPath: cli, source: model.source, dir });
  downloading = model.label;
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Downloading ${model.label}`, cancellable: true },
    async (progress, token) => {
      let shown = 0;
      const pull = startPull(invocation, (event) => {
        const text = progressText(event);
        if (!text) return;
        // The notification's bar only moves forward, by increments.
        progress.report({ message: text.message, increment: Math.max(0, text.percent - shown) });
        shown = Math.max(shown, text.percent);
      });
      const subscription = token.onCancellationRequested(() => pull.cancel());
      try {
        return await pull.outcome;
      } finally {
        subscription.dispose();
        downloading = undefined;
      }
    },
  );
  if (outcome.kind === "done") {
    const { result } = outcome;
    const checked = result.checksum === "hub" ? ", checksum verified" : "";
    return { path: result.path, note: result.alreadyThere ? ` (${model.label}, already downloaded)` : ` (${model.label}, ${formatBytes(result.bytes)} downloaded${checked})` };
  }
  const text = pullFailureText(model.label, outcome);
  if (outcome.kind === "cancelled") void vscode.window.showInformationMessage(`StepLens: ${text}`);
  else void vscode.window.showErrorMessage(`StepLens: ${text}`);
  return undefined;
}
