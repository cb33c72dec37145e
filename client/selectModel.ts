// Select Model: GGUF files from the workspace, the configured model's folder and next to the
// extension, plus Browse… (and Clear when a model would still be found without the setting). Writes
// the user (global) setting: a model is a property of the machine, not of a project, and an untrusted
// workspace could not use it anyway. The rows come from modelFiles.ts.

import path from "node:path";
import * as vscode from "vscode";
import { besideExtensionDirs, dedupeModels, fallbackModel, ggufFilesIn, modelPickItems, modelPickPlaceholder, type ModelFile, type ModelPickItem } from "./modelFiles.js";
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
  const found: ModelFile[] = [...(await workspaceModels())];
  if (current && path.isAbsolute(current)) found.push(...ggufFilesIn(path.dirname(current), "folder of the current model"));
  for (const dir of besideExtensionDirs(extensionPath)) found.push(...ggufFilesIn(dir, "next to StepLens"));
  const models = dedupeModels(found);
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
  if (pick.action === "file" && pick.file) value = pick.file;
  else if (pick.action === "clear") value = "";
  else {
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
    void vscode.window.showInformationMessage(`StepLens now uses ${name || "no model"}.`);
  }
}
