// The options every front end (CLI, language server, benchmarks) passes to build an engine, with the
// defaults in one place so that the CLI flags and the editor settings cannot drift apart.

import type { GpuSetting } from "./backend/llamaCpp.js";
import { openBackend } from "./backend/create.js";
import { defaultModelPath } from "./backend/modelPath.js";
import type { Backend } from "./backend/types.js";
import type { PoolEvent } from "./backend/pool.js";
import type { Aggregation } from "./cpmi/aggregate.js";
import { CpmiScorer, DEFAULT_CPMI, type CpmiConfig } from "./cpmi/scorer.js";
import { NEUTRAL_CALIBRATION, type Calibration } from "./cpmi/softLabels.js";
import { knownCalibration } from "./cpmi/calibrations.js";
import { checkOption, GPU_MODES, optionProblem, type OptionName, type OptionValue } from "./optionRules.js";
import { resolveTemplates } from "./cpmi/templates.js";
import type { StepMethod } from "./methods/stepMethods.js";
import { DEFAULT_MC, MonteCarloScorer } from "./mc/monteCarlo.js";

export interface EngineOptions {
  modelPath?: string;
  gpu?: GpuSetting;
  threads?: number;
  contextSize?: number;
  /** "default", "reference", or comma-separated template names. */
  templates?: string;
  negatives?: number;
  samples?: number;
  seed?: number;
  negativeWeights?: string;
  /** "samples" (default) or "solution": see CpmiConfig.negativesFrom. */
  negativesFrom?: string;
  threshold?: number;
  aggregation?: string;
  calibration?: Calibration;
  /** Solutions scored at the same time (their tokens share llama.cpp batches). */
  parallel?: number;
  /** Evaluate every prefix from scratch (cost baseline). */
  naive?: boolean;
  /** How steps are scored: cpmi (default), mc, cpmi_merge or rand_merge (see methods/stepMethods.ts). */
  method?: string;
  /** Where the model runs: local (default), remote (steplens serve), openai, llama-server. */
  backend?: string;
  /** Server backends: base URLs; several spread the work over them. */
  endpoints?: string[];
  /** Server backends: bearer token / API key. */
  token?: string;
  /** Server backends: per-request timeout in milliseconds. */
  timeoutMs?: number;
  /** GPU layers to offload: "auto" or a count (0 = CPU only). */
  gpuLayers?: number | "auto";
  /** Several endpoints: requests in flight per endpoint (default 4; see backend/pool.ts). */
  maxInFlight?: number;
  /** Several endpoints: retries and endpoints taken out or back, for the front end to tell the user. */
  onPoolEvent?: (event: PoolEvent) => void;
  /** Aborts the model load (a language server shutting down mid-load). */
  signal?: AbortSignal;
}

export const GPU_SETTINGS: readonly GpuSetting[] = GPU_MODES;

export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptionError";
  }
}

/** `value` if the option's rule (optionRules.ts) takes it; otherwise an OptionError naming the flag. */
function valid<K extends OptionName>(name: K, value: unknown, flag: string): OptionValue<K> {
  const checked = checkOption(name, value);
  if (!checked.ok) throw new OptionError(optionProblem(flag, checked.expected, value));
  return checked.value;
}

/** Validates options that a user types, before any model is loaded. */
export function cpmiConfigFrom(options: EngineOptions, modelPath: string): CpmiConfig {
  const aggregation = valid("aggregation", options.aggregation ?? DEFAULT_CPMI.aggregation, "--aggregation");
  const negatives = valid("negatives", options.negatives ?? DEFAULT_CPMI.negatives, "--negatives");
  const samples = valid("samples", options.samples ?? DEFAULT_CPMI.samplesPerPrefix, "--samples");
  const threshold = valid("threshold", options.threshold ?? DEFAULT_CPMI.threshold, "--threshold");
  const templates = resolveTemplates(options.templates ?? "default");
  const negativeWeights = valid("negativeWeights", options.negativeWeights ?? DEFAULT_CPMI.negativeWeights, "--negative-weights");
  const negativesFrom = valid("negativesFrom", options.negativesFrom ?? DEFAULT_CPMI.negativesFrom, "--negatives-from");
  return {
    ...DEFAULT_CPMI,
    templates,
    negativesFrom,
    negatives,
    samplesPerPrefix: samples,
    seed: options.seed ?? DEFAULT_CPMI.seed,
    // The reference implementation's fill-up goes with its templates, so `--templates reference` reproduces it.
    fill: options.templates === "reference" ? "reference" : "heuristic",
    negativeWeights,
    threshold,
    aggregation: aggregation as Aggregation,
    calibration: options.calibration ?? knownCalibration(modelPath) ?? NEUTRAL_CALIBRATION,
  };
}

export interface Engine {
  backend: Backend;
  scorer: CpmiScorer;
  modelPath: string;
  /** How steps are scored (EngineOptions.method); CPMI terms are computed for every method. */
  method: StepMethod;
  /** The Monte Carlo scorer, for the methods that roll out (mc, cpmi_merge, rand_merge). */
  mc?: MonteCarloScorer;
  dispose(): Promise<void>;
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const modelPath = options.modelPath ?? defaultModelPath();
  if (options.gpu != null) valid("gpu", options.gpu, "--gpu");
  if (options.gpuLayers != null) valid("gpuLayers", options.gpuLayers, "--gpu-layers");
  const config = cpmiConfigFrom(options, modelPath);
  if (options.method != null) valid("method", options.method, "--method");
  const kind = valid("backend", options.backend ?? "local", "--backend");
  if (kind !== "local" && !(options.endpoints && options.endpoints.length > 0)) {
    throw new OptionError(`backend "${kind}" needs the server's address: pass --endpoint URL (or set steplens.remote.url)`);
  }
  if (options.maxInFlight != null) valid("maxInFlight", options.maxInFlight, "--max-in-flight");
  if (options.timeoutMs != null) valid("timeoutMs", options.timeoutMs, "--timeout");
  const backend = await openBackend({
    kind,
    modelPath,
    maxInFlight: options.maxInFlight,
    onPoolEvent: options.onPoolEvent,
    endpoints: options.endpoints,
    token: options.token,
    timeoutMs: options.timeoutMs,
    gpu: options.gpu ?? "auto",
    gpuLayers: options.gpuLayers,
    threads: options.threads,
    contextSize: options.contextSize,
    reusePrefix: !options.naive,
    // Monte Carlo methods fork their rollouts into the same branches.
    branches: Math.max(config.samplesPerPrefix, config.negatives + 1, options.method && options.method !== "cpmi" ? DEFAULT_MC.rollouts : 1),
    walkers: config.templates.length,
    // A server takes as many requests at once as --max-in-flight allows, also with one endpoint.
    parallel: options.parallel ?? (kind !== "local" ? options.maxInFlight : undefined),
    signal: options.signal,
  });
  // A server names its model only once connected (the editor sends no model path): its soft labels
  // must use that model's calibration, as the same model run locally does.
  if (kind !== "local" && !options.calibration) config.calibration = knownCalibration(backend.info.model) ?? NEUTRAL_CALIBRATION;
  const method = (options.method ?? "cpmi") as StepMethod;
  const mc = method === "cpmi" ? undefined : new MonteCarloScorer(backend, DEFAULT_MC);
  return { backend, scorer: new CpmiScorer(backend, config), modelPath, method, mc, dispose: () => backend.dispose() };
}
