// The options every front end (CLI, language server, benchmarks) passes to build an engine, with the
// defaults in one place so that the CLI flags and the editor settings cannot drift apart.

import type { GpuSetting } from "./backend/llamaCpp.js";
import { BACKEND_KINDS, isBackendKind, openBackend } from "./backend/create.js";
import { defaultModelPath } from "./backend/modelPath.js";
import { defaultModelsDir, findCachedModel, isModelSource } from "./models/modelCache.js";
import type { Backend } from "./backend/types.js";
import type { PoolEvent } from "./backend/pool.js";
import { isAggregation, type Aggregation } from "./cpmi/aggregate.js";
import { CpmiScorer, DEFAULT_CPMI, type CpmiConfig } from "./cpmi/scorer.js";
import { NEUTRAL_CALIBRATION, type Calibration } from "./cpmi/softLabels.js";
import { knownCalibration } from "./cpmi/calibrations.js";
import { PROMPT_FORMATS, PromptFormatError, resolvePromptFormat, resolveTemplates, UnknownTemplateError, type PromptFormat } from "./cpmi/templates.js";
import { isStepMethod, STEP_METHODS, type StepMethod } from "./methods/stepMethods.js";
import { DEFAULT_MC, MonteCarloScorer } from "./mc/monteCarlo.js";

export interface EngineOptions {
  modelPath?: string;
  gpu?: GpuSetting;
  threads?: number;
  contextSize?: number;
  /** "default", "reference", "chat", or comma-separated template names. */
  templates?: string;
  /** auto (default): the model's chat template when it has one, else raw completion prompts; chat; raw. */
  promptFormat?: string;
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
}

export const GPU_SETTINGS: readonly GpuSetting[] = ["auto", "off", "cuda", "vulkan", "metal"];

export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OptionError";
  }
}

/** Validates options that a user types, before any model is loaded. */
export function cpmiConfigFrom(options: EngineOptions, modelPath: string): CpmiConfig {
  const aggregation = options.aggregation ?? DEFAULT_CPMI.aggregation;
  if (!isAggregation(aggregation)) throw new OptionError(`unknown aggregation "${aggregation}": use min, mean, last or product`);
  const negatives = options.negatives ?? DEFAULT_CPMI.negatives;
  if (!Number.isInteger(negatives) || negatives < 1 || negatives > 64) throw new OptionError(`--negatives must be a whole number from 1 to 64, got ${negatives}`);
  const samples = options.samples ?? DEFAULT_CPMI.samplesPerPrefix;
  if (!Number.isInteger(samples) || samples < 0 || samples > 64) throw new OptionError(`--samples must be a whole number from 0 to 64, got ${samples}`);
  const threshold = options.threshold ?? DEFAULT_CPMI.threshold;
  if (!(threshold >= 0 && threshold <= 1)) throw new OptionError(`--threshold is a soft-label cut between 0 and 1, got ${threshold}`);
  if (options.promptFormat != null && !(PROMPT_FORMATS as readonly string[]).includes(options.promptFormat)) {
    throw new OptionError(`unknown prompt format "${options.promptFormat}": use ${PROMPT_FORMATS.join(", ")}`);
  }
  // The names are checked here, before a model loads; chat templates are bound to the model's chat
  // template once it is loaded (createEngine).
  let templates: ReturnType<typeof resolveTemplates>;
  try {
    templates = resolveTemplates(options.templates ?? "default", { format: options.promptFormat === "chat" ? "chat" : "raw" });
  } catch (err) {
    throw err instanceof PromptFormatError ? new OptionError(err.message) : err;
  }
  const negativeWeights = options.negativeWeights ?? DEFAULT_CPMI.negativeWeights;
  if (negativeWeights !== "frequency" && negativeWeights !== "uniform") throw new OptionError(`unknown --negative-weights "${negativeWeights}": use frequency or uniform`);
  const negativesFrom = options.negativesFrom ?? DEFAULT_CPMI.negativesFrom;
  if (negativesFrom !== "samples" && negativesFrom !== "solution") throw new OptionError(`unknown --negatives-from "${negativesFrom}": use samples or solution`);
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
  /** The prompts the templates write: the model's chat template or raw completion text. */
  promptFormat?: PromptFormat;
  dispose(): Promise<void>;
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const modelPath = await localModelPath(options);
  if (options.gpu && !GPU_SETTINGS.includes(options.gpu)) throw new OptionError(`unknown --gpu "${options.gpu}": use ${GPU_SETTINGS.join(", ")}`);
  const config = cpmiConfigFrom(options, modelPath);
  if (options.method != null && !isStepMethod(options.method)) {
    throw new OptionError(`unknown method "${options.method}": use ${STEP_METHODS.join(", ")}`);
  }
  const kind = options.backend ?? "local";
  if (!isBackendKind(kind)) throw new OptionError(`unknown backend "${kind}": use ${BACKEND_KINDS.join(", ")}`);
  if (kind !== "local" && !(options.endpoints && options.endpoints.length > 0)) {
    throw new OptionError(`backend "${kind}" needs the server's address: pass --endpoint URL (or set steplens.remote.url)`);
  }
  if (options.maxInFlight != null && !(Number.isInteger(options.maxInFlight) && options.maxInFlight >= 1)) {
    throw new OptionError(`--max-in-flight must be a whole number of at least 1, got ${options.maxInFlight}`);
  }
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
    // `default` is three templates in either prompt format; `all` is more of the raw ones.
    walkers: Math.max(config.templates.length, resolveTemplates(options.templates ?? "default", { format: "chat" }).length),
    // A server takes as many requests at once as --max-in-flight allows, also with one endpoint.
    parallel: options.parallel ?? (kind !== "local" ? options.maxInFlight : undefined),
  });
  // A server names its model only once connected (the editor sends no model path): its soft labels
  // must use that model's calibration, as the same model run locally does.
  if (kind !== "local" && !options.calibration) config.calibration = knownCalibration(backend.info.model) ?? NEUTRAL_CALIBRATION;
  let promptFormat: PromptFormat;
  try {
    promptFormat = bindTemplates(config, options, backend);
  } catch (err) {
    await backend.dispose();
    throw err instanceof PromptFormatError || err instanceof UnknownTemplateError ? new OptionError(err.message) : err;
  }
  const method = (options.method ?? "cpmi") as StepMethod;
  const mc = method === "cpmi" ? undefined : new MonteCarloScorer(backend, DEFAULT_MC);
  return { backend, scorer: new CpmiScorer(backend, config), modelPath, method, mc, promptFormat, dispose: () => backend.dispose() };
}

/**
 * `--model hf:USER/REPO:QUANT` (or a URL) names a model in the cache that `steplens pull` filled.
 * Nothing is downloaded here: a model that was not pulled is an error that says how to pull it.
 */
async function localModelPath(options: EngineOptions): Promise<string> {
  const given = options.modelPath ?? defaultModelPath();
  if ((options.backend ?? "local") !== "local" || !isModelSource(given)) return given;
  const found = await findCachedModel(given);
  if (!found) {
    throw new OptionError(`model ${given} is not in the model cache (${defaultModelsDir()}); download it first with: steplens pull ${given}`);
  }
  return found;
}

/**
 * Resolves the template spec once the model is known: `default` (and `all`) become the chat set when
 * the prompt format is chat. A template named explicitly keeps its own format; one that contradicts
 * an explicit --prompt-format is an error rather than a silent switch.
 */
function bindTemplates(config: CpmiConfig, options: EngineOptions, backend: Backend): PromptFormat {
  const spec = options.templates ?? "default";
  const explicitReference = spec.split(",").some((n) => n.trim() === "reference");
  const format = explicitReference && options.promptFormat !== "chat" ? "raw" : resolvePromptFormat(options.promptFormat, backend.chat);
  config.templates = resolveTemplates(spec, { format, chat: backend.chat });
  for (const t of config.templates) {
    if (t.format === "chat" && !backend.chat) {
      throw new PromptFormatError(`template ${t.name} uses the model's chat template, and this model has none; use a raw template (steplens templates lists them)`);
    }
    if (options.promptFormat != null && options.promptFormat !== "auto" && t.format !== options.promptFormat) {
      throw new PromptFormatError(`template ${t.name} is a ${t.format} template but --prompt-format is ${options.promptFormat}; name templates of that format or use --prompt-format auto`);
    }
  }
  return config.templates.every((t) => t.format === "chat") ? "chat" : config.templates.every((t) => t.format === "raw") ? "raw" : format;
}
