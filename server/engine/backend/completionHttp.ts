// JSON over HTTP for the completion-server backends (OpenAI-compatible servers such as vLLM, and
// llama.cpp's llama-server): one place for timeouts, retries with backoff, and error messages that
// name the server and say what to do. Node's own fetch (undici) keeps connections alive between calls.

import { BackendError } from "./types.js";
import { fetchWithRetries, RetriesExhausted } from "./httpRetry.js";

export interface HttpOptions {
  /** Bearer token / API key, sent as `Authorization: Bearer ...`. */
  token?: string;
  /** Per-attempt timeout in milliseconds. */
  timeoutMs: number;
  /** Retries after the first attempt on 429, 502, 503, 504 and connection errors. */
  retries: number;
  /** What the server is called in messages ("the OpenAI-compatible server", "llama-server"). */
  serverName: string;
}

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_RETRIES = 4;
const RETRY_STATUS = new Set([429, 502, 503, 504]);
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 8_000;

/** The server could not be reached or kept failing after the retries: another endpoint of a pool may do (pool.ts reads `retryable`). */
export class ServerUnavailableError extends BackendError {
  readonly retryable = true;
  constructor(message: string) {
    super(message, "backend");
  }
}

/** An HTTP error the server answered with; `status` lets callers react to 404 (endpoint missing) etc. */
export class HttpStatusError extends BackendError {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message, "backend");
  }
}

/** Delay before retry `attempt` (1-based): Retry-After when the server sends one, else exponential with jitter. */
function backoffMs(attempt: number, retryAfter: string | null): number {
  const seconds = retryAfter != null ? Number(retryAfter) : NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, BACKOFF_MAX_MS * 4);
  const base = Math.min(BACKOFF_BASE_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);
  return base / 2 + Math.random() * (base / 2);
}

/** The error message inside an OpenAI-style ({error: {message}}) or llama-server ({error: {message}}) body. */
function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
    if (parsed.error && typeof parsed.error.message === "string") return parsed.error.message;
    if (typeof parsed.message === "string") return parsed.message;
    if (typeof parsed.detail === "string") return parsed.detail;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 300);
}

function causeCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

/** Sends one request with retries; resolves to the parsed JSON body. */
export async function requestJson(
  method: "GET" | "POST",
  url: string,
  body: unknown,
  options: HttpOptions,
  signal?: AbortSignal,
): Promise<unknown> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  let response: Response;
  let attempts: number;
  try {
    ({ response, attempts } = await fetchWithRetries(url, { method, headers, body: payload }, {
      timeoutMs: options.timeoutMs,
      retries: options.retries,
      retryStatus: RETRY_STATUS,
      delayMs: (retry, retryAfter) => backoffMs(retry + 1, retryAfter),
      fatal: ({ timedOut, error }) => {
        const code = causeCode(error);
        return !timedOut && (code === "ENOTFOUND" || code === "EAI_AGAIN")
          ? new BackendError(`cannot resolve the host of ${options.serverName} at ${url}: check --endpoint`, "backend")
          : undefined;
      },
    }, signal));
  } catch (err) {
    if (!(err instanceof RetriesExhausted)) throw err;
    const { timedOut, error, attempts: tries } = err.last;
    const problem = timedOut
      ? `no answer within ${options.timeoutMs} ms (raise it with --timeout MS)`
      : `connection failed (${causeCode(error) ?? (error instanceof Error ? error.message : String(error))})`;
    throw new ServerUnavailableError(`${options.serverName} at ${url}: ${problem} after ${tries} attempts. Is the server running and is --endpoint right?`);
  }
  const text = await response.text();
  if (response.ok) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new BackendError(
        `${options.serverName} at ${url} answered with something that is not JSON (${JSON.stringify(text.slice(0, 120))}): is --endpoint the server's API address?`,
        "backend",
      );
    }
  }
  const detail = serverMessage(text);
  if (response.status === 401 || response.status === 403) {
    throw new HttpStatusError(
      `${options.serverName} at ${url} refused the request (HTTP ${response.status}: ${detail}). Pass the right API key with --token KEY or STEPLENS_TOKEN.`,
      response.status,
      text,
    );
  }
  const retried = attempts > 1 ? ` after ${attempts} attempts` : "";
  throw new HttpStatusError(`${options.serverName} at ${url} answered HTTP ${response.status}${retried}: ${detail}`, response.status, text);
}

/** Base URL without trailing slashes; throws a clear error for something that is not an http(s) URL. */
export function normaliseEndpoint(endpoint: string, flag = "--endpoint"): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new BackendError(`${flag} ${JSON.stringify(endpoint)} is not a URL: write it like http://127.0.0.1:8080`, "backend");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BackendError(`${flag} ${endpoint} must start with http:// or https://`, "backend");
  }
  url.pathname = url.pathname.replace(/\/+$/, "");
  url.search = "";
  url.hash = "";
  return url;
}

export function joinUrl(base: URL, path: string): string {
  // URL keeps "/" as the path of a bare origin; drop it so "/tokenize" is not "//tokenize".
  return `${base.origin}${base.pathname.replace(/\/+$/, "")}${path}`;
}
