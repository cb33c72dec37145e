// Runs inside VS Code's extension host (see ../runTest.ts): the extension as VS Code loads it, through
// the vscode API. VS Code calls run() and fails the run if it rejects. Plain async checks, no test
// framework: the extension host has none, and this suite is small.

import assert from "node:assert/strict";
import path from "node:path";
import * as vscode from "vscode";
import { SCORING_TIMEOUT, until } from "../../e2e/workbench.js";

const EXTENSION_ID = "steplens.steplens";

function workspaceFile(name: string): vscode.Uri {
  const root = process.env.STEPLENS_TEST_WORKSPACE ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  assert.ok(root, "no workspace folder");
  return vscode.Uri.file(path.join(root, name));
}

const checks: [string, () => Promise<void>][] = [
  [
    "the extension activates and registers every contributed command",
    async () => {
      const ext = vscode.extensions.getExtension(EXTENSION_ID);
      assert.ok(ext, `${EXTENSION_ID} is not installed`);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(workspaceFile("wrong-step.md")));
      await ext.activate();
      const registered = new Set(await vscode.commands.getCommands(true));
      const contributed = (ext.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands;
      for (const { command } of contributed) assert.ok(registered.has(command), `${command} is not registered`);
    },
  ],
  [
    "the wrong step of wrong-step.md gets an error diagnostic on its line",
    async () => {
      const uri = workspaceFile("wrong-step.md");
      const diags = await until("StepLens diagnostics", () => {
        const d = vscode.languages.getDiagnostics(uri).filter((x) => /steplens/i.test(String(x.source)));
        return Promise.resolve(d.length > 0 ? d : undefined);
      }, SCORING_TIMEOUT);
      const wrong = diags.find((d) => d.range.start.line === 6);
      assert.ok(wrong, `no diagnostic on line 7: ${JSON.stringify(diags.map((d) => [d.range.start.line, d.message]))}`);
      assert.equal(wrong.severity, vscode.DiagnosticSeverity.Error);
    },
  ],
  [
    "StepLens: Clear Scores removes the diagnostics and Score Current File brings the error back",
    async () => {
      const uri = workspaceFile("wrong-step.md");
      const stepLens = () => vscode.languages.getDiagnostics(uri).filter((x) => /steplens/i.test(String(x.source)));
      await vscode.commands.executeCommand("steplens.clearScores", uri);
      await until("diagnostics cleared", () => Promise.resolve(stepLens().length === 0 ? true : undefined), SCORING_TIMEOUT);
      await vscode.commands.executeCommand("steplens.scoreFile", uri);
      const again = await until("diagnostics after Score Current File", () => {
        const d = stepLens();
        return Promise.resolve(d.length > 0 ? d : undefined);
      }, SCORING_TIMEOUT);
      const wrong = again.find((d) => d.range.start.line === 6);
      assert.ok(wrong, `no diagnostic on line 7 after scoring: ${JSON.stringify(again.map((d) => [d.range.start.line, d.message]))}`);
      assert.equal(wrong.severity, vscode.DiagnosticSeverity.Error);
    },
  ],
];

export async function run(): Promise<void> {
  const failures: string[] = [];
  for (const [name, check] of checks) {
    const started = Date.now();
    try {
      await check();
      console.log(`  ✔ ${name} (${Date.now() - started} ms)`);
    } catch (err) {
      failures.push(name);
      console.error(`  ✖ ${name}\n    ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  console.log(`${checks.length - failures.length} passed, ${failures.length} failed`);
  if (failures.length > 0) throw new Error(`${failures.length} of ${checks.length} checks failed: ${failures.join("; ")}`);
}
