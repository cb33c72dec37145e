// The one model the language server shares across documents: loaded once, reloaded when a setting
// that shapes it changes, and never disposed while a check still uses it. A model that cannot be
// loaded leaves the host in state "error" with a message naming the path and the setting; the
// server keeps running and a reload (request or settings change) tries again.
//
// With a server backend (steplens.backend remote / openai / llama-server) the model may go away and
// come back: a server that cannot be reached or refuses the token puts the host in state
// "unreachable" / "unauthorized", and the host tries again by itself with backoff (remoteState.ts)
// until it connects, the settings change or the server shuts down. Callers get
// EngineUnavailableError meanwhile, so what the editor already shows stays.

import os from "node:os";
import path from "node:path";
import { DEFAULT_SETTINGS, type RemoteStatus, type ServerState, type ServerStatus, type StatusProblem, type StepLensSettings } from "../../protocol/index.js";
import { createEngine, type Engine, type EngineOptions } from "../engine/engineOptions.js";
import { BackendError } from "../engine/backend/types.js";
import { resolveThreads } from "../engine/backend/threads.js";
import { defaultModelPath } from "../engine/backend/modelPath.js";
import { methodsOf, pairLoadProblem } from "./pairSettings.js";
import { classifyRemoteFailure, isServerBackend, missingUrlMessage, retryDelayMs, unauthorizedMessage, unreachableMessage, type RemoteFailure } from "./remoteState.js";

/** Thrown to callers while the model is unavailable; the message is the one shown to the user. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineUnavailableError";
  }
}

const DEVICE_NAMES: Record<string, string> = { cpu: "CPU", cuda: "CUDA", vulkan: "Vulkan", metal: "Metal", remote: "remote" };

export function backendName(engine: Engine): string {
  return DEVICE_NAMES[engine.backend.info.device] ?? engine.backend.info.device;
}

export function modelPathOf(settings: StepLensSettings): string {
  return settings.modelPath ? path.resolve(settings.modelPath) : defaultModelPath();
}

/**
 * Half the cores: the server shares the machine with the editor (and whatever the user builds), and
 * llama.cpp's spinning threads slow down many times over when another busy process takes a core
 * they count on (two labels side by side on 2 cores: 145 s with 2 threads each, 7 s with 1;
 * bench/results/threads-oversubscribed).
 * $STEPLENS_THREADS overrides it, as it does for every StepLens process.
 */
export function serverThreads(env: NodeJS.ProcessEnv = process.env): number | undefined {
  try {
    return resolveThreads(undefined, Math.floor(os.availableParallelism() / 2), env);
  } catch {
    // Left to the model load, which refuses a malformed $STEPLENS_THREADS by name where the user sees it.
    return undefined;
  }
}

/** The model's name as scores and hovers show it: the GGUF file here, the served model's name remotely. */
export function modelNameOf(engine: Engine): string {
  return path.basename(isServerBackend(engine.backend.info.kind) ? engine.backend.info.model : engine.modelPath || engine.backend.info.model);
}

export function engineOptionsOf(settings: StepLensSettings, token?: string): EngineOptions {
  const server = isServerBackend(settings.backend)
    ? {
        backend: settings.backend,
        endpoints: settings.remote.url ? [settings.remote.url] : [],
        token: token || undefined,
        timeoutMs: settings.remote.timeoutMs,
      }
    : {};
  return {
    ...server,
    // A server backend names its model itself; steplens.modelPath is then the model to ask for (OpenAI `model`), if any.
    modelPath: isServerBackend(settings.backend) ? settings.modelPath : modelPathOf(settings),
    threads: serverThreads(),
    gpu: settings.gpu,
    gpuLayers: settings.gpuLayers,
    templates: settings.templates,
    promptFormat: settings.promptFormat,
    negatives: settings.negatives,
    threshold: settings.threshold,
    aggregation: settings.aggregation,
    method: settings.method,
    ...implicitOptionsOf(settings),
  };
}

/** steplens.methods, referenceModelPath and beta; a server's pair keeps its own β unless one is set. */
function implicitOptionsOf(settings: StepLensSettings): Pick<EngineOptions, "methods" | "referenceModelPath" | "beta"> {
  const out: Pick<EngineOptions, "methods" | "referenceModelPath" | "beta"> = {};
  if (settings.methods.length > 0) out.methods = methodsOf(settings);
  if (settings.referenceModelPath) out.referenceModelPath = path.resolve(settings.referenceModelPath);
  if (!(isServerBackend(settings.backend) && settings.beta === DEFAULT_SETTINGS.beta)) out.beta = settings.beta;
  return out;
}

/**
 * What the user reads when the model does not load, and the setting that fixes it. No "then reload":
 * the server reloads by itself when the setting changes. An empty steplens.modelPath falls back to a
 * demo model that only a development checkout has, so its absence is not named as a path.
 */
export function loadFailure(modelPath: string, err: unknown): { message: string; problem: StatusProblem } {
  const model = { setting: "steplens.modelPath" };
  const how = `Set "steplens.modelPath" to a GGUF model file (a model in llama.cpp's format); StepLens loads it as soon as the setting changes.`;
  if (err instanceof BackendError && err.code === "model-not-found") {
    if (modelPath === defaultModelPath() && !process.env.STEPLENS_MODEL) return { message: `StepLens has no model: "steplens.modelPath" is empty. ${how}`, problem: { ...model, summary: "no model set" } };
    return { message: `StepLens cannot find its model: no file at ${modelPath}. ${how}`, problem: { ...model, summary: `model file not found (${path.basename(modelPath)})` } };
  }
  const why = err instanceof Error ? err.message : String(err);
  // A GPU the machine lacks is the GPU setting's fault, not the model path's (see backend/gpu.ts).
  if (/^the GPU setting is/.test(why)) {
    return { message: `StepLens cannot start llama.cpp: ${why} Change "steplens.gpu"; StepLens tries again as soon as the setting changes.`, problem: { setting: "steplens.gpu", summary: "GPU setting cannot be used" } };
  }
  return { message: `StepLens cannot load the model ${modelPath}: ${why} ${how}`, problem: { ...model, summary: `model cannot be loaded (${path.basename(modelPath)})` } };
}

export interface EngineHostEvents {
  onStatus(status: ServerStatus): void;
  /** A server backend connected again after failures, on an automatic retry or in `use`. */
  onRecovered?(): void;
}

/** Backoff of the automatic reconnection; tests shorten it. */
export interface RetryPolicy {
  firstMs: number;
  maxMs: number;
}

interface RemoteConnection {
  url: string;
  kind: string;
  hasToken: boolean;
  failures: number;
  retryAt?: number;
}

function remoteFailureMessage(url: string, err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  return `StepLens cannot use the model server at ${url}: ${why.replace(/\.$/, "")}. Check "steplens.backend" and "steplens.remote.url", then run "StepLens: Retry Remote Connection".`;
}

export class EngineHost {
  private engine: Engine | undefined;
  private loading: Promise<void> | undefined;
  private state: ServerState = "starting";
  private message: string | undefined;
  private problem: StatusProblem | undefined;
  private modelPath: string | undefined;
  private users = 0;
  private idleWaiters: (() => void)[] = [];
  private disposed = false;
  /** Aborts a load in progress when the server shuts down: shutdown must not wait minutes for a big model. */
  private readonly disposal = new AbortController();
  private options: EngineOptions | undefined;
  private remote: RemoteConnection | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly events: EngineHostEvents;

  constructor(
    events: EngineHostEvents | ((status: ServerStatus) => void),
    private readonly retry: RetryPolicy = { firstMs: 1000, maxMs: 30_000 },
  ) {
    this.events = typeof events === "function" ? { onStatus: events } : events;
  }

  /** The loaded engine for quick reads that compute nothing (a hover's prompt text); undefined while one loads. */
  get current(): Engine | undefined {
    return this.loading ? undefined : this.engine;
  }

  status(): ServerStatus {
    const s: ServerStatus = { state: this.state, busy: this.users };
    if (this.remote) {
      const r: RemoteStatus = { url: this.remote.url, kind: this.remote.kind, hasToken: this.remote.hasToken, failures: this.remote.failures };
      if (this.remote.retryAt !== undefined) r.retryInMs = Math.max(0, this.remote.retryAt - Date.now());
      s.remote = r;
      if (this.engine) s.model = modelNameOf(this.engine);
    } else if (this.modelPath) {
      s.modelPath = this.modelPath;
      s.model = path.basename(this.modelPath);
    }
    if (this.engine) s.backend = backendName(this.engine);
    if (this.engine?.backend.info.deviceNote) s.deviceNote = this.engine.backend.info.deviceNote;
    if (this.message) s.message = this.message;
    if (this.problem && this.state === "error") s.problem = this.problem;
    return s;
  }

  /** Loads (or reloads) the model. Callers abort their checks first; this waits for them to finish. */
  load(options: EngineOptions): Promise<void> {
    this.cancelRetry();
    return this.enqueueLoad(options, false);
  }

  /** Tries the model server again now (the Retry command); a no-op unless it is unreachable or unauthorized. */
  retryNow(): Promise<void> {
    if (!this.options || (this.state !== "unreachable" && this.state !== "unauthorized")) return this.loading ?? Promise.resolve();
    this.cancelRetry();
    return this.enqueueLoad(this.options, true);
  }

  private enqueueLoad(options: EngineOptions, isRetry: boolean): Promise<void> {
    const previous = this.loading ?? Promise.resolve();
    const next = previous.then(() => this.doLoad(options, isRetry));
    this.loading = next;
    void next.finally(() => {
      if (this.loading === next) this.loading = undefined;
    });
    return next;
  }

  private async doLoad(options: EngineOptions, isRetry: boolean): Promise<void> {
    if (this.disposed) return;
    this.options = options;
    this.modelPath = options.modelPath;
    const server = isServerBackend(options.backend);
    const url = options.endpoints?.[0] ?? "";
    const sameServer = server && this.remote?.url === url && this.remote.kind === options.backend;
    this.remote = server
      ? { url, kind: options.backend!, hasToken: !!options.token, failures: sameServer && isRetry ? this.remote!.failures : 0 }
      : undefined;
    // An automatic retry keeps "unreachable" on the status bar instead of flashing "loading".
    if (!isRetry) this.setState("loading");
    await this.idle();
    const old = this.engine;
    this.engine = undefined;
    await old?.dispose();
    if (this.disposed) return;
    this.problem = undefined;
    if (server && !url) {
      this.message = missingUrlMessage(options.backend!);
      this.problem = { setting: "steplens.remote.url", summary: "no model server URL set" };
      this.setState("error");
      return;
    }
    const pairProblem = await pairLoadProblem(options);
    if (pairProblem) {
      this.message = pairProblem;
      // The editor's status offers to open the setting the message names (issue 12 item 2).
      this.problem = { setting: "steplens.referenceModelPath", summary: "reference model cannot be used" };
      this.setState("error");
      return;
    }
    try {
      const engine = await createEngine({ ...options, signal: this.disposal.signal });
      if (this.disposed) {
        // Loaded in spite of the abort (llama.cpp's start cannot be interrupted): let it go at once.
        await engine.dispose();
        return;
      }
      this.engine = engine;
      const recovered = (this.remote?.failures ?? 0) > 0;
      if (this.remote) this.remote.failures = 0;
      this.message = undefined;
      this.setState("ready");
      if (recovered) this.events.onRecovered?.();
    } catch (err) {
      if (this.disposed) return;
      const failure = server ? classifyRemoteFailure(err) : undefined;
      if (failure) this.remoteFailed(failure, err);
      else if (server) {
        this.message = remoteFailureMessage(url, err);
        this.problem = { setting: "steplens.remote.url", summary: "model server cannot be used" };
        this.setState("error");
      } else {
        ({ message: this.message, problem: this.problem } = loadFailure(options.modelPath ?? "", err));
        this.setState("error");
      }
    }
  }

  /** Records a connection failure, says what to do, and schedules the next attempt. */
  private remoteFailed(failure: RemoteFailure, err: unknown): void {
    const remote = this.remote!;
    this.cancelRetry();
    remote.failures++;
    const delay = retryDelayMs(remote.failures, this.retry.firstMs, this.retry.maxMs);
    remote.retryAt = Date.now() + delay;
    const why = err instanceof Error ? err.message : String(err);
    this.message = failure === "unauthorized" ? unauthorizedMessage(remote.url, remote.hasToken) : unreachableMessage(remote.url, why);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      remote.retryAt = undefined;
      if (this.options && !this.disposed) void this.enqueueLoad(this.options, true);
    }, delay);
    // The timer alone must not keep a process (CLI, tests) alive.
    this.retryTimer.unref();
    this.setState(failure);
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.remote) this.remote.retryAt = undefined;
  }

  /** Runs `fn` with the engine; waits for a load in progress. The busy count covers the call. */
  async use<T>(fn: (engine: Engine) => Promise<T>): Promise<T> {
    if (this.loading) await this.loading;
    const engine = this.engine;
    if (!engine) throw new EngineUnavailableError(this.message ?? "StepLens has not loaded a model yet");
    this.users++;
    this.setState("busy");
    try {
      return await fn(engine);
    } catch (err) {
      // The server went away (or started refusing the token) in the middle of the work.
      const failure = this.remote ? classifyRemoteFailure(err) : undefined;
      if (!failure) throw err;
      // The first caller to fail takes the engine down; the others running on it fail the same way.
      if (this.engine === engine) {
        this.engine = undefined;
        this.remoteFailed(failure, err);
        void this.idle().then(() => engine.dispose());
      }
      throw new EngineUnavailableError(this.message ?? "the model server is not available");
    } finally {
      this.users--;
      if (this.users === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
      if (this.engine) this.setState(this.users > 0 ? "busy" : "ready");
    }
  }

  private idle(): Promise<void> {
    return this.users === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private setState(state: ServerState): void {
    this.state = state;
    this.events.onStatus(this.status());
  }

  /** Stops: aborts a load in progress instead of waiting for it; waits only for the checks running now (already aborted by the caller). */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.disposal.abort();
    this.cancelRetry();
    await this.idle();
    const engine = this.engine;
    this.engine = undefined;
    await engine?.dispose();
  }
}
