// The "remote" backend: the model runs in `steplens serve` on another machine (or another process),
// and every engine feature (CPMI, Monte Carlo, Best-of-N, segmentation) runs here unchanged, calling
// the server's low-level endpoints through the Backend interface of types.ts.
//
// Client API (stable; the editor imports it, see docs/serve.md):
//
//   connectRemote(url, { token?, timeoutMs?, retries?, signal? }): Promise<Backend>
//     Checks the server (GET /v1/model: reachable, token accepted, same API version) and returns a
//     Backend. Throws BackendError with a message naming the URL and what to do.
//   Several servers: create.ts wraps one connectRemote per --endpoint in pool.ts.
//   connectRemote(url, { model: "policy" | "reference" }): one model of Implicit PRM's pair on a
//     server started with --reference-model; every request names it (`model`), and the backend adds
//     detokenize, tokenOffsets and sessions' tokenLogprobs (one forward pass over a token sequence).
//   probeRemote(url, token?, { timeoutMs? }): Promise<RemoteProbe>
//     Never throws: { state: "reachable", model } | { state: "unauthorized" | "unreachable" |
//     "incompatible", message } — what a status bar shows.
//   REMOTE_API_VERSION, and the wire types (RemoteModelInfo, ...) both ends share.
//
// Transport: Node's fetch, JSON bodies, `Authorization: Bearer <token>`. Each request has a timeout
// (AbortSignal.timeout combined with the caller's signal). Connection errors, 429 (honouring
// Retry-After) and 502/503/504 are retried with the shared backoff (httpRetry.ts); 400, 401, 413
// and other answers are not: retrying cannot change them. Every backend request is a pure function
// of its body, so a retry after a lost connection is safe. Every error says its kind (types.ts
// BackendErrorCode), which a pool and the editor act on.

import {
  BackendError,
  type Backend,
  type BackendInfo,
  type BackendSession,
  type ContinuationScore,
  type SampleOptions,
  type TokenCounters,
  type TokenEntropies,
} from "./types.js";
import { fetchWithRetries, HTTP_BACKOFF, RetriesExhausted } from "./httpRetry.js";
import { failureKind, networkKind, statusKind } from "./failure.js";

/** Bumped when a request or response changes incompatibly; both ends must agree. */
export const REMOTE_API_VERSION = 1;

/** GET /v1/model */
export interface RemoteModelInfo {
  api_version: number;
  /** The steplens version of the server. */
  version: string;
  /** Model file name (no directory: the server's layout is not the client's business). */
  name: string;
  kind: string;
  device: string;
  context_size: number;
  threads?: number;
  /** Lanes: backend sessions the server runs at the same time. */
  parallel: number;
  /** The server's engine settings, for `steplens serve`'s own /v1/score, /v1/label and /v1/bon. */
  engine: {
    templates: string[];
    negatives: number;
    samples: number;
    seed: number;
    threshold: number;
    aggregation: string;
    negative_weights: string;
  };
  limits: RemoteLimits;
  /** Only on a server started with --reference-model: Implicit PRM's pair (names are file names). */
  pair?: RemotePairInfo;
  /** The step methods /v1/score takes on this server (absent: a server older than `method`). */
  methods?: string[];
}

/** Which model of the pair a request is for; absent: the server's main model (the reference, on a pair server). */
export type RemoteModelRole = "policy" | "reference";

export interface RemotePairInfo {
  policy: string;
  reference: string;
  /** β the server scores with (its --beta). */
  beta: number;
  policy_context_size: number;
  reference_context_size: number;
  policy_vocabulary?: number;
}

export interface RemoteLimits {
  max_body_bytes: number;
  max_steps: number;
  max_chars: number;
  max_queue: number;
  max_label_records: number;
}

/** Token accounting every model-running response carries. */
export interface RemoteTokens {
  evaluated: number;
  generated: number;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface TokenizeRequest {
  text: string;
  model?: RemoteModelRole;
}
export interface TokenizeResponse {
  tokens: number[];
}
export interface DetokenizeRequest {
  tokens: number[];
  model?: RemoteModelRole;
}
export interface DetokenizeResponse {
  text: string;
}
/** Where each token of `text` starts (implicit/tokenOffsets.ts, run on the server: one request, not one per token). */
export interface TokenOffsetsRequest {
  text: string;
  tokens: number[];
  model?: RemoteModelRole;
}
export interface TokenOffsetsResponse {
  offsets: number[];
}
/** log p of each token at index >= `from` after BOS and the tokens before it, one forward pass. */
export interface TokenLogprobsRequest {
  tokens: number[];
  from: number;
  model?: RemoteModelRole;
}
export interface TokenLogprobsResponse {
  /** null where not asked for (index < from): JSON has no NaN. */
  logprobs: (number | null)[];
  tokens: RemoteTokens;
}
export interface ContinuationsRequest {
  prefix: string;
  continuations: string[];
  model?: RemoteModelRole;
}
export interface ContinuationsResponse {
  scores: ContinuationScore[];
  tokens: RemoteTokens;
}
export interface SampleRequest {
  prefix: string;
  options: SampleOptions;
  model?: RemoteModelRole;
}
export interface SampleResponse {
  texts: string[];
  tokens: RemoteTokens;
}
export interface EntropiesRequest {
  prefix: string;
  text: string;
  model?: RemoteModelRole;
}
export interface EntropiesResponse {
  entropies: TokenEntropies;
  tokens: RemoteTokens;
}

export interface RemoteOptions {
  token?: string;
  /** Per request, milliseconds (default 120000). */
  timeoutMs?: number;
  /** Retries after the first attempt for retryable failures (default 4). */
  retries?: number;
  /** First backoff in milliseconds; doubles each retry (default: httpRetry.ts HTTP_BACKOFF). */
  retryBaseMs?: number;
  /** Aborts connecting. */
  signal?: AbortSignal;
  /** One model of the server's Implicit PRM pair instead of its main model. */
  model?: RemoteModelRole;
}

export type RemoteProbe =
  | { state: "reachable"; url: string; model: RemoteModelInfo }
  | { state: "unauthorized" | "unreachable" | "incompatible"; url: string; message: string };

const DEFAULT_TIMEOUT_MS = 120_000;

/** One server: the HTTP part, shared by the backend and the probe. */
export class RemoteClient {
  readonly url: string;
  private readonly base: URL;

  constructor(
    url: string,
    private readonly options: RemoteOptions = {},
  ) {
    this.base = parseServerUrl(url);
    this.url = this.base.toString().replace(/\/$/, "");
  }

  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, undefined, signal);
  }

  async post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>("POST", path, body, signal);
  }

  private async request<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const retries = this.options.retries ?? 4;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const target = new URL(path.replace(/^\//, ""), this.base.toString().endsWith("/") ? this.base : `${this.base.toString()}/`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const init: RequestInit = {
      method,
      headers: {
        accept: "application/json",
        ...(payload !== undefined ? { "content-type": "application/json" } : {}),
        ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      },
      body: payload,
    };
    let res: Response;
    try {
      ({ response: res } = await fetchWithRetries(target, init, {
        timeoutMs,
        retries,
        backoff: { ...HTTP_BACKOFF, firstMs: this.options.retryBaseMs ?? HTTP_BACKOFF.firstMs },
        // A request that timed out is not sent again here: a long wait means a full queue, and a
        // pool (pool.ts) may send it to another server instead.
        fatal: (f) =>
          f.timedOut
            ? new BackendError(`steplens serve at ${this.url} did not answer ${path} within ${timeoutMs} ms; the server may be overloaded (raise --timeout) or stuck`, "timeout")
            : undefined,
      }, signal));
    } catch (err) {
      if (!(err instanceof RetriesExhausted)) throw err;
      throw new BackendError(
        `cannot reach steplens serve at ${this.url}: ${networkCode(err.last.error)}; is it running? start it with \`steplens serve\``,
        networkKind(err.last.timedOut),
        { cause: err.last.error },
      );
    }
    if (res.ok) return await this.readJson<T>(res, path);
    const { code, detail } = await errorDetail(res);
    throw this.statusError(res.status, path, detail, code);
  }

  /** `code`: the error code in steplens serve's JSON body (server/serve/http.ts), when there is one. */
  private statusError(status: number, path: string, detail: string, code?: string): BackendError {
    const tail = detail ? `: ${detail}` : "";
    const kind = statusKind(status);
    const error = (message: string, code = kind): BackendError => new BackendError(message, code, { status });
    switch (status) {
      case 401:
        return error(`steplens serve at ${this.url} refused the token${tail}; set it with --token or $STEPLENS_TOKEN`);
      case 404:
        return error(`steplens serve at ${this.url} has no ${path}: is the URL the server's base address (http://host:port) and the server a steplens serve of the same version?`);
      case 413:
        return error(`steplens serve at ${this.url} refused the request as too large${tail}; shorten the solution or raise the server's limits (--max-body, --max-steps, --max-chars)`);
      case 429:
        return error(`steplens serve at ${this.url} is busy (its queue is full)${tail}; try again later or raise the server's --max-queue`);
      case 503:
        return error(`steplens serve at ${this.url} is not taking work${tail}; it may be shutting down, try again once it is back`);
      default:
        return error(`steplens serve at ${this.url} answered ${path} with HTTP ${status}${tail}`, code === "context-overflow" ? "context-overflow" : kind);
    }
  }

  private async readJson<T>(res: Response, path: string): Promise<T> {
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new BackendError(
        `steplens serve at ${this.url} sent a malformed response to ${path} (not JSON: ${JSON.stringify(text.slice(0, 80))}); is the URL a steplens serve and not another web server?`,
        "incompatible",
      );
    }
  }
}

/** Checks the URL a user typed before any request is made. */
export function parseServerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BackendError(`"${url}" is not a valid server URL; use the address steplens serve printed, e.g. http://127.0.0.1:8734`, "backend");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new BackendError(`"${url}" is not an http:// or https:// URL; use the address steplens serve printed, e.g. http://127.0.0.1:8734`, "backend");
  }
  return parsed;
}

function isModelInfo(v: unknown): v is RemoteModelInfo {
  const o = v as Partial<RemoteModelInfo> | null;
  return !!o && typeof o === "object" && typeof o.api_version === "number" && typeof o.name === "string" && typeof o.context_size === "number";
}

async function fetchModelInfo(client: RemoteClient, signal?: AbortSignal): Promise<RemoteModelInfo> {
  const info = await client.get<unknown>("/v1/model", signal);
  if (!isModelInfo(info)) {
    throw new BackendError(`${client.url} answered /v1/model, but not as steplens serve does; check the URL (and the port)`, "incompatible");
  }
  if (info.api_version !== REMOTE_API_VERSION) {
    throw new BackendError(
      `steplens serve at ${client.url} speaks API v${info.api_version} (steplens ${info.version}), this client speaks v${REMOTE_API_VERSION}; run the same steplens version on both ends`,
      "incompatible",
    );
  }
  return info;
}

class RemoteSession implements BackendSession {
  readonly counters: TokenCounters = { evaluated: 0, generated: 0 };

  constructor(
    private readonly server: RemoteClient,
    private readonly owner: RemoteBackend,
  ) {}

  async scoreContinuations(prefix: string, continuations: readonly string[], signal?: AbortSignal): Promise<ContinuationScore[]> {
    const body: ContinuationsRequest = { prefix, continuations: [...continuations], ...this.owner.which };
    const res = await this.server.post<ContinuationsResponse>("/v1/backend/continuations", body, signal);
    if (!Array.isArray(res.scores) || res.scores.length !== continuations.length) {
      throw new BackendError(`steplens serve at ${this.server.url} sent ${Array.isArray(res.scores) ? res.scores.length : "no"} scores for ${continuations.length} continuations`, "backend");
    }
    this.count(res.tokens);
    return res.scores;
  }

  async sample(prefix: string, options: SampleOptions, signal?: AbortSignal): Promise<string[]> {
    const body: SampleRequest = { prefix, options, ...this.owner.which };
    const res = await this.server.post<SampleResponse>("/v1/backend/sample", body, signal);
    if (!Array.isArray(res.texts)) throw new BackendError(`steplens serve at ${this.server.url} sent no samples`, "backend");
    this.count(res.tokens);
    return res.texts;
  }

  async tokenEntropies(prefix: string, text: string, signal?: AbortSignal): Promise<TokenEntropies> {
    const body: EntropiesRequest = { prefix, text, ...this.owner.which };
    const res = await this.server.post<EntropiesResponse>("/v1/backend/entropies", body, signal);
    if (!res.entropies || !Array.isArray(res.entropies.entropies)) throw new BackendError(`steplens serve at ${this.server.url} sent no entropies`, "backend");
    this.count(res.tokens);
    return res.entropies;
  }

  async tokenLogprobs(tokens: readonly number[], from: number, signal?: AbortSignal): Promise<number[]> {
    const body: TokenLogprobsRequest = { tokens: [...tokens], from, ...this.owner.which };
    const res = await this.server.post<TokenLogprobsResponse>("/v1/backend/token-logprobs", body, signal);
    if (!Array.isArray(res.logprobs) || res.logprobs.length !== tokens.length) {
      throw new BackendError(`steplens serve at ${this.server.url} sent ${Array.isArray(res.logprobs) ? res.logprobs.length : "no"} log-probabilities for ${tokens.length} tokens`, "backend");
    }
    this.count(res.tokens);
    return res.logprobs.map((x) => (typeof x === "number" ? x : NaN));
  }

  /** Nothing to give back: the session holds no server state between requests. */
  release(): void {}

  private count(tokens: RemoteTokens | undefined): void {
    const evaluated = tokens?.evaluated ?? 0;
    const generated = tokens?.generated ?? 0;
    this.counters.evaluated += evaluated;
    this.counters.generated += generated;
    this.owner.counters.evaluated += evaluated;
    this.owner.counters.generated += generated;
  }
}

class RemoteBackend implements Backend {
  readonly counters: TokenCounters = { evaluated: 0, generated: 0 };
  readonly info: BackendInfo;
  readonly parallel: number;
  /** The scorer tokenizes the same prefixes many times (context checks, cost accounting). */
  private readonly tokenCache = new Map<string, number[]>();

  /** Spread into every request body: which model of the pair, if any. */
  readonly which: { model?: RemoteModelRole };

  constructor(
    private readonly client: RemoteClient,
    model: RemoteModelInfo,
    role?: RemoteModelRole,
  ) {
    const pair = model.pair;
    const name = role && pair ? pair[role] : model.name;
    const contextSize = role && pair ? pair[role === "policy" ? "policy_context_size" : "reference_context_size"] : model.context_size;
    this.info = { kind: "remote", model: name, device: "remote", contextSize, threads: model.threads };
    this.parallel = Math.max(1, model.parallel);
    this.which = role ? { model: role } : {};
    this.pair = pair;
  }

  /** The server's pair, when it has one (servedPair). */
  readonly pair: RemotePairInfo | undefined;

  async tokenize(text: string): Promise<number[]> {
    const hit = this.tokenCache.get(text);
    if (hit) return hit;
    const body: TokenizeRequest = { text, ...this.which };
    const res = await this.client.post<TokenizeResponse>("/v1/backend/tokenize", body);
    if (!Array.isArray(res.tokens)) throw new BackendError(`steplens serve at ${this.client.url} sent no tokens`, "backend");
    if (this.tokenCache.size >= 20_000) this.tokenCache.delete(this.tokenCache.keys().next().value as string);
    this.tokenCache.set(text, res.tokens);
    return res.tokens;
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    const body: DetokenizeRequest = { tokens: [...tokens], ...this.which };
    const res = await this.client.post<DetokenizeResponse>("/v1/backend/detokenize", body);
    if (typeof res.text !== "string") throw new BackendError(`steplens serve at ${this.client.url} sent no text`, "backend");
    return res.text;
  }

  async tokenOffsets(text: string, tokens: readonly number[]): Promise<number[]> {
    const body: TokenOffsetsRequest = { text, tokens: [...tokens], ...this.which };
    const res = await this.client.post<TokenOffsetsResponse>("/v1/backend/token-offsets", body);
    if (!Array.isArray(res.offsets) || res.offsets.length !== tokens.length + 1) {
      throw new BackendError(`steplens serve at ${this.client.url} sent ${Array.isArray(res.offsets) ? res.offsets.length : "no"} token offsets for ${tokens.length} tokens`, "backend");
    }
    return res.offsets;
  }

  openSession(): Promise<BackendSession> {
    // The server's own queue does the waiting.
    return Promise.resolve(new RemoteSession(this.client, this));
  }

  dispose(): Promise<void> {
    this.tokenCache.clear();
    return Promise.resolve();
  }
}

export async function connectRemote(url: string, options: RemoteOptions = {}): Promise<Backend> {
  const client = new RemoteClient(url, options);
  const info = await fetchModelInfo(client, options.signal);
  if (options.model && !info.pair) {
    throw new BackendError(
      `steplens serve at ${client.url} holds one model (${info.name}), not Implicit PRM's pair: start it with \`steplens serve --model POLICY --reference-model REF\``,
      "backend",
    );
  }
  return new RemoteBackend(client, info, options.model);
}

/** The Implicit PRM pair a remote backend's server holds (its names and β), if it is one. */
export function servedPair(backend: Backend): RemotePairInfo | undefined {
  return backend instanceof RemoteBackend ? backend.pair : undefined;
}

/** For a status bar: never throws. */
export async function probeRemote(url: string, token?: string, options: { timeoutMs?: number } = {}): Promise<RemoteProbe> {
  let client: RemoteClient;
  try {
    client = new RemoteClient(url, { token, timeoutMs: options.timeoutMs ?? 5000, retries: 0 });
  } catch (err) {
    return { state: "unreachable", url, message: (err as Error).message };
  }
  try {
    return { state: "reachable", url: client.url, model: await fetchModelInfo(client) };
  } catch (err) {
    const message = (err as Error).message;
    const kind = failureKind(err);
    if (kind === "unauthorized" || kind === "incompatible") return { state: kind, url: client.url, message };
    return { state: "unreachable", url: client.url, message };
  }
}

async function errorDetail(res: Response): Promise<{ code?: string; detail: string }> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (body.error && typeof body.error.message === "string") {
      return { code: typeof body.error.code === "string" ? body.error.code : undefined, detail: body.error.message };
    }
  } catch {
    // not JSON: a proxy's error page
  }
  return { detail: text.slice(0, 200).trim() };
}

function networkCode(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

