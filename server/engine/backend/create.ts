// Where the model runs is decided here and nowhere else: the CLI, the language server and `steplens
// serve` all call openBackend, and everything above it sees only the Backend interface (types.ts).
// Each kind lives in its own file; a kind that talks to servers gets its endpoint list from
// EngineOptions.endpoints (several endpoints: the records are spread over them, see pool.ts).

import { LlamaCppBackend, type GpuSetting } from "./llamaCpp.js";
import { connectRemote } from "./remote.js";
import { OpenAiBackend } from "./openai.js";
import { LlamaServerBackend } from "./llamaServer.js";
import { defaultModelPath } from "./modelPath.js";
import { PoolBackend, POOL_DEFAULTS, isRetryable, type PoolEvent, type PoolMember } from "./pool.js";
import { BackendError, type Backend } from "./types.js";

export const BACKEND_KINDS = ["local", "remote", "openai", "llama-server"] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

export function isBackendKind(s: string): s is BackendKind {
  return (BACKEND_KINDS as readonly string[]).includes(s);
}

/** What openBackend needs; the engine fills in branches/walkers from its scoring configuration. */
export interface BackendSpec {
  kind: BackendKind;
  /** local: the GGUF file. Server kinds: the model name to ask for (OpenAI `model`), if any. */
  modelPath: string;
  /** Server kinds: base URLs (steplens serve: http://host:port; OpenAI-compatible: http://host:port/v1). */
  endpoints?: readonly string[];
  /** Server kinds: bearer token / API key. Never read from settings files by the editor (SecretStorage). */
  token?: string;
  /** Server kinds: per-request timeout in milliseconds. */
  timeoutMs?: number;
  gpu?: GpuSetting;
  /** Layers to offload to the GPU: "auto" (llama.cpp decides), or a count; 0 = CPU only. */
  gpuLayers?: number | "auto";
  threads?: number;
  contextSize?: number;
  reusePrefix?: boolean;
  branches?: number;
  walkers?: number;
  parallel?: number;
  /** Several endpoints: sessions (requests in flight) per endpoint; default 4 (pool.ts). */
  maxInFlight?: number;
  /** Several endpoints: retries, endpoints taken out and back, for the front end to show. */
  onPoolEvent?: (event: PoolEvent) => void;
  /** local: aborts the model load. */
  signal?: AbortSignal;
}

export async function openBackend(spec: BackendSpec): Promise<Backend> {
  // Every server kind connects to ONE endpoint; several are opened one by one and pooled here.
  if (spec.kind !== "local" && spec.endpoints && spec.endpoints.length > 1) return await openPool(spec, spec.endpoints);
  switch (spec.kind) {
    case "local":
      return await LlamaCppBackend.load({
        modelPath: spec.modelPath,
        gpu: spec.gpu ?? "auto",
        gpuLayers: spec.gpuLayers,
        threads: spec.threads,
        contextSize: spec.contextSize,
        reusePrefix: spec.reusePrefix,
        branches: spec.branches,
        walkers: spec.walkers,
        parallel: spec.parallel,
        signal: spec.signal,
      });
    case "remote":
      if (!spec.endpoints?.[0]) throw new Error('backend "remote" needs the address of a steplens serve: pass --endpoint URL');
      return await connectRemote(spec.endpoints[0], { token: spec.token, timeoutMs: spec.timeoutMs });
    case "openai":
      if (!spec.endpoints?.[0]) throw new Error('backend "openai" needs the server\'s API address: pass --endpoint http://host:port/v1');
      // The CLI fills modelPath with the demo GGUF when --model is absent: then ask the server.
      return await OpenAiBackend.connect({
        endpoint: spec.endpoints[0],
        model: spec.modelPath && spec.modelPath !== defaultModelPath() ? spec.modelPath : undefined,
        token: spec.token,
        timeoutMs: spec.timeoutMs,
        parallel: spec.parallel,
      });
    case "llama-server":
      if (!spec.endpoints?.[0]) throw new Error('backend "llama-server" needs the server\'s address: pass --endpoint http://127.0.0.1:8080');
      return await LlamaServerBackend.connect({ endpoint: spec.endpoints[0], token: spec.token, timeoutMs: spec.timeoutMs, parallel: spec.parallel });
    default:
      throw new Error(`backend "${spec.kind}" is not built yet`);
  }
}

/**
 * One backend per endpoint behind a PoolBackend. An endpoint that cannot be reached at start is left
 * out with a message (the run goes on with the others); if none can be reached, the first error is
 * what the user sees.
 */
async function openPool(spec: BackendSpec, endpoints: readonly string[]): Promise<Backend> {
  const opened = await Promise.allSettled(endpoints.map((url) => openBackend({ ...spec, endpoints: [url] })));
  const members: PoolMember[] = [];
  const failures: { url: string; err: unknown }[] = [];
  opened.forEach((r, i) => {
    if (r.status === "fulfilled") members.push({ name: endpoints[i]!, backend: r.value });
    else failures.push({ url: endpoints[i]!, err: r.reason });
  });
  const fatal = failures.find((f) => !isRetryable(f.err));
  if (members.length === 0 || fatal) {
    await Promise.all(members.map((m) => m.backend.dispose()));
    throw (fatal ?? failures[0]!).err;
  }
  const models = new Set(members.map((m) => m.backend.info.model));
  if (models.size > 1) {
    await Promise.all(members.map((m) => m.backend.dispose()));
    throw new BackendError(`the endpoints serve different models (${[...models].join(", ")}); scores would mix models, so point every --endpoint at the same model`, "backend");
  }
  for (const f of failures) {
    spec.onPoolEvent?.({ type: "down", endpoint: f.url, failures: 1, forMs: Infinity, error: f.err instanceof Error ? f.err.message : String(f.err) });
  }
  return new PoolBackend(members, { maxInFlight: spec.maxInFlight ?? POOL_DEFAULTS.maxInFlight, onEvent: spec.onPoolEvent });
}
