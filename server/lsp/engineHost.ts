// The one model the language server shares across documents: loaded once, reloaded when a setting
// that shapes it changes, and never disposed while a check still uses it. A model that cannot be
// loaded leaves the host in state "error" with a message naming the path and the setting; the
// server keeps running and a reload (request or settings change) tries again.

import os from "node:os";
import path from "node:path";
import type { ServerState, ServerStatus, StepLensSettings } from "../../protocol/index.js";
import { createEngine, type Engine, type EngineOptions } from "../engine/engineOptions.js";
import { BackendError } from "../engine/backend/types.js";
import { defaultModelPath } from "../engine/backend/modelPath.js";

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
 * they count on (measured 17x on 2 shared cores: 128 s with 2 threads, 7.5 s with 1).
 */
export function serverThreads(): number {
  return Math.max(1, Math.floor(os.availableParallelism() / 2));
}

export function engineOptionsOf(settings: StepLensSettings): EngineOptions {
  return {
    modelPath: modelPathOf(settings),
    threads: serverThreads(),
    gpu: settings.gpu,
    templates: settings.templates,
    negatives: settings.negatives,
    threshold: settings.threshold,
    aggregation: settings.aggregation,
  };
}

function loadFailureMessage(modelPath: string, err: unknown): string {
  if (err instanceof BackendError && err.code === "model-not-found") {
    return `StepLens cannot find its model: no file at ${modelPath}. Set "steplens.modelPath" to a GGUF model file, then reload.`;
  }
  const why = err instanceof Error ? err.message : String(err);
  return `StepLens cannot load the model ${modelPath}: ${why} Check the setting "steplens.modelPath", then reload.`;
}

export class EngineHost {
  private engine: Engine | undefined;
  private loading: Promise<void> | undefined;
  private state: ServerState = "starting";
  private message: string | undefined;
  private modelPath: string | undefined;
  private users = 0;
  private idleWaiters: (() => void)[] = [];
  private disposed = false;

  constructor(private readonly onStatus: (status: ServerStatus) => void) {}

  status(): ServerStatus {
    const s: ServerStatus = { state: this.state, busy: this.users };
    if (this.modelPath) {
      s.modelPath = this.modelPath;
      s.model = path.basename(this.modelPath);
    }
    if (this.engine) s.backend = backendName(this.engine);
    if (this.message) s.message = this.message;
    return s;
  }

  /** Loads (or reloads) the model. Callers abort their checks first; this waits for them to finish. */
  load(options: EngineOptions): Promise<void> {
    const previous = this.loading ?? Promise.resolve();
    const next = previous.then(() => this.doLoad(options));
    this.loading = next;
    void next.finally(() => {
      if (this.loading === next) this.loading = undefined;
    });
    return next;
  }

  private async doLoad(options: EngineOptions): Promise<void> {
    if (this.disposed) return;
    this.modelPath = options.modelPath;
    this.setState("loading");
    await this.idle();
    const old = this.engine;
    this.engine = undefined;
    await old?.dispose();
    try {
      this.engine = await createEngine(options);
      this.message = undefined;
      this.setState("ready");
    } catch (err) {
      this.message = loadFailureMessage(options.modelPath ?? "", err);
      this.setState("error");
    }
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
    this.onStatus(this.status());
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.loading?.catch(() => {});
    await this.idle();
    const engine = this.engine;
    this.engine = undefined;
    await engine?.dispose();
  }
}
