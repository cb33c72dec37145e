// Flags shared by every command that loads a model, so `score`, `label` and `bench` agree.

import { InvalidArgumentError, Option, type Command } from "commander";
import type { EngineOptions } from "../engine/engineOptions.js";
import type { GpuSetting } from "../engine/backend/llamaCpp.js";
import { BACKEND_KINDS } from "../engine/backend/create.js";
import { checkOption, GPU_MODES, OPTION_RULES, type OptionName, type OptionValue } from "../engine/optionRules.js";

/** A commander parser that reads a flag by the engine's rule for it (optionRules.ts): one rule, three front ends. */
export function byRule<K extends OptionName>(name: K): (value: string) => OptionValue<K> {
  return (value) => {
    const checked = checkOption(name, value);
    if (!checked.ok) throw new InvalidArgumentError(`must be ${checked.expected}`);
    return checked.value;
  };
}

const choicesOf = (name: "negativesFrom" | "negativeWeights"): string[] => (OPTION_RULES[name].schema as unknown as { options: string[] }).options;

/**
 * Defaults differ by job. Scoring a file (`score`, the editor, `bon`) favours quality: three
 * templates and M = 4 negatives sampled after every prefix. Labeling a dataset (`label`, `bench`)
 * favours cost, where the CPMI paper's Table 1 puts it: one template and M = 1 negative read from
 * the solution's own results, no token generated (server/engine/methods/trajectoryNegatives.ts).
 */
export type FlagPreset = "scoring" | "labeling";

export const PRESETS: Record<FlagPreset, { templates: string; negatives: number; negativesFrom: string }> = {
  scoring: { templates: "default", negatives: 4, negativesFrom: "samples" },
  labeling: { templates: "question-answer-is", negatives: 1, negativesFrom: "solution" },
};

export function addEngineFlags(cmd: Command, preset: FlagPreset = "scoring"): Command {
  const d = PRESETS[preset];
  return cmd
    .option("-m, --model <path>", "GGUF model file, or a model pulled with `steplens pull` (hf:USER/REPO:QUANT) (default: ../shared/models/arith-demo-15m-f16.gguf, or $STEPLENS_MODEL)")
    .addOption(new Option("--gpu <mode>", "GPU use").choices(GPU_MODES).default("auto"))
    .option("--threads <n>", "CPU threads (default: $STEPLENS_THREADS, else all cores; give concurrent StepLens jobs a share each)", parseIntStrict)
    .option("--context <n>", "most context tokens per sequence (default: the model's training context; memory is taken as the texts need it)", parseIntStrict)
    .option("-t, --templates <names>", "answer-cue templates: default, reference, chat, or comma-separated names (see `steplens templates`)", d.templates)
    .option("--prompt-format <format>", "auto, chat or raw: prompts in the model's own chat template (chat), as raw completion text (raw), or chat when the GGUF has a chat template (auto)", byRule("promptFormat"), "auto")
    .option("--negatives <m>", "number of hard negatives M", byRule("negatives"), d.negatives)
    .addOption(new Option("--negatives-from <where>", "hard negatives: sampled from the model after every prefix (samples), or the results the solution's own steps compute (solution: no token generated)").choices(choicesOf("negativesFrom")).default(d.negativesFrom))
    .option("--samples <n>", "samples per prefix used to find hard negatives (--negatives-from samples)", byRule("samples"), 8)
    .option("--seed <n>", "sampling seed", parseIntStrict, 1234)
    .addOption(new Option("--negative-weights <how>", "average the negatives' gains by how often the model sampled them (frequency) or uniformly, as the reference implementation does").choices(choicesOf("negativeWeights")).default("frequency"))
    .option("--threshold <p>", "soft label under which a step counts as an error", byRule("threshold"))
    .option("--aggregation <how>", "solution score from step soft labels: min, mean, last, product", byRule("aggregation"), "min")
    .option("--naive", "evaluate every prefix from scratch (the cost baseline; same scores, slower)")
    .addOption(new Option("--backend <kind>", "where the model runs: local (llama.cpp here), remote (steplens serve), openai (OpenAI-compatible server, e.g. vLLM), llama-server").choices(BACKEND_KINDS).default("local"))
    .option("--endpoint <url>", "server address for a server backend; repeat to spread the work over several", collect, [] as string[])
    .option("--token <token>", "bearer token / API key for a server backend (default: $STEPLENS_TOKEN)")
    .option("--timeout <ms>", "per-request timeout for a server backend, in milliseconds", byRule("timeoutMs"))
    .option("--gpu-layers <n>", "model layers to offload to the GPU: a number, or auto (default)", byRule("gpuLayers"))
    .option("--max-in-flight <n>", "server backends: requests in flight per endpoint (default 4)", byRule("maxInFlight"));
}

/**
 * Implicit PRM's pair, for the commands that score steps (score, label, bon, bench): with
 * `--method implicit`, `--model` is the policy π_θ and `--reference-model` the reference π_ref.
 */
export function addImplicitFlags(cmd: Command): Command {
  return cmd
    .option("--reference-model <path>", "Implicit PRM (--method implicit): the reference model π_ref the policy --model was trained from (same tokenizer)")
    // Parsed as a number only: the engine checks β > 0 (implicitOptionsFrom) with the other Implicit PRM
    // options, so a bad β is a usage error (exit 2, "--beta must be …") before anything is written.
    .option("--beta <b>", "Implicit PRM: β of the pair, reward = β × Σ log π_θ/π_ref (default 0.05; with --backend remote, the server's)", parseFloatStrict);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export interface EngineFlagValues {
  model?: string;
  gpu: string;
  threads?: number;
  context?: number;
  templates: string;
  promptFormat?: string;
  negatives: number;
  samples: number;
  seed: number;
  negativeWeights: string;
  negativesFrom: string;
  threshold?: number;
  aggregation: string;
  naive?: boolean;
  backend: string;
  endpoint: string[];
  token?: string;
  timeout?: number;
  gpuLayers?: number | "auto";
  maxInFlight?: number;
  /** addImplicitFlags */
  referenceModel?: string;
  beta?: number;
}

export function engineOptionsFrom(flags: EngineFlagValues): EngineOptions {
  return {
    modelPath: flags.model,
    gpu: flags.gpu as GpuSetting,
    threads: flags.threads,
    contextSize: flags.context,
    templates: flags.templates,
    promptFormat: flags.promptFormat,
    negatives: flags.negatives,
    samples: flags.samples,
    seed: flags.seed,
    negativeWeights: flags.negativeWeights,
    negativesFrom: flags.negativesFrom,
    threshold: flags.threshold,
    aggregation: flags.aggregation,
    naive: flags.naive,
    backend: flags.backend,
    endpoints: flags.endpoint,
    token: flags.token ?? process.env.STEPLENS_TOKEN,
    timeoutMs: flags.timeout,
    gpuLayers: flags.gpuLayers,
    maxInFlight: flags.maxInFlight,
    referenceModelPath: flags.referenceModel,
    beta: flags.beta,
  };
}

export function parseIntStrict(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
  return n;
}

export function parseFloatStrict(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}
