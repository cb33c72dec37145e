// The status bar's words for a ServerStatus, vscode-free so they can be tested.

import type { ServerStatus } from "../protocol/index.js";

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
}

export function statusView(status: ServerStatus | undefined): StatusView {
  const model = status?.model ? shortModelName(status.model) : undefined;
  const where = [model, status?.backend].filter(Boolean).join(" · ");
  const detail = [status?.modelPath ? `Model: ${status.modelPath}` : undefined, status?.backend ? `Backend: ${status.backend}` : undefined]
    .filter(Boolean)
    .join("\n");
  const click = "Click to select a model.";
  if (!status || status.state === "starting") {
    return { text: "$(sync~spin) StepLens: starting…", tooltip: `StepLens language server is starting.\n${click}`, error: false };
  }
  switch (status.state) {
    case "loading":
      return { text: "$(sync~spin) StepLens: loading model…", tooltip: [`Loading ${model ?? "the model"}.`, detail, click].filter(Boolean).join("\n"), error: false };
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
