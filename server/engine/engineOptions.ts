// The options every front end (CLI, language server, benchmarks) passes to build an engine, with the
// defaults in one place so that the CLI flags and the editor settings cannot drift apart.

import type { GpuSetting } from "./backend/llamaCpp.js";
import { openBackend } from "./backend/create.js";
import { servedPair, type RemoteModelRole } from "./backend/remote.js";
import { defaultModelPath } from "./backend/modelPath.js";
import { defaultModelsDir, findCachedModel, isModelSource } from "./models/modelCache.js";
import type { Backend } from "./backend/types.js";
import type { PoolEvent } from "./backend/pool.js";
import { CpmiScorer, DEFAULT_CPMI, type CpmiConfig } from "./cpmi/scorer.js";
import { NEUTRAL_CALIBRATION, type Calibration } from "./cpmi/softLabels.js";
import { findCalibration } from "./cpmi/calibrations.js";
import { calibrationConfigKey, modelIdentity } from "./cpmi/calibrationKey.js";
import { checkOption, GPU_MODES, optionProblem, type OptionName, type OptionValue } from "./optionRules.js";
import { PromptFormatError, resolvePromptFormat, resolveTemplates, UnknownTemplateError, type PromptFormat } from "./cpmi/templates.js";
import { isPairMethod, type StepMethod } from "./methods/stepMethods.js";
import { DEFAULT_MC, MonteCarloScorer } from "./mc/monteCarlo.js";
import { DEFAULT_BETA, ImplicitPrmScorer, implicitCalibration, lazyReference } from "./implicit/implicitPrm.js";
import { checkPair } from "./implicit/pair.js";

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
  /** How steps are scored: cpmi (default), mc, cpmi_merge, rand_merge, implicit or cpmi_implicit (see methods/stepMethods.ts). */
  method?: string;
  /**
   * Several methods scored side by side (the editor's steplens.methods); replaces `method`, whose
   * place the first one takes: it decides verdicts, the others are shown beside it and compared.
   */
  methods?: string[];
  /** Implicit PRM: the reference model π_ref (the policy π_θ is modelPath). Loaded on first use. */
  referenceModelPath?: string;
  /** Implicit PRM: β of the pair (default 0.05). */
  beta?: number;
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
  const promptFormat = options.promptFormat == null ? undefined : valid("promptFormat", options.promptFormat, "--prompt-format");
  // The names are checked here, before a model loads; chat templates are bound to the model's chat
  // template once it is loaded (createEngine).
  let templates: ReturnType<typeof resolveTemplates>;
  try {
    templates = resolveTemplates(options.templates ?? "default", { format: promptFormat === "chat" ? "chat" : "raw" });
  } catch (err) {
    throw err instanceof PromptFormatError ? new OptionError(err.message) : err;
  }
  const negativeWeights = valid("negativeWeights", options.negativeWeights ?? DEFAULT_CPMI.negativeWeights, "--negative-weights");
  const negativesFrom = valid("negativesFrom", options.negativesFrom ?? DEFAULT_CPMI.negativesFrom, "--negatives-from");
  const config: CpmiConfig = {
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
    aggregation,
    calibration: NEUTRAL_CALIBRATION,
  };
  // One scale per model file and reward settings, whoever asks (cpmi/calibrations.ts). A chat
  // template's text is known only once the model is (its chat template): createEngine looks the
  // scale up again after binding the templates, and says there what a model without one lacks.
  if (options.calibration) config.calibration = options.calibration;
  else if (templates.every((t) => t.format !== "chat")) config.calibration = findCalibration(modelIdentity(modelPath), calibrationConfigKey(config));
  return config;
}

/** The methods an engine scores with: `methods` when given, else `method` (default cpmi); checked by their rules. */
export function methodsOf(options: Pick<EngineOptions, "method" | "methods">): StepMethod[] {
  if (options.methods != null) return valid("methods", options.methods, "methods");
  return [valid("method", options.method ?? "cpmi", "--method")];
}

/**
 * Implicit PRM's options, checked before any model loads: a pair method needs a reference, a
 * reference needs a pair method (silently ignoring it would let a user think they got Implicit PRM),
 * and β must be positive (β ≤ 0 flips or erases every reward). With --backend remote both models
 * are the server's (`steplens serve --reference-model`): no local reference, and β defaults to the
 * server's (`given` false: no --beta).
 */
export function implicitOptionsFrom(options: Pick<EngineOptions, "method" | "methods" | "referenceModelPath" | "beta" | "backend" | "endpoints">): { beta: number; given: boolean } {
  const given = options.beta != null;
  const beta = given ? valid("beta", options.beta, "--beta") : DEFAULT_BETA;
  const methods = methodsOf(options);
  const pairMethod = methods.find((m) => isPairMethod(m));
  const backend = options.backend ?? "local";
  if (pairMethod && backend === "remote") {
    if (options.referenceModelPath) {
      throw new OptionError(`with --backend remote both models of method ${pairMethod} are the server's: drop --reference-model (start the server with \`steplens serve --model POLICY --reference-model REF\`)`);
    }
    // A pool (pool.ts) carries one model per endpoint and no per-token log-probabilities.
    if ((options.endpoints?.length ?? 0) > 1) throw new OptionError(`method ${pairMethod} over --backend remote takes one --endpoint (a steplens serve holding both models), not ${options.endpoints!.length}`);
    return { beta, given };
  }
  if (pairMethod && backend !== "local") {
    // Each such endpoint serves one model, and nothing names which one would be the reference or
    // takes the token ids both models must score; steplens serve holds the pair and does.
    throw new OptionError(
      `method ${pairMethod} needs both models of the pair behind one server: --backend ${backend} serves one model per endpoint and StepLens cannot pair two of them; run \`steplens serve --model POLICY --reference-model REF\` and use --backend remote`,
    );
  }
  if (pairMethod && !options.referenceModelPath) {
    throw new OptionError(`method ${pairMethod} needs the reference model π_ref: pass --reference-model PATH (the model the policy --model was trained from)`);
  }
  if (!pairMethod && options.referenceModelPath) {
    throw new OptionError(`--reference-model is used only by --method implicit (or cpmi_implicit); add --method implicit (--model is then the policy) or drop --reference-model`);
  }
  return { beta, given };
}

export interface Engine {
  backend: Backend;
  scorer: CpmiScorer;
  modelPath: string;
  /** How steps are scored (EngineOptions.method, or the first of `methods`); CPMI terms are computed for every method. */
  method: StepMethod;
  /** Every method this engine scores with, `method` first (EngineOptions.methods); absent: `method` alone. */
  methods?: StepMethod[];
  /** The Monte Carlo scorer, for the methods that roll out (mc, cpmi_merge, rand_merge). */
  mc?: MonteCarloScorer;
  /**
   * Implicit PRM (pair methods). implicit: `backend` is its policy, the reference loads on first use.
   * cpmi_implicit: `backend` is the reference (CPMI's model) and the policy has its own backend.
   */
  implicit?: ImplicitPrmScorer;
  /** Implicit PRM's reference model file (pair methods); with --backend remote, the server's reference's name. */
  referenceModelPath?: string;
  /** The prompts the templates write: the model's chat template or raw completion text. */
  promptFormat?: PromptFormat;
  dispose(): Promise<void>;
}

export async function createEngine(options: EngineOptions): Promise<Engine> {
  const modelPath = await localModelPath(options);
  if (options.gpu != null) valid("gpu", options.gpu, "--gpu");
  if (options.gpuLayers != null) valid("gpuLayers", options.gpuLayers, "--gpu-layers");
  const methods = methodsOf(options);
  const implicitOptions = implicitOptionsFrom(options);
  const kind = valid("backend", options.backend ?? "local", "--backend");
  const remote = kind === "remote";
  const pair = methods.some((m) => isPairMethod(m));
  // With a pair, CPMI and every method built on it run on the reference, the base model the policy
  // was tuned from (a reward-tuned policy is not the language model CPMI reads beliefs from); that
  // one model then serves CPMI and the pair, one context. Implicit PRM alone keeps the policy as the
  // engine's model and loads the reference on first use.
  const combined = pair && methods.some((m) => m !== "implicit");
  const cpmiModel = combined && !remote ? options.referenceModelPath! : modelPath;
  const config = cpmiConfigFrom(options, cpmiModel);
  // Both files' vocabularies are compared from their headers before either model loads (a server
  // compared its own pair when it started).
  if (pair && !remote) await checkPair(modelPath, options.referenceModelPath!);
  if (kind !== "local" && !(options.endpoints && options.endpoints.length > 0)) {
    throw new OptionError(`backend "${kind}" needs the server's address: pass --endpoint URL (or set steplens.remote.url)`);
  }
  if (options.maxInFlight != null) valid("maxInFlight", options.maxInFlight, "--max-in-flight");
  if (options.timeoutMs != null) valid("timeoutMs", options.timeoutMs, "--timeout");
  const onePass = pair && !combined;
  const rollouts = methods.some((m) => m === "mc" || m === "cpmi_merge" || m === "rand_merge");
  const server = { endpoints: options.endpoints, token: options.token, timeoutMs: options.timeoutMs };
  const backend = await openBackend({
    kind,
    modelPath: cpmiModel,
    maxInFlight: options.maxInFlight,
    onPoolEvent: options.onPoolEvent,
    ...server,
    gpu: options.gpu ?? "auto",
    gpuLayers: options.gpuLayers,
    threads: options.threads,
    contextSize: options.contextSize,
    reusePrefix: !options.naive,
    // Monte Carlo methods fork their rollouts into the same branches. Implicit PRM needs one
    // sequence per lane (its single pass), so its policy context stays as small as the reference's.
    branches: onePass ? 1 : Math.max(config.samplesPerPrefix, config.negatives + 1, rollouts ? DEFAULT_MC.rollouts : 1),
    // `default` is three templates in either prompt format, which is known only once the model is.
    walkers: onePass ? 1 : walkersFor(options.templates ?? "default", config.templates.length),
    // A server takes as many requests at once as --max-in-flight allows, also with one endpoint.
    parallel: options.parallel ?? (kind !== "local" ? options.maxInFlight : undefined),
    signal: options.signal,
    role: pair && remote ? (combined ? "reference" : "policy") : undefined,
  });
  let promptFormat: PromptFormat;
  try {
    promptFormat = bindTemplates(config, options, backend);
  } catch (err) {
    await backend.dispose();
    throw err instanceof PromptFormatError || err instanceof UnknownTemplateError ? new OptionError(err.message) : err;
  }
  // The calibration's key names the templates, which are bound only now (chat or raw); a server names
  // its model only once connected (the editor sends no model path): its soft labels must use that
  // model's calibration, as the same model run locally does.
  if (!options.calibration) config.calibration = findCalibration(modelIdentity(kind !== "local" ? backend.info.model : cpmiModel), calibrationConfigKey(config));
  const method = methods[0]!;
  const mc = rollouts ? new MonteCarloScorer(backend, DEFAULT_MC) : undefined;
  let implicit: ImplicitPrmScorer | undefined;
  let reference: ReturnType<typeof lazyReference> | undefined;
  let policy: Backend | undefined;
  let referenceName = options.referenceModelPath;
  if (pair) {
    const served = servedPair(backend);
    // Each model has its own context (nothing is shared but the tokenizer), on the same device
    // settings, so --gpu and --gpu-layers apply to both. Remotely, each is a view of the server's pair.
    const open = (path: string, role: RemoteModelRole): Promise<Backend> =>
      remote
        ? openBackend({ kind, modelPath: "", ...server, role })
        : openBackend({
            kind: "local",
            modelPath: path,
            gpu: options.gpu ?? "auto",
            gpuLayers: options.gpuLayers,
            threads: options.threads,
            contextSize: options.contextSize,
            branches: 1,
            walkers: 1,
            parallel: backend.parallel,
          });
    if (served) referenceName = served.reference;
    // β is the pair's: a server's own unless the user gave one.
    const beta = implicitOptions.given || !served ? implicitOptions.beta : served.beta;
    const implicitConfig = { beta, calibration: implicitCalibration(beta), threshold: config.threshold, aggregation: config.aggregation };
    if (combined) {
      policy = await open(modelPath, "policy").catch(async (err: unknown) => {
        await backend.dispose();
        throw err;
      });
      implicit = new ImplicitPrmScorer(policy, () => Promise.resolve(backend), implicitConfig);
    } else {
      // The reference is loaded on first use: an engine that never scores costs one model.
      reference = lazyReference(() => open(options.referenceModelPath ?? "", "reference"));
      implicit = new ImplicitPrmScorer(backend, reference, implicitConfig);
    }
  }
  const dispose = async (): Promise<void> => {
    await reference?.dispose();
    await policy?.dispose();
    await backend.dispose();
  };
  return { backend, scorer: new CpmiScorer(backend, config), modelPath, method, methods, mc, implicit, referenceModelPath: pair ? referenceName : undefined, promptFormat, dispose };
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

/** The most templates `spec` can stand for in either prompt format (one walker each). */
function walkersFor(spec: string, known: number): number {
  try {
    return Math.max(known, resolveTemplates(spec, { format: "chat" }).length);
  } catch (err) {
    // `reference` has no chat form: the raw count is the count.
    if (err instanceof PromptFormatError) return known;
    throw err;
  }
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
