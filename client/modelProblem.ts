// A model that is missing or broken, as the user meets it: one error message with the choices that
// fix it (Select Model…, Open Settings), the same choices behind the status bar item and the code
// lenses, and the Score command answering with them instead of repeating the server's error.
// vscode-free, so the tests can feed it real statuses.

import type { ServerStatus } from "../protocol/index.js";

export const SELECT_MODEL = "Select Model…";
export const OPEN_SETTINGS = "Open Settings";

export interface ProblemPrompt {
  message: string;
  /** Button labels, in order. */
  actions: string[];
  /** What Open Settings shows. */
  setting: string;
}

/** The prompt for a status in error with a known fix, or undefined. */
export function problemPrompt(status: ServerStatus | undefined): ProblemPrompt | undefined {
  if (status?.state !== "error" || !status.problem) return undefined;
  const { setting, summary } = status.problem;
  const actions = setting === "steplens.modelPath" ? [SELECT_MODEL, OPEN_SETTINGS] : [OPEN_SETTINGS];
  return { message: status.message ?? `StepLens: ${summary}.`, actions, setting };
}

/** The settings editor's query for exactly one setting. */
export function settingsQuery(setting: string): string {
  return `@id:${setting}`;
}

/** Settings contributed with scope "machine-overridable" (the manifest test keeps this list honest). */
export const MACHINE_SETTINGS = ["steplens.modelPath", "steplens.referenceModelPath", "steplens.remote.url"] as const;

/**
 * The commands that show `setting` in the settings editor, in order. In a remote window (code-server,
 * SSH) a machine setting is on the Remote tab: the User tab, where openSettings lands, says "No
 * Settings Found" for it. openRemoteSettings drops its query when it opens the editor the first time
 * (code-server 4.139), so the editor is opened on the query first and then switched to that tab.
 */
export function openSettingsCommands(setting: string, remoteName: string | undefined): Array<{ command: string; query: string }> {
  const machine = (MACHINE_SETTINGS as readonly string[]).includes(setting);
  const query = settingsQuery(setting);
  const open = { command: "workbench.action.openSettings", query };
  return machine && remoteName ? [open, { command: "workbench.action.openRemoteSettings", query }] : [open];
}

/** Errors shown once: "StepLens: " in front unless the text already begins with StepLens. */
export function withProductName(text: string): string {
  return /^StepLens\b/.test(text) ? text : `StepLens: ${text}`;
}

/**
 * When to show the prompt by itself: once per problem, when the status first reports it. A different
 * problem (another missing path) shows again; so does the same one after the model loaded meanwhile.
 */
export class ProblemNotices {
  private shown: string | undefined;

  /** The prompt to show for this status update, if it is news. */
  next(status: ServerStatus): ProblemPrompt | undefined {
    const prompt = problemPrompt(status);
    if (!prompt) {
      if (status.state === "ready" || status.state === "busy") this.shown = undefined;
      return undefined;
    }
    if (prompt.message === this.shown) return undefined;
    this.shown = prompt.message;
    return prompt;
  }

  /**
   * Whether a message the server shows itself (window/showMessage) says what the prompt already
   * says: the server tells every editor about the error, this client shows it once, with buttons.
   */
  covers(message: string, status: ServerStatus | undefined): boolean {
    const prompt = problemPrompt(status);
    return prompt !== undefined && prompt.message === message;
  }
}
