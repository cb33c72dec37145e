// The status bar's words for a ServerStatus, vscode-free so they can be tested.

import type { RemoteStatus, ServerStatus } from "../protocol/index.js";

/** `arith-demo-15m-f16.gguf` → `arith-demo-15m`: the quantisation tag says little in a status bar. */
export function shortModelName(model: string): string {
  const base = model.replace(/^.*[\\/]/, "").replace(/\.gguf$/i, "");
  const short = base.replace(/[-_.](?:f16|f32|bf16|fp16|fp32|q\d+(?:_[a-z0-9]+)*|iq\d+(?:_[a-z0-9]+)*)$/i, "");
  return short || base;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** Show the warning background. */
  error: boolean;
  /** An error the user fixes with a setting (no model, a bad one): the error background, not the warning one. */
  severe?: boolean;
  /** What a click does, when not the default (Select Model): retry the server, set its token, show the problem's choices. */
  click?: "retryRemote" | "setRemoteToken" | "showProblem";
}

const KIND_NAMES: Record<string, string> = { remote: "steplens serve", openai: "OpenAI-compatible server", "llama-server": "llama-server" };

function remoteDetail(remote: RemoteStatus): string {
  return [`Server: ${remote.url || "(no steplens.remote.url)"} (${KIND_NAMES[remote.kind] ?? remote.kind})`, `Token: ${remote.hasToken ? "set" : "not set"}`].join("\n");
}

/** The next attempt as a clock time: a tooltip stays up longer than any "in 4 s" stays true. */
function nextAttempt(now: number, retryInMs: number): string {
  return new Date(now + retryInMs).toLocaleTimeString();
}

/** Status through a model server: its own words, whatever the state. */
function remoteView(status: ServerStatus, remote: RemoteStatus, now: number): StatusView | undefined {
  const detail = remoteDetail(remote);
  const label = remote.kind === "remote" ? "remote" : (KIND_NAMES[remote.kind] ?? remote.kind);
  switch (status.state) {
    case "loading":
      return { text: `$(sync~spin) StepLens: connecting to ${label}…`, tooltip: [`Connecting to ${remote.url}.`, detail].join("\n"), error: false };
    case "unreachable": {
      const next = remote.retryInMs !== undefined ? `Next attempt at ${nextAttempt(now, remote.retryInMs)}; click to try now.` : "Click to try again.";
      return {
        text: `$(debug-disconnect) StepLens: ${label} unreachable`,
        tooltip: [status.message ?? `Cannot reach ${remote.url}.`, detail, next].join("\n"),
        error: true,
        click: "retryRemote",
      };
    }
    case "unauthorized":
      return {
        text: `$(lock) StepLens: ${label} unauthorized`,
        tooltip: [status.message ?? `${remote.url} refused the token.`, detail, "Click to set the token."].join("\n"),
        error: true,
        click: "setRemoteToken",
      };
    case "error":
      return {
        text: `$(warning) StepLens: ${label} error`,
        tooltip: [status.message ?? "The StepLens server reported an error.", detail, "Click to try again."].join("\n"),
        error: true,
        click: "retryRemote",
      };
    case "ready":
      if (status.busy > 0) return undefined;
      return {
        text: `$(remote) StepLens: ${label}${status.model ? ` · ${shortModelName(status.model)}` : ""}`,
        tooltip: [`Scoring on ${status.model ?? "the server's model"} at ${remote.url}.`, detail, "Click to select a model."].join("\n"),
        error: false,
      };
    default:
      return undefined;
  }
}

/** `now`: when the status arrived (it carries the next attempt as a delay from then). */
export function statusView(status: ServerStatus | undefined, now = Date.now()): StatusView {
  const model = status?.model ? shortModelName(status.model) : undefined;
  const where = [model, status?.backend].filter(Boolean).join(" · ");
  // deviceNote says why the model runs on the CPU when a GPU was asked for or could be used.
  const detail = [status?.modelPath ? `Model: ${status.modelPath}` : undefined, status?.backend ? `Backend: ${status.backend}` : undefined, status?.deviceNote]
    .filter(Boolean)
    .join("\n");
  const click = "Click to select a model.";
  const remote = status?.remote ? remoteView(status, status.remote, now) : undefined;
  if (remote) return remote;
  if (status?.state === "error" && status.problem) {
    // The same choices as the error message (modelProblem.ts): the click shows it again.
    return {
      text: `$(error) StepLens: ${status.problem.summary}`,
      tooltip: [status.message ?? status.problem.summary, "Click for the choices that fix it."].join("\n"),
      error: true,
      severe: true,
      click: "showProblem",
    };
  }
  if (!status || status.state === "starting") {
    return { text: "$(sync~spin) StepLens: starting…", tooltip: `StepLens language server is starting.\n${click}`, error: false };
  }
  switch (status.state) {
    case "loading":
      return { text: "$(sync~spin) StepLens: loading model…", tooltip: [`Loading ${model ?? "the model"}.`, detail, click].filter(Boolean).join("\n"), error: false };
    case "unreachable":
    case "unauthorized":
    case "error":
      return {
        text: "$(warning) StepLens: error",
        tooltip: [status.message ?? "The StepLens server reported an error.", detail, click].filter(Boolean).join("\n"),
        error: true,
      };
    case "busy":
    case "ready":
      if (status.state === "busy" || status.busy > 0) {
        const n = status.busy > 1 ? ` (${status.busy} files)` : "";
        return { text: "$(sync~spin) StepLens: scoring…", tooltip: [`Scoring${n}.`, detail, click].filter(Boolean).join("\n"), error: false };
      }
      return { text: `$(pulse) StepLens${where ? `: ${where}` : ""}`, tooltip: [detail || "StepLens is ready.", click].join("\n"), error: false };
  }
}

/** Shown while the client has no server at all (it stopped or never started). */
export function stoppedView(message: string): StatusView {
  return { text: "$(warning) StepLens: stopped", tooltip: `${message}\nRun "StepLens: Restart Server" or click to select a model.`, error: true };
}
