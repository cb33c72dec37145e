// VS Code entry point: wires the language server, the score store, decorations, the status bar,
// the report panel and the commands. Scoring happens in the server (dist/cli.mjs lsp), which keeps
// the model loaded between checks; this side never imports the engine.

import * as vscode from "vscode";
import { MessageType, type ShowMessageParams } from "vscode-languageclient/node";
import { ClearScoresRequest, ScoreDocumentRequest, type ClearScoresParams, type DocumentScores, type ScoreDocumentParams, type StepReportArgs } from "../protocol/index.js";
import { pickBestOfN } from "./bestOfN.js";
import { COMMANDS, type CommandId } from "./commands.js";
import { StepDecorations } from "./decorations.js";
import { labelDataset } from "./labelDataset.js";
import { isStepLensLanguage } from "./languages.js";
import { OPEN_SETTINGS, ProblemNotices, SELECT_MODEL, openSettingsCommands, problemPrompt, withProductName, type ProblemPrompt } from "./modelProblem.js";
import { clearRemoteToken, retryRemote, setRemoteToken } from "./remoteToken.js";
import { ReportPanel } from "./reportPanel.js";
import { ScoreStore } from "./scoreStore.js";
import { selectModel } from "./selectModel.js";
import { ServerNotRunningError, StepLensServer, message } from "./languageClient.js";
import { SECTION, TRUST_RESTRICTED } from "./settings.js";
import { StatusBar } from "./statusBar.js";
import { asIndex, fileName, openDocument, targetUri } from "./uriArgs.js";

type Handler = (...args: unknown[]) => unknown;

const UNTRUSTED_NOTICE_KEY = "steplens.untrustedNoticeShown";
/** Context key: the server reports a problem a setting fixes (shows "Show Model Problem" in the palette). */
const PROBLEM_CONTEXT = "steplens.hasProblem";

let activeServer: StepLensServer | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("StepLens", { log: true });
  const store = new ScoreStore();
  const status = new StatusBar();
  const decorations = new StepDecorations(context.extensionUri, store);
  const report = new ReportPanel(context.extensionUri, store);

  const acceptScores = (scores: DocumentScores): void => {
    const doc = openDocument(vscode.Uri.parse(scores.uri));
    if (!store.accept(scores, doc?.version)) output.debug(`dropped scores for ${scores.uri} v${scores.version} (document is at v${doc?.version})`);
  };
  const notices = new ProblemNotices();
  const server = new StepLensServer(context, output, {
    onScores: acceptScores,
    onStatus: (s) => {
      status.update(s);
      void vscode.commands.executeCommand("setContext", PROBLEM_CONTEXT, problemPrompt(s) !== undefined);
      const prompt = notices.next(s);
      if (prompt) void showProblem(prompt);
    },
    onStopped: (m) => status.stopped(m),
    onShowMessage: (m) => showServerMessage(m, notices.covers(m.message, status.status)),
  });

  const handlers: Record<CommandId, Handler> = {
    [COMMANDS.scoreFile]: async (uriArg) => {
      const uri = targetUri(uriArg);
      if (!uri) return void vscode.window.showWarningMessage("StepLens: open a Markdown, LaTeX or plain-text solution file to score it.");
      const doc = openDocument(uri) ?? (await vscode.workspace.openTextDocument(uri));
      if (!isStepLensLanguage(doc.languageId)) {
        return void vscode.window.showWarningMessage(`StepLens scores Markdown, LaTeX, plain-text and .steps files, not ${doc.languageId}.`);
      }
      const client = await server.ready();
      // No model: the choices that fix it, not the server's error once more.
      const problem = problemPrompt(status.status);
      if (problem) return void (await showProblem(problem));
      const params: ScoreDocumentParams = { uri: uri.toString() };
      const scores = await vscode.window
        .withProgress({ location: vscode.ProgressLocation.Window, title: `StepLens: scoring ${fileName(uri)}` }, () => client.sendRequest<DocumentScores>(ScoreDocumentRequest, params))
        .then(undefined, async (err: unknown) => {
          // The model went away while the request waited: same choices.
          const now = problemPrompt(status.status);
          if (now && message(err) === now.message) return void (await showProblem(now));
          throw err;
        });
      if (!scores) return;
      acceptScores(scores);
      if (scores.solutions.length === 0) {
        void vscode.window.showWarningMessage(`StepLens found no steps to score in ${fileName(uri)}.${scores.warnings[0] ? ` ${scores.warnings[0]}` : ""}`);
      }
    },
    [COMMANDS.clearScores]: async (uriArg) => {
      const uri = targetUri(uriArg);
      if (uri) store.delete(uri.toString());
      else store.clearAll();
      if (!server.running) return;
      const params: ClearScoresParams = uri ? { uri: uri.toString() } : {};
      await (await server.ready()).sendRequest(ClearScoresRequest, params);
    },
    [COMMANDS.selectModel]: () => selectModel(context.extensionPath),
    [COMMANDS.showProblem]: async () => {
      const prompt = problemPrompt(status.status);
      if (prompt) await showProblem(prompt);
      else void vscode.window.showInformationMessage(`StepLens has no problem to fix: ${status.status?.state ?? "starting"}${status.status?.model ? `, model ${status.status.model}` : ""}.`);
    },
    [COMMANDS.pickBestOfN]: (uriArg, urisArg) => pickBestOfN(context, server, output, uriArg, urisArg),
    [COMMANDS.labelDataset]: () => labelDataset(server, output),
    [COMMANDS.showStepReport]: (arg, solutionArg, stepArg) => {
      // The server's code actions pass one StepReportArgs object; (uri, solution, step) also works.
      const packed = isStepReportArgs(arg) ? arg : undefined;
      const uri = targetUri(packed ? packed.uri : arg);
      if (!uri) return void vscode.window.showWarningMessage("StepLens: open a scored solution file to see its step report.");
      const solutionIndex = asIndex(packed ? packed.solutionIndex : solutionArg);
      const stepIndex = asIndex(packed ? packed.stepIndex : stepArg);
      report.show(uri, solutionIndex !== undefined ? { solutionIndex, stepIndex } : undefined);
    },
    [COMMANDS.restartServer]: async () => {
      await server.restart();
      if (server.running) void vscode.window.setStatusBarMessage("StepLens: language server restarted", 3000);
    },
    [COMMANDS.showOutput]: () => output.show(true),
    [COMMANDS.setRemoteToken]: () => setRemoteToken(context, server),
    [COMMANDS.clearRemoteToken]: () => clearRemoteToken(context, server),
    [COMMANDS.retryRemote]: () => retryRemote(server),
  };

  context.subscriptions.push(output, status, decorations, report, server);
  for (const [id, handler] of Object.entries(handlers)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, (...args: unknown[]) => runCommand(id, handler, args, output, server)));
  }
  context.subscriptions.push(
    vscode.workspace.onDidCloseTextDocument((doc) => store.delete(doc.uri.toString())),
    vscode.workspace.onDidGrantWorkspaceTrust(() => output.info("workspace trusted: workspace settings now apply")),
  );

  activeServer = server;
  void noticeUntrustedSettings(context, output);
  void server.start();
}

/** The error and the buttons that fix it; the status bar item and the lenses lead here too. */
async function showProblem(prompt: ProblemPrompt): Promise<void> {
  const pick = await vscode.window.showErrorMessage(prompt.message, ...prompt.actions);
  if (pick === SELECT_MODEL) await vscode.commands.executeCommand(COMMANDS.selectModel);
  else if (pick === OPEN_SETTINGS) {
    for (const open of openSettingsCommands(prompt.setting, vscode.env.remoteName)) await vscode.commands.executeCommand(open.command, open.query);
  }
}

/** The server's own toasts, as vscode-languageclient shows them, except the one showProblem already shows with buttons. */
function showServerMessage(m: ShowMessageParams, covered: boolean): void {
  if (covered) return;
  if (m.type === MessageType.Error) void vscode.window.showErrorMessage(m.message);
  else if (m.type === MessageType.Warning) void vscode.window.showWarningMessage(m.message);
  else void vscode.window.showInformationMessage(m.message);
}

function isStepReportArgs(arg: unknown): arg is StepReportArgs {
  return typeof arg === "object" && arg !== null && !(arg instanceof vscode.Uri) && "uri" in arg && "solutionIndex" in arg;
}

/** Every command failure ends in a message the user can act on, never an unhandled rejection. */
async function runCommand(id: string, handler: Handler, args: unknown[], output: vscode.LogOutputChannel, server: StepLensServer): Promise<void> {
  try {
    await handler(...args);
  } catch (err) {
    output.error(`${id}: ${message(err)}`);
    if (err instanceof ServerNotRunningError) {
      const pick = await vscode.window.showErrorMessage(`${err.message} Restart it?`, "Restart", "Show Output");
      if (pick === "Restart") await server.restart();
      else if (pick === "Show Output") output.show(true);
      return;
    }
    const pick = await vscode.window.showErrorMessage(withProductName(message(err)), "Show Output");
    if (pick === "Show Output") output.show(true);
  }
}

/** Says once per workspace why its own model path or server URL is not used while it is untrusted. */
async function noticeUntrustedSettings(context: vscode.ExtensionContext, output: vscode.LogOutputChannel): Promise<void> {
  if (vscode.workspace.isTrusted) return;
  const config = vscode.workspace.getConfiguration(SECTION);
  const ignored = TRUST_RESTRICTED.filter((key) => {
    const inspected = config.inspect<string>(key);
    return inspected?.workspaceValue || inspected?.workspaceFolderValue;
  });
  if (ignored.length === 0) return;
  const text = `StepLens ignores this workspace's ${ignored.map((k) => `steplens.${k}`).join(" and ")} while the workspace is not trusted (a workspace could point them at any file or server); it uses your user settings instead.`;
  output.info(text);
  if (context.workspaceState.get<boolean>(UNTRUSTED_NOTICE_KEY)) return;
  await context.workspaceState.update(UNTRUSTED_NOTICE_KEY, true);
  const pick = await vscode.window.showInformationMessage(text, "Manage Workspace Trust");
  if (pick === "Manage Workspace Trust") await vscode.commands.executeCommand("workbench.trust.manage");
}

/** Returning the stop lets VS Code wait for the server to shut down (and free the model) cleanly. */
export function deactivate(): Promise<void> | undefined {
  const server = activeServer;
  activeServer = undefined;
  return server?.stop();
}
