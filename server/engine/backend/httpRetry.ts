// The retry loop every HTTP backend shares (steplens serve's remote client, OpenAI-compatible servers,
// llama-server): one request with a timeout combined with the caller's signal, retried after
// connection failures and the statuses a retry can fix, waiting as the server's Retry-After asks or
// else by the shared backoff (backoff.ts). What is retried and what the user is told stay with each
// caller: they name their server and what to do differently.

import { BackendError } from "./types.js";
import { sleep } from "./shared.js";
import { backoffMs, retryAfterMs, type BackoffPolicy } from "./backoff.js";

/**
 * Between attempts at one server: a quarter second doubling to 8 s, half of it random. Short, because
 * a busy or restarting server is usually back within seconds and the user is waiting; capped, because
 * past that a pool does better sending the call elsewhere and the editor reconnects on its own clock.
 */
export const HTTP_BACKOFF: BackoffPolicy = { firstMs: 250, maxMs: 8_000, jitter: 0.5 };

/** Statuses a retry at the same server can fix: it is busy, restarting, or behind a proxy that lost it. */
export const RETRY_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export interface RetryPolicy {
  /** Per attempt, milliseconds. */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Statuses worth another attempt; default RETRY_STATUS. */
  retryStatus?: ReadonlySet<number>;
  /** Waits when the server sends no Retry-After; default HTTP_BACKOFF. */
  backoff?: BackoffPolicy;
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
  const backoff = policy.backoff ?? HTTP_BACKOFF;
  const retryStatus = policy.retryStatus ?? RETRY_STATUS;
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
      await sleep(backoffMs(attempt, backoff), signal);
      continue;
    }
    if (retryStatus.has(response.status) && attempt < policy.retries) {
      await response.text().catch(() => "");
      await sleep(retryAfterMs(response.headers.get("retry-after")) ?? backoffMs(attempt, backoff), signal);
      continue;
    }
    return { response, attempts: attempt + 1 };
  }
}
