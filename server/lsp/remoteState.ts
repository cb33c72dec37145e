// How the language server talks about a model server it cannot use: which failures mean "not
// reachable (yet)" or "token refused", when to try again, and the words the status bar and the
// output show. The backends' own retries cover one request; this covers the minutes a GPU box is
// down or a tunnel is closed, so the editor recovers by itself when the server comes back.

import type { BackendSetting } from "../../protocol/index.js";
import { backoffMs } from "../engine/backend/backoff.js";
import { failureKind } from "../engine/backend/failure.js";

export type RemoteFailure = "unreachable" | "unauthorized";

export function isServerBackend(kind: string | undefined): kind is Exclude<BackendSetting, "local"> {
  return kind === "remote" || kind === "openai" || kind === "llama-server";
}

/**
 * A failure the server's coming back (or a new token) can fix, or undefined for anything else (bad
 * model name, malformed answers, incompatible versions): those stay errors until the settings change.
 */
export function classifyRemoteFailure(err: unknown): RemoteFailure | undefined {
  switch (failureKind(err)) {
    case "unauthorized":
      return "unauthorized";
    case "unreachable":
    case "timeout":
      return "unreachable";
    default:
      // A busy server (rate-limited) or one that failed on a request fails that request; the next
      // check asks again. Reconnecting would drop a model that works.
      return undefined;
  }
}

/**
 * Backoff between attempts: 1 s, 2 s, 4 s … at most 30 s, so a server that comes back is found soon.
 * No jitter: one editor waits for its own server, and the status bar shows when it tries next.
 */
export function retryDelayMs(failures: number, firstMs = 1000, maxMs = 30_000): number {
  return backoffMs(failures - 1, { firstMs, maxMs, jitter: 0 });
}

/** No countdown in the words: they outlive the moment (logs, tooltips); RemoteStatus.retryInMs has it. */
export function unreachableMessage(url: string, why: string): string {
  return `StepLens cannot reach the model server at ${url} (${why.replace(/\.$/, "")}). Start it (steplens serve on the GPU machine, or the ssh -L tunnel to it) or correct "steplens.remote.url"; StepLens keeps trying by itself, or run "StepLens: Retry Remote Connection". Scores already shown are kept.`;
}

export function unauthorizedMessage(url: string, hasToken: boolean): string {
  const what = hasToken ? "refused the token" : "needs a token";
  return `The model server at ${url} ${what}. Run "StepLens: Set Remote Token" with the server's token (the one steplens serve was started with). Scores already shown are kept.`;
}

export function missingUrlMessage(kind: string): string {
  return `steplens.backend is "${kind}" but "steplens.remote.url" is not set: set it to the model server's address (e.g. http://127.0.0.1:8734 for steplens serve), or set steplens.backend to "local".`;
}
