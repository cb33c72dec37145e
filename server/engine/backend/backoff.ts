// How long to wait before trying again, for every retry in StepLens: a request to a model server,
// a call moved to another endpoint of a pool, an endpoint's cool-down, the editor's reconnection.
// One formula (exponential, capped, part of it random) and one reading of a server's Retry-After, so
// a fix or a cap reaches them all; each caller keeps its own numbers and says why.

export interface BackoffPolicy {
  /** The wait before the first retry, milliseconds; it doubles with each retry. */
  firstMs: number;
  /** No wait is longer than this. */
  maxMs: number;
  /**
   * The share of each wait that is random, 0..1: 0.5 waits between half and all of it. Clients that
   * failed together (sessions of one pool, several editors behind one server) then come back spread
   * out instead of all at the same instant; 0 where one waiter is alone and a countdown is shown.
   */
  jitter: number;
}

/** The wait before retry `retry` (0 = the first retry). */
export function backoffMs(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const full = Math.min(policy.maxMs, policy.firstMs * 2 ** Math.max(0, retry));
  return Math.round(full * (1 - policy.jitter * random()));
}

/**
 * A server's Retry-After is a request, not a command: one that asks for minutes (a mis-estimate, or
 * a shutdown) would freeze the caller, which can rather fail, tell the user, or try another endpoint.
 */
export const MAX_RETRY_AFTER_MS = 30_000;

/**
 * Retry-After (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) in milliseconds from `now`, at most
 * MAX_RETRY_AFTER_MS; undefined when absent or unreadable, so the caller's own backoff applies.
 */
export function retryAfterMs(header: string | null | undefined, now: number = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  // Fractional seconds are not in the RFC, but some servers send them; read them rather than as a date.
  if (/^\d+(\.\d+)?$/.test(value)) return Math.min(MAX_RETRY_AFTER_MS, Math.round(Number(value) * 1000));
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now)) : undefined;
}
