// JSON over HTTP for the completion-server backends (OpenAI-compatible servers such as vLLM, and
// llama.cpp's llama-server): one place for timeouts, retries (httpRetry.ts), and error messages that
// name the server and say what to do, each with its kind (types.ts BackendErrorCode). Node's own
// fetch (undici) keeps connections alive between calls.

import { BackendError } from "./types.js";
import { fetchWithRetries, RetriesExhausted } from "./httpRetry.js";
import { networkKind, statusKind } from "./failure.js";

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

/** An HTTP error the server answered with; `status` and `body` let callers react to 404 (endpoint missing) etc. */
export class HttpStatusError extends BackendError {
  override readonly status: number;

  constructor(
    message: string,
    status: number,
    readonly body: string,
  ) {
    super(message, statusKind(status), { status });
    this.status = status;
  }
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
      fatal: ({ timedOut, error }) => {
        const code = causeCode(error);
        // A host name that does not resolve now will not resolve in a second either: say so at once.
        return !timedOut && (code === "ENOTFOUND" || code === "EAI_AGAIN")
          ? new BackendError(`cannot resolve the host of ${options.serverName} at ${url}: check --endpoint`, "unreachable", { cause: error })
          : undefined;
      },
    }, signal));
  } catch (err) {
    if (!(err instanceof RetriesExhausted)) throw err;
    const { timedOut, error, attempts: tries } = err.last;
    const problem = timedOut
      ? `no answer within ${options.timeoutMs} ms (raise it with --timeout MS)`
      : `connection failed (${causeCode(error) ?? (error instanceof Error ? error.message : String(error))})`;
    throw new BackendError(`${options.serverName} at ${url}: ${problem} after ${tries} attempts. Is the server running and is --endpoint right?`, networkKind(timedOut), { cause: error });
  }
  const text = await response.text();
  if (response.ok) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new BackendError(
        `${options.serverName} at ${url} answered with something that is not JSON (${JSON.stringify(text.slice(0, 120))}): is --endpoint the server's API address?`,
        "incompatible",
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
