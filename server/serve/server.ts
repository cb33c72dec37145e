// `steplens serve`'s HTTP server: routing, auth, cancellation and graceful shutdown around one engine.
// Node's http module is enough: a dozen JSON routes, no templates, no middleware chains.

import http, { type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { BestOfN } from "../engine/bon/bestOfN.js";
import { BackendError, type Backend } from "../engine/backend/types.js";
import { OptionError, type Engine } from "../engine/engineOptions.js";
import { REMOTE_API_VERSION, type RemoteModelInfo } from "../engine/backend/remote.js";
import { VERSION } from "../version.js";
import { authorized } from "./auth.js";
import { ClientGone, drainable, HttpError, readJson, sendError, sendJson, urlForLog } from "./http.js";
import { applyCors, checkContentType, checkRequester, normalizeOrigin, type RequestPolicy } from "./requestGuard.js";
import { JobCancelled, JobQueue, shuttingDown } from "./jobQueue.js";
import { DEFAULT_LIMITS, type ServeLimits } from "./limits.js";
import type { ServeContext } from "./context.js";
import { handleBon, handleScore } from "./score.js";
import { handleLabel } from "./label.js";
import { handleContinuations, handleDetokenize, handleEntropies, handleSample, handleTokenize, handleTokenLogprobs, handleTokenOffsets } from "./backendRoutes.js";
import { pairInfo, servedMethods } from "./methods.js";

export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** undefined: no token required. */
  token?: string;
  limits?: Partial<ServeLimits>;
  /** Jobs running at once (default: the backend's lanes). */
  concurrency?: number;
  /** One line per request and per notable event; nothing by default. */
  log?: (line: string) => void;
  /** Origins of browser-based clients allowed to call (--allow-origin); every other Origin gets 403. */
  allowOrigins?: readonly string[];
  /** More names the Host header may carry when bound to loopback (--allow-host). */
  allowHosts?: readonly string[];
}

export interface RunningServer {
  url: string;
  port: number;
  queue: JobQueue;
  /**
   * Graceful shutdown: refuse new work (503), let running and queued jobs finish for `graceMs`, then
   * fail what is left with 503 and close. Does not dispose the engine (its owner does).
   */
  shutdown(graceMs: number): Promise<{ drained: boolean }>;
}

type JsonRoute = (ctx: ServeContext, body: unknown, signal: AbortSignal) => Promise<unknown>;

const JSON_ROUTES: Record<string, JsonRoute> = {
  "/v1/score": handleScore,
  "/v1/bon": handleBon,
  "/v1/backend/tokenize": (ctx, body) => handleTokenize(ctx, body),
  "/v1/backend/continuations": handleContinuations,
  "/v1/backend/sample": handleSample,
  "/v1/backend/entropies": handleEntropies,
  "/v1/backend/detokenize": (ctx, body) => handleDetokenize(ctx, body),
  "/v1/backend/token-offsets": (ctx, body) => handleTokenOffsets(ctx, body),
  "/v1/backend/token-logprobs": handleTokenLogprobs,
};
const GET_ROUTES = new Set(["/health", "/v1/model", "/v1/metrics"]);

/** `reference`: Implicit PRM's reference model, loaded, on a server with a pair. */
export function modelInfo(engine: Engine, limits: ServeLimits, maxQueue: number, reference?: Backend): RemoteModelInfo {
  const { info } = engine.backend;
  const c = engine.scorer.config;
  return {
    api_version: REMOTE_API_VERSION,
    version: VERSION,
    name: path.basename(info.model),
    kind: info.kind,
    device: info.device,
    context_size: info.contextSize,
    threads: info.threads,
    parallel: engine.backend.parallel,
    engine: {
      templates: c.templates.map((t) => t.name),
      negatives: c.negatives,
      samples: c.samplesPerPrefix,
      seed: c.seed,
      threshold: c.threshold,
      aggregation: c.aggregation,
      negative_weights: c.negativeWeights,
    },
    limits: {
      max_body_bytes: limits.maxBodyBytes,
      max_steps: limits.maxSteps,
      max_chars: limits.maxChars,
      max_queue: maxQueue,
      max_label_records: limits.maxLabelRecords,
    },
    methods: servedMethods(engine),
    ...pairInfo(engine, reference),
  };
}

export async function startServer(engine: Engine, options: ServeOptions): Promise<RunningServer> {
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const queue = new JobQueue(Math.max(1, options.concurrency ?? engine.backend.parallel), limits.maxQueue);
  const ctx: ServeContext = { engine, bon: BestOfN.of(engine.scorer), queue, limits };
  // A pair's reference is loaded before the server answers: /v1/model describes both models, and
  // the first request must not pay for a model load.
  const reference = engine.implicit ? await engine.implicit.reference() : undefined;
  const log = options.log ?? (() => {});
  const stopping = new AbortController();
  const started = Date.now();
  const policy: RequestPolicy = {
    bindHost: options.host,
    allowHosts: (options.allowHosts ?? []).map((h) => h.toLowerCase()),
    allowOrigins: (options.allowOrigins ?? []).map((o) => {
      const normal = normalizeOrigin(o);
      if (normal === undefined) throw new OptionError(`--allow-origin ${JSON.stringify(o)} is not an origin: give scheme://host[:port], e.g. http://localhost:5173`);
      return normal;
    }),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Before the token, the route or the body: a web page gets nothing, not even a 404 or a 401.
    const origin = checkRequester(req, policy);
    if (origin !== undefined && applyCors(req, res, origin)) return;
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://serve.invalid");
    } catch {
      throw new HttpError(400, "invalid-request", "malformed request URL");
    }
    const route = url.pathname.replace(/\/+$/, "") || "/";
    if (route === "/health") {
      if (req.method !== "GET") throw new HttpError(405, "method-not-allowed", "use GET /health");
      if (queue.isClosed) throw shuttingDown();
      return sendJson(res, 200, { status: "ok" });
    }
    const isGet = GET_ROUTES.has(route);
    const jsonRoute = JSON_ROUTES[route];
    if (!isGet && !jsonRoute && route !== "/v1/label") throw new HttpError(404, "not-found", `no endpoint ${route}; see docs/serve.md for the API`);
    if (!authorized(req, options.token)) {
      const inUrl = url.search ? "; a token in the URL is not accepted (URLs end up in logs and proxies)" : "";
      throw new HttpError(401, "unauthorized", `missing or wrong bearer token: send Authorization: Bearer <token> (the token steplens serve printed or stored)${inUrl}`, {
        "www-authenticate": 'Bearer realm="steplens"',
      });
    }
    const expected = isGet ? "GET" : "POST";
    if (req.method !== expected) throw new HttpError(405, "method-not-allowed", `use ${expected} ${route}`, { allow: expected });
    if (route === "/v1/model") return sendJson(res, 200, modelInfo(engine, limits, limits.maxQueue, reference));
    if (route === "/v1/metrics") {
      return sendJson(res, 200, {
        queue: queue.stats(),
        tokens: { evaluated: engine.backend.counters.evaluated, generated: engine.backend.counters.generated },
        uptime_s: Math.round((Date.now() - started) / 1000),
      });
    }
    checkContentType(req, route, route === "/v1/label");
    if (queue.isClosed) throw shuttingDown();
    // The client going away (its socket closing before our answer is written) cancels its job.
    const gone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) gone.abort();
    });
    const signal = AbortSignal.any([gone.signal, stopping.signal]);
    if (route === "/v1/label") return handleLabel(ctx, req, res, signal);
    const body = await readJson(req, limits.maxBodyBytes);
    sendJson(res, 200, await jsonRoute!(ctx, body, signal));
  };

  const server = http.createServer((req, res) => {
    const t0 = Date.now();
    const what = `${req.method} ${urlForLog(req.url)}`;
    res.on("finish", () => log(`${what} ${res.statusCode} ${Date.now() - t0} ms`));
    handle(req, res).catch((err: unknown) => {
      const e = toHttpError(err, stopping.signal.aborted);
      if (!e) {
        // The client is gone; nobody reads an answer. One line, no stack: it is not our failure.
        const when = err instanceof ClientGone ? `before its request body arrived (${err.received} bytes)` : "before its answer; its job was cancelled";
        log(`${what}: the client closed the connection ${when} (${Date.now() - t0} ms)`);
        return;
      }
      if (e.status >= 500 && e.status !== 503) log(`error on ${what}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      // A body the server refused unread may still be arriving: one of a known, bounded size is read
      // to its end so the client gets this answer (a closed connection would reach it as a reset);
      // any other is cut, the connection closed after the answer.
      if ((e.status === 413 || e.status === 415 || e.status === 403) && !drainable(req, limits.maxBodyBytes)) e.headers.connection = "close";
      if (res.headersSent) res.end();
      else sendError(res, e);
    });
  });
  // Slow-loris guard: a request must arrive whole within a minute.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;

  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    queue,
    async shutdown(graceMs: number) {
      queue.close();
      // Stop accepting connections; idle keep-alive ones go now, busy ones after their answer.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const drained = await queue.whenIdle(graceMs);
      if (!drained) {
        log(`grace period of ${graceMs} ms over: failing ${queue.stats().waiting} waiting and cancelling ${queue.stats().running} running jobs`);
        queue.failWaiting();
        stopping.abort();
        await queue.whenIdle(10_000);
      }
      // Answers are written; what remains open are idle keep-alive sockets.
      setTimeout(() => server.closeAllConnections(), 1000).unref();
      await closed;
      return { drained };
    },
  };
}

/** undefined: the client went away and nobody will read the answer. */
function toHttpError(err: unknown, stopping: boolean): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (err instanceof ClientGone) return undefined;
  if (err instanceof JobCancelled) return stopping ? shuttingDown() : undefined;
  if (err instanceof BackendError) {
    if (err.code === "cancelled") return stopping ? shuttingDown() : undefined;
    if (err.code === "context-overflow") return new HttpError(400, "context-overflow", err.message);
    return new HttpError(500, "backend", err.message);
  }
  if (err instanceof OptionError) return new HttpError(400, "invalid-request", err.message);
  return new HttpError(500, "internal", `internal error: ${err instanceof Error ? err.message : String(err)}`);
}
