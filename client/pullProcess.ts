// The editor's downloads: `steplens pull SOURCE --progress-json` run as a child process of the
// extension host, its JSON lines read back as progress; vscode-free so the tests spawn exactly this.
// A child and not an in-process pull: a cancelled in-process pull (ipull) keeps the Node process
// alive with a silent connection, while the CLI stops on SIGINT, keeps what arrived for a resume
// and exits 130.

import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export type PullEvent =
  | { event: "start"; path: string; total: number; resumedFrom: number }
  | { event: "progress"; downloaded: number; total: number }
  | { event: "done"; path: string; bytes: number; sha256: string; checksum: "hub" | "given" | "none"; resumedFrom: number; alreadyThere: boolean }
  | { event: "error"; code: string; message: string };
export type PullDone = Extract<PullEvent, { event: "done" }>;

/** The fields each event must have, and their types (the client bundles no schema library). */
const FIELDS: Record<PullEvent["event"], Record<string, "string" | "number" | "boolean">> = {
  start: { path: "string", total: "number", resumedFrom: "number" },
  progress: { downloaded: "number", total: "number" },
  done: { path: "string", bytes: "number", sha256: "string", checksum: "string", resumedFrom: "number", alreadyThere: "boolean" },
  error: { code: "string", message: "string" },
};

/** One stdout line of `steplens pull --progress-json`; undefined for anything else (a stray log line). */
export function parsePullLine(line: string): PullEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const kind = record.event;
  if (typeof kind !== "string" || !Object.hasOwn(FIELDS, kind)) return undefined;
  const fields = FIELDS[kind as PullEvent["event"]];
  for (const [name, type] of Object.entries(fields)) if (typeof record[name] !== type) return undefined;
  if (kind === "done" && !["hub", "given", "none"].includes(record.checksum as string)) return undefined;
  return record as PullEvent;
}

export interface PullInvocationOptions {
  /** The extension's dist/cli.mjs. */
  cliPath: string;
  /** `hf:USER/REPO:QUANT` or a URL, as `steplens pull` takes it. */
  source: string;
  /** The model cache the editor lists, so that what is downloaded is what Select Model finds. */
  dir: string;
  /** A Hugging Face mirror; without one the child reads HF_ENDPOINT from the environment. */
  endpoint?: string;
  /** A token for gated models; without one the child reads HF_TOKEN or huggingface-cli's saved token. */
  token?: string;
  /** The Node that runs the CLI (default: this process's, as vscode-languageclient starts the server). */
  nodePath?: string;
  /** The environment the child starts from (default: this process's). */
  baseEnv?: NodeJS.ProcessEnv;
}

export interface PullInvocation {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * The child's command line and environment. A token goes in the environment only: a command line
 * is readable by every user of the machine (`ps`). ELECTRON_RUN_AS_NODE makes VS Code's own binary
 * (the extension host's execPath) run the script as Node, as vscode-languageclient does for the server.
 */
export function pullInvocation(o: PullInvocationOptions): PullInvocation {
  const args = [o.cliPath, "pull", o.source, "--dir", o.dir, "--progress-json"];
  if (o.endpoint) args.push("--hf-endpoint", o.endpoint);
  const env: NodeJS.ProcessEnv = { ...(o.baseEnv ?? process.env), ELECTRON_RUN_AS_NODE: "1" };
  if (o.token) env.HF_TOKEN = o.token;
  return { command: o.nodePath ?? process.execPath, args, env };
}

export type PullOutcome =
  | { kind: "done"; result: PullDone }
  /** Cancelled (SIGINT, exit 130); `kept`: a partial file is there for the next try to resume. */
  | { kind: "cancelled"; kept: boolean; message: string }
  /** `code` is the CLI's (not-found, unauthorized, network, checksum, invalid, …) or "process". */
  | { kind: "failed"; code: string; message: string };

export interface PullHandle {
  readonly child: ChildProcess;
  /** Settles once the child exited and its output was read; never rejects. */
  readonly outcome: Promise<PullOutcome>;
  /** Asks the CLI to stop as Ctrl-C would: it keeps what arrived and exits 130. */
  cancel(): void;
}

/** Starts the pull; `onEvent` sees each event line as it comes. */
export function startPull(invocation: PullInvocation, onEvent: (event: PullEvent) => void = () => {}): PullHandle {
  const child = spawn(invocation.command, invocation.args, { env: invocation.env, stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
  let done: PullDone | undefined;
  let error: { code: string; message: string } | undefined;
  let stderr = "";
  let cancelled = false;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const event = parsePullLine(line);
    if (!event) return;
    if (event.event === "done") done = event;
    if (event.event === "error") error = { code: event.code, message: event.message };
    onEvent(event);
  });
  child.stderr.on("data", (d: Buffer) => {
    // The last lines say why it stopped when no error event did (a crash); keep it bounded.
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const outcome = new Promise<PullOutcome>((resolve) => {
    child.on("error", (err) => resolve({ kind: "failed", code: "process", message: `cannot start the StepLens CLI (${invocation.args[0]}): ${err.message}` }));
    // 'close': the exit and every line of output read.
    child.on("close", (code, signal) => {
      if (code === 0 && done) return resolve({ kind: "done", result: done });
      if (code === 130 || (cancelled && signal != null)) {
        const message = error?.message ?? lastLine(stderr) ?? "download interrupted";
        return resolve({ kind: "cancelled", kept: /what arrived is kept/.test(message), message });
      }
      if (error) return resolve({ kind: "failed", ...error });
      resolve({ kind: "failed", code: "process", message: lastLine(stderr) ?? `steplens pull exited with ${signal ?? `code ${code}`}` });
    });
  });
  return {
    child,
    outcome,
    cancel() {
      if (child.exitCode != null || child.signalCode != null) return;
      cancelled = true;
      child.kill("SIGINT");
    },
  };
}

/**
 * What stderr says went wrong: the CLI's last `steplens:` message, else the header of a crash's
 * uncaught error (Node prints the stack, the error's fields and its version after it).
 */
function lastLine(text: string): string | undefined {
  const lines = text.split("\n").map((l) => l.trim());
  const said = lines.filter((l) => l.startsWith("steplens: ")).at(-1);
  if (said) return said.slice("steplens: ".length);
  return lines.filter((l) => /^\w*Error\b/.test(l)).at(-1) ?? (lines.filter((l) => l !== "").at(-1) || undefined);
}

/** The notification's words for an event, and how far along it is (0–100). */
export function progressText(event: PullEvent): { percent: number; message: string } | undefined {
  const MB = 1024 * 1024;
  const mb = (n: number): string => (n / MB).toFixed(1);
  if (event.event === "start") {
    const percent = event.total > 0 ? (event.resumedFrom / event.total) * 100 : 0;
    return { percent, message: event.resumedFrom > 0 ? `resuming: ${mb(event.resumedFrom)} of ${mb(event.total)} MB already here` : `${mb(event.total)} MB` };
  }
  if (event.event === "progress") {
    const percent = event.total > 0 ? (event.downloaded / event.total) * 100 : 0;
    return { percent, message: `${Math.floor(percent)}% · ${mb(event.downloaded)} of ${mb(event.total)} MB` };
  }
  return undefined;
}

/** What the user reads when a download did not finish: the model, what happened, what to do. */
export function pullFailureText(label: string, outcome: Exclude<PullOutcome, { kind: "done" }>): string {
  if (outcome.kind === "cancelled") {
    return outcome.kept
      ? `Download of ${label} cancelled. What arrived is kept: choose it again to resume where it stopped.`
      : `Download of ${label} cancelled; nothing was kept.`;
  }
  switch (outcome.code) {
    case "unauthorized":
      return `${label} is gated on Hugging Face: accept its terms on the model's page, then give StepLens a token (set HF_TOKEN in the environment VS Code starts from, or log in with huggingface-cli) and try again. (${outcome.message})`;
    case "not-found":
      return `${label} was not found on the model server (or the mirror in HF_ENDPOINT). It may have been renamed or removed: download another, or get a GGUF yourself and choose Browse…. (${outcome.message})`;
    case "network":
      return `Download of ${label} failed: ${outcome.message}. Check the network or the mirror in HF_ENDPOINT; what arrived is kept for the next try.`;
    case "checksum":
      return `Download of ${label} was corrupted and deleted: ${outcome.message}`;
    default:
      return `Download of ${label} failed: ${outcome.message}`;
  }
}
