// The commands around the model server: set and clear its token (VS Code's SecretStorage, never a
// settings file) and try the connection again now. The language server gets a new token through
// StepLensServer.sendToken (steplens/setToken), which restarts its engine.

import * as vscode from "vscode";
import { DEFAULT_SETTINGS, RetryRemoteRequest, type BackendSetting, type ServerStatus } from "../protocol/index.js";
import type { StepLensServer } from "./languageClient.js";
import { afterTokenHint, tokenInputProblem, tokenPrompt } from "./remoteText.js";
import { BACKEND, REMOTE_URL, SECTION, TOKEN_SECRET_KEY } from "./settings.js";

function remoteSettings(): { backend: BackendSetting; url: string } {
  const config = vscode.workspace.getConfiguration(SECTION);
  return { backend: config.get<BackendSetting>(BACKEND) ?? DEFAULT_SETTINGS.backend, url: config.get<string>(REMOTE_URL) ?? "" };
}

export async function setRemoteToken(context: vscode.ExtensionContext, server: StepLensServer): Promise<void> {
  const { backend, url } = remoteSettings();
  const value = await vscode.window.showInputBox({
    title: "StepLens: Set Remote Token",
    prompt: tokenPrompt(url),
    placeHolder: "token",
    password: true,
    ignoreFocusOut: true,
    validateInput: tokenInputProblem,
  });
  if (value === undefined) return;
  await context.secrets.store(TOKEN_SECRET_KEY, value.trim());
  // SecretStorage's change event also does this; sending now does not wait for it.
  await server.sendToken();
  const hint = afterTokenHint(backend, url);
  if (!hint) return void vscode.window.setStatusBarMessage("StepLens: remote token saved", 3000);
  const pick = await vscode.window.showInformationMessage(hint, "Open Settings");
  if (pick === "Open Settings") await vscode.commands.executeCommand("workbench.action.openSettings", `${SECTION}.${backend === "local" ? BACKEND : REMOTE_URL}`);
}

export async function clearRemoteToken(context: vscode.ExtensionContext, server: StepLensServer): Promise<void> {
  await context.secrets.delete(TOKEN_SECRET_KEY);
  await server.sendToken();
  void vscode.window.setStatusBarMessage("StepLens: remote token cleared", 3000);
}

export async function retryRemote(server: StepLensServer): Promise<void> {
  const client = await server.ready();
  const status = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: "StepLens: connecting to the model server" }, () =>
    client.sendRequest<ServerStatus>(RetryRemoteRequest),
  );
  if (status.state === "ready" || status.state === "busy") void vscode.window.setStatusBarMessage("StepLens: connected", 3000);
  else if (status.message) void vscode.window.showWarningMessage(status.message);
}
