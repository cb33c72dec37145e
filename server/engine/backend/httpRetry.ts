// The retry loop every HTTP backend shares (steplens serve's remote client, OpenAI-compatible servers,
// llama-server): one request with a timeout combined with the caller's signal, retried after
// connection failures and the statuses a retry can fix. What is retried, how long to wait and what
// the user is told stay with each caller: they name their server and what to do differently.

import { BackendError } from "./types.js";
import { sleep } from "./shared.js";

export interface RetryPolicy {
  /** Per attempt, milliseconds. */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Statuses worth another attempt (busy, restarting, a proxy that lost the server). */
  retryStatus: ReadonlySet<number>;
  /** Wait before retry `retry` (0 = the first retry), given the server's Retry-After header if any. */
  delayMs(retry: number, retryAfter: string | null): number;
  /** A failed attempt that retrying cannot fix: the error to throw at once, else undefined. */
  fatal?(failure: NetworkFailure): Error | undefined;
}

/** An attempt that got no answer. */
export interface NetworkFailure {
  timedOut: boolean;
  error: unknown;
  /** Attempts made so far, this one included. */
  attempts: number;
}

/** Every attempt failed without an answer; `last` is the final one. */
export class RetriesExhausted extends Error {
  constructor(readonly last: NetworkFailure) {
    super("no answer after retries");
  }
}

/**
 * Sends `init` to `url` until the server answers with a status outside `retryStatus`, or the retries
 * run out (then the last answer is returned whatever its status). Throws RetriesExhausted when no
 * attempt got an answer, the policy's fatal error, or a cancellation BackendError.
 */
export async function fetchWithRetries(url: string | URL, init: RequestInit, policy: RetryPolicy, signal?: AbortSignal): Promise<{ response: Response; attempts: number }> {
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new BackendError("scoring was cancelled", "cancelled");
    const timeout = AbortSignal.timeout(policy.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetch(url, { ...init, signal: combined });
    } catch (error) {
      if (signal?.aborted) throw new BackendError("scoring was cancelled", "cancelled");
      const failure: NetworkFailure = { timedOut: timeout.aborted, error, attempts: attempt + 1 };
      const fatal = policy.fatal?.(failure);
      if (fatal) throw fatal;
      if (attempt >= policy.retries) throw new RetriesExhausted(failure);
      await sleep(policy.delayMs(attempt, null), signal);
      continue;
    }
    if (policy.retryStatus.has(response.status) && attempt < policy.retries) {
      await response.text().catch(() => "");
      await sleep(policy.delayMs(attempt, response.headers.get("retry-after")), signal);
      continue;
    }
    return { response, attempts: attempt + 1 };
  }
}
