// Select Model: GGUF files from the workspace, the configured model's folder and beside the
// extension, plus Browse… and the demo model. Writes the user (global) setting: a model is a
// property of the machine, not of a project, and an untrusted workspace could not use it anyway.

import path from "node:path";
import * as vscode from "vscode";
import { besideExtensionDirs, dedupeModels, formatBytes, ggufFilesIn, type ModelFile } from "./modelFiles.js";
import { MODEL_PATH, SECTION } from "./settings.js";

interface ModelPick extends vscode.QuickPickItem {
  action: "file" | "browse" | "demo" | "separator";
  file?: string;
}

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

function separator(label: string): ModelPick {
  return { label, kind: vscode.QuickPickItemKind.Separator, action: "separator" };
}

export async function selectModel(extensionPath: string): Promise<void> {
  const current = configuredModel();
  const found: ModelFile[] = [...(await workspaceModels())];
  if (current && path.isAbsolute(current)) found.push(...ggufFilesIn(path.dirname(current), "settings folder"));
  for (const dir of besideExtensionDirs(extensionPath)) found.push(...ggufFilesIn(dir, "beside the extension"));
  const models = dedupeModels(found);

  const items: ModelPick[] = [];
  let lastSource = "";
  for (const m of models) {
    if (m.source !== lastSource) items.push(separator(m.source));
    lastSource = m.source;
    const isCurrent = current !== "" && path.resolve(current) === path.resolve(m.path);
    items.push({
      label: `$(file-binary) ${path.basename(m.path)}`,
      description: `${isCurrent ? "current · " : ""}${formatBytes(m.bytes)}`,
      detail: m.source === "workspace" ? vscode.workspace.asRelativePath(m.path) : m.path,
      action: "file",
      file: m.path,
    });
  }
  items.push(separator("other"));
  items.push({ label: "$(folder-opened) Browse…", description: "pick a .gguf file", action: "browse" });
  items.push({
    label: "$(beaker) Use the demo model",
    description: current === "" ? "current" : "clears steplens.modelPath",
    detail: "arith-demo-15m-f16.gguf from ../shared/models beside the extension, or $STEPLENS_MODEL",
    action: "demo",
  });

  const pick = await vscode.window.showQuickPick(items, {
    title: "StepLens: Select Model",
    placeHolder: models.length ? "GGUF model for scoring (saved in your user settings)" : "No GGUF files found nearby: browse for one or use the demo model",
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!pick || pick.action === "separator") return;

  let value: string;
  if (pick.action === "file" && pick.file) value = pick.file;
  else if (pick.action === "demo") value = "";
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
  const name = value ? path.basename(value) : "the demo model";
  if (overridden) {
    void vscode.window.showWarningMessage(
      `StepLens saved ${name} in your user settings, but this workspace sets steplens.modelPath too, and the workspace value wins.`,
    );
  } else {
    void vscode.window.showInformationMessage(`StepLens now uses ${name}.`);
  }
}
