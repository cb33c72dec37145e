// VS Code side. For now it runs the engine through the bundled CLI in a child process (the engine
// carries native llama.cpp binaries that belong outside the extension host); the language server of
// the next milestone takes its place and keeps the model loaded between checks.

import { spawn } from "node:child_process";
import path from "node:path";
import * as vscode from "vscode";

let output: vscode.OutputChannel | undefined;

export function activate(context: vscode.ExtensionContext): void {
  output = vscode.window.createOutputChannel("StepLens");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("steplens.scoreFile", async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) {
        void vscode.window.showWarningMessage("StepLens: open a Markdown or LaTeX solution file first.");
        return;
      }
      if (editor.document.isDirty) await editor.document.save();
      await scoreFile(context, editor.document.uri.fsPath);
    }),
  );
}

async function scoreFile(context: vscode.ExtensionContext, file: string): Promise<void> {
  const config = vscode.workspace.getConfiguration("steplens");
  const args = [path.join(context.extensionPath, "dist", "cli.mjs"), "score", file, "--gpu", config.get<string>("gpu", "auto")];
  args.push("--templates", config.get<string>("templates", "default"), "--negatives", String(config.get<number>("negatives", 4)));
  // In an untrusted workspace a workspace-level model path could point anywhere: only user settings count.
  const modelPath = vscode.workspace.isTrusted ? config.get<string>("modelPath") : config.inspect<string>("modelPath")?.globalValue;
  if (modelPath) args.push("--model", modelPath);
  output!.show(true);
  output!.appendLine(`$ steplens score ${path.basename(file)}`);
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "StepLens: scoring steps…", cancellable: true },
    (_progress, token) =>
      new Promise<void>((resolve) => {
        // Electron's binary runs as plain Node with this variable, so no separate Node install is needed.
        const child = spawn(process.execPath, args, { env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" } });
        token.onCancellationRequested(() => child.kill());
        child.stdout.on("data", (d: Buffer) => output!.append(d.toString()));
        child.stderr.on("data", (d: Buffer) => output!.append(d.toString()));
        child.on("close", (code) => {
          if (code !== 0 && !token.isCancellationRequested) {
            void vscode.window.showErrorMessage(`StepLens could not score ${path.basename(file)}: see the StepLens output for the reason.`);
          }
          resolve();
        });
      }),
  );
}

export function deactivate(): void {
  output = undefined;
}
