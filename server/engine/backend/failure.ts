// The one place that says what kind of failure an error is (types.ts BackendErrorCode). The server
// backends give every BackendError its kind where they know it (the status they got, the connection
// that failed); errors from elsewhere (Node's fetch, a Backend written outside StepLens) are read by
// their HTTP status and Node/undici error codes, never by their message.

import { BackendError, type BackendErrorCode } from "./types.js";

/** The kind of an HTTP answer that is not a success. */
export function statusKind(status: number): BackendErrorCode {
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 429) return "rate-limited";
  if (status === 502 || status === 503 || status === 504) return "unreachable";
  if (status >= 500) return "server-error";
  if (status === 404 || status === 405) return "incompatible";
  if (status === 408) return "timeout";
  return "backend";
}

/** The kind of a request that got no answer: it timed out, or it never reached a server. */
export function networkKind(timedOut: boolean): "timeout" | "unreachable" {
  return timedOut ? "timeout" : "unreachable";
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);
const TIMEOUT_CODES = new Set(["ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** The kind of any error: a BackendError's own; else its HTTP status or a network code anywhere in its `cause` chain. */
export function failureKind(err: unknown): BackendErrorCode {
  if (err instanceof BackendError) return err.code;
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof BackendError) return e.code;
    const o = e as { status?: unknown; statusCode?: unknown; code?: unknown; name?: unknown };
    const status = typeof o.status === "number" ? o.status : typeof o.statusCode === "number" ? o.statusCode : undefined;
    if (status !== undefined) return statusKind(status);
    if (typeof o.code === "string" && UNREACHABLE_CODES.has(o.code)) return "unreachable";
    if (typeof o.code === "string" && TIMEOUT_CODES.has(o.code)) return "timeout";
    if (o.name === "TimeoutError") return "timeout";
    if (o.name === "AbortError") return "cancelled";
  }
  return "backend";
}

/**
 * Whether trying again (later, or at another endpoint with the same model) may succeed: the server
 * was away, slow, busy or failed on its side. A refused token, a wrong request or an incompatible
 * server would fail the same way everywhere.
 */
export function isTransient(kind: BackendErrorCode): boolean {
  return kind === "unreachable" || kind === "timeout" || kind === "rate-limited" || kind === "server-error";
}

/** Whether another endpoint could succeed where this one failed (pool.ts, and create.ts at start). */
export function isRetryable(err: unknown): boolean {
  return isTransient(failureKind(err));
}
