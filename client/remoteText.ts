// Words and checks for the model-server commands, vscode-free so the manifest test can check them.

import { remoteUrlProblem, type BackendSetting } from "../protocol/index.js";

/** Why a typed token cannot be right, or undefined: empty, or with spaces a copy-paste picked up inside it. */
export function tokenInputProblem(value: string): string | undefined {
  const token = value.trim();
  if (token === "") return "Type or paste the server's token (steplens serve prints it when it starts, or was given --token).";
  if (/\s/.test(token)) return "A token has no spaces or line breaks inside it; paste it again.";
  return undefined;
}

/** After the token is saved: what else the user must set before it is used, or undefined when nothing. */
export function afterTokenHint(backend: BackendSetting, url: string): string | undefined {
  if (backend === "local") {
    return `StepLens saved the token. It is used once "steplens.backend" is remote, openai or llama-server (now: local).`;
  }
  if (url.trim() === "") return `StepLens saved the token. Set "steplens.remote.url" to the model server's address to use it.`;
  return remoteUrlProblem(url);
}

export function tokenPrompt(url: string): string {
  const where = url.trim() ? `the model server at ${url.trim()}` : "the model server (steplens.remote.url)";
  return `Token of ${where}. VS Code keeps it in its secret storage, never in settings files.`;
}
