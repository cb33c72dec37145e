import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { isBackendKind, openBackend } from "../../engine/backend/create.js";
import { describePoolEvent, type PoolEvent } from "../../engine/backend/pool.js";
import { defaultModelPath } from "../../engine/backend/modelPath.js";
import { aggregate } from "../../engine/cpmi/aggregate.js";
import { CpmiScorer } from "../../engine/cpmi/scorer.js";
import { cpmiConfigFrom, OptionError } from "../../engine/engineOptions.js";
import { BestOfN, bonBaselines, parseCandidates, type BonInputRecord } from "../../engine/bon/bestOfN.js";
import { LABEL_METHODS, SAMPLED_CPMI, runLabelingBench, stepTruth, type BenchRecord, type BenchResult, type LabelMethod } from "../../engine/bench/labelingBench.js";
import { benchMarkdown, distributionSvg, qualityCostSvg, ratioTable, bonTable, type BonSummary } from "../../engine/bench/report.js";
import { MonteCarloScorer, DEFAULT_MC } from "../../engine/mc/monteCarlo.js";
import { seededRandom } from "../../engine/merge/merge.js";
import { scoreStepsWith } from "../../engine/methods/stepMethods.js";
import { stripStepPrefix } from "../../engine/parse/index.js";
import { sameAnswer } from "../../engine/cpmi/negatives.js";
import { addEngineFlags, engineOptionsFrom, parseFloatStrict, parseIntStrict, type EngineFlagValues } from "../engineFlags.js";
import { fail, report } from "../report.js";

interface BenchFlags extends EngineFlagValues {
  data: string;
  records: number;
  bonData: string;
  bonRecords: number;
  reportDir?: string;
  json?: boolean;
  methods: string;
  parallel: number;
  rollouts: number;
  mcTemperature: number;
  mcMaxTokens: number;
  naiveRecords?: number;
  alsoSamples?: string;
}

const SHARED_DATA = (file: string): string => path.resolve(path.dirname(defaultModelPath()), "../data", file);

export function registerBench(program: Command): void {
  addEngineFlags(
    program
      .command("bench")
      .description("compare labeling methods (naive CPMI, CPMI, MC-N, CPMI-Merge, Rand_Merge) on the same records: quality, time and tokens, with ratios against MC as in the CPMI paper's Table 1")
      .option("--data <file>", "ProcessBench-style JSONL with gold_answer and label (default: ../shared/data/arith-processbench-dev.jsonl)")
      .option("--records <n>", "records to label with every method", parseIntStrict, 40)
      .option("--bon-data <file>", "Best-of-N JSONL {problem, candidates: [{text, is_correct}]} (default: ../shared/data/arith-bon-dev.jsonl)")
      .option("--bon-records <n>", "Best-of-N items to pick from with every method (0: skip)", parseIntStrict, 8)
      .option("--report-dir <dir>", "write report.md, distributions.svg, quality-cost.svg and results.json here")
      .option("--json", "print one JSON object {records, methods: {NAME: {auc, f1, wasserstein, seconds, tokens_evaluated, tokens_generated}}}")
      .option("--methods <names>", `comma-separated subset of ${LABEL_METHODS.join(", ")}`, LABEL_METHODS.join(","))
      .option("--parallel <n>", "records scored at the same time, per method", parseIntStrict, 4)
      .option("--rollouts <n>", "Monte Carlo rollouts per step", parseIntStrict, DEFAULT_MC.rollouts)
      .option("--mc-temperature <t>", "Monte Carlo sampling temperature", parseFloatStrict, DEFAULT_MC.temperature)
      .option("--mc-max-tokens <n>", "Monte Carlo rollout length limit", parseIntStrict, DEFAULT_MC.maxTokens)
      .option("--naive-records <n>", "label only the first n records with cpmi_naive (it computes cpmi's scores at far higher cost) and scale its cost (default: min(records, 10))", parseIntStrict)
      .option("--also-samples <list>", "also measure CPMI with other settings in the same run: samples per prefix, optionally :templates (methods cpmi_sN or cpmi_sN_TEMPLATES), e.g. 0,1,0:question-answer-is"),
    "labeling",
  ).action(async (flags: BenchFlags) => {
    try {
      await runBench(flags);
    } catch (err) {
      fail(err);
    }
  });
}

function readLines<T>(file: string, limit: number): T[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, limit)
    .map((l) => JSON.parse(l) as T);
}

interface DevRow {
  id: string | number;
  problem: string;
  steps: string[];
  gold_answer: string | number;
  label: number;
}

interface BonRow extends BonInputRecord {
  candidates: { text: string; is_correct?: boolean; answer?: string }[];
}

async function runBench(flags: BenchFlags): Promise<void> {
  const methods = flags.methods.split(",").map((s) => s.trim()).filter(Boolean);
  for (const m of methods) if (!(LABEL_METHODS as readonly string[]).includes(m)) throw new OptionError(`unknown method "${m}": use ${LABEL_METHODS.join(", ")}`);
  const engine = { ...engineOptionsFrom(flags), onPoolEvent: (e: PoolEvent) => report(describePoolEvent(e)) };
  const modelPath = engine.modelPath ?? defaultModelPath();
  // One thread unless asked: llama.cpp's worker threads spin while they wait, and on a machine whose
  // cores other processes also use, two threads per process were measured 20x slower than one.
  const threads = flags.threads ?? 1;
  const dataFile = flags.data ?? SHARED_DATA("arith-processbench-dev.jsonl");
  const records: BenchRecord[] = readLines<DevRow>(dataFile, flags.records).map((r) => ({
    id: String(r.id),
    problem: r.problem,
    steps: r.steps.map((s) => stripStepPrefix(s).text),
    gold: String(r.gold_answer),
    label: r.label,
  }));
  if (records.length === 0) throw new OptionError(`${dataFile} has no records`);
  const mc = { rollouts: flags.rollouts, temperature: flags.mcTemperature, maxTokens: flags.mcMaxTokens };
  const progress = process.stderr.isTTY && !flags.json;
  const result = await runLabelingBench(records, {
    modelPath,
    gpu: engine.gpu,
    threads,
    parallel: flags.parallel,
    cpmi: engine,
    mc,
    methods: methods as LabelMethod[],
    naiveRecords: flags.naiveRecords ?? Math.min(records.length, 10),
    extraCpmi: (flags.alsoSamples ?? "")
      .split(",")
      .filter((x) => x.trim() !== "")
      .map((x) => {
        const [n, templates] = x.trim().split(":");
        const samples = parseIntStrict(n!);
        return { name: `cpmi_s${samples}${templates ? `_${templates}` : ""}`, options: { ...engine, samples, ...(templates ? { templates } : {}) } };
      }),
    onProgress: progress ? (done, total) => process.stderr.write(`\rlabeling ${done}/${total} records`) : undefined,
  });
  if (progress) process.stderr.write("\n");

  let bon: BonSummary | undefined;
  if (flags.bonRecords > 0) {
    const items = readLines<BonRow>(flags.bonData ?? SHARED_DATA("arith-bon-dev.jsonl"), flags.bonRecords);
    bon = await bestOfNByMethod(items, methods as LabelMethod[], { modelPath, threads, engine, mc });
  }

  const command = `steplens bench ${process.argv.slice(3).join(" ")}`.trim();
  if (flags.reportDir) {
    mkdirSync(flags.reportDir, { recursive: true });
    writeFileSync(path.join(flags.reportDir, "report.md"), benchMarkdown(result, { command, bon }));
    writeFileSync(path.join(flags.reportDir, "distributions.svg"), distributionSvg(result, stepTruth(records)));
    writeFileSync(path.join(flags.reportDir, "quality-cost.svg"), qualityCostSvg(result));
    writeFileSync(path.join(flags.reportDir, "results.json"), JSON.stringify({ ...summary(result), bon, settings: result.settings }, null, 2) + "\n");
  }
  if (flags.json) process.stdout.write(JSON.stringify({ ...summary(result), ...(bon ? { bon } : {}) }) + "\n");
  else {
    process.stdout.write(`${result.records} records, ${result.steps} steps\n${Object.entries(result.settings).map(([k, v]) => `  ${k}: ${v}`).join("\n")}\n\n${ratioTable(result)}\n\n`);
    if (result.naive) process.stdout.write(`cpmi_naive vs cpmi on the same ${result.naive.records} records: largest soft-label difference ${result.naive.maxDiffFromCpmi.toExponential(2)}\n\n`);
    if (bon) process.stdout.write(`${bonTable(bon)}\n\n`);
    if (flags.reportDir) report(`report written to ${path.join(flags.reportDir, "report.md")}`);
  }
}

function summary(result: BenchResult): { records: number; methods: BenchResult["methods"] } {
  return { records: result.records, methods: result.methods };
}

/**
 * Best-of-N per labeling method, as a person without a gold answer would use it: every method
 * scores each candidate's steps against the same pseudo-gold answer (the model's own, see
 * bon/bestOfN.ts), the step scores are aggregated with min, and the best candidate is picked.
 * cpmi_naive computes the same scores as cpmi, so it is not repeated.
 */
async function bestOfNByMethod(
  items: readonly BonRow[],
  methods: readonly LabelMethod[],
  opts: { modelPath: string; threads: number; engine: ReturnType<typeof engineOptionsFrom>; mc: { rollouts: number; temperature: number; maxTokens: number } },
): Promise<BonSummary> {
  const config = cpmiConfigFrom(opts.engine, opts.modelPath);
  const sampledConfig = cpmiConfigFrom({ ...opts.engine, ...SAMPLED_CPMI }, opts.modelPath);
  const kind = opts.engine.backend ?? "local";
  const backend = await openBackend({
    kind: isBackendKind(kind) ? kind : "local",
    endpoints: opts.engine.endpoints,
    token: opts.engine.token,
    timeoutMs: opts.engine.timeoutMs,
    maxInFlight: opts.engine.maxInFlight,
    onPoolEvent: opts.engine.onPoolEvent,
    gpuLayers: opts.engine.gpuLayers,
    modelPath: opts.modelPath,
    gpu: opts.engine.gpu ?? "auto",
    threads: opts.threads,
    branches: Math.max(config.samplesPerPrefix, config.goldRollouts, config.negatives + 1, opts.mc.rollouts, sampledConfig.samplesPerPrefix),
    walkers: Math.max(config.templates.length, sampledConfig.templates.length),
  });
  try {
    const cpmi = new CpmiScorer(backend, config);
    const mcScorer = new MonteCarloScorer(backend, { ...DEFAULT_MC, ...opts.mc });
    const bon = new BestOfN(cpmi);
    const sampled = new CpmiScorer(backend, sampledConfig);
    const random = seededRandom(99);
    const right: Record<string, number> = {};
    let base = { random: 0, majority: 0, best: 0 };
    for (const item of items) {
      const correct = item.candidates.map((c) => c.is_correct === true);
      const { problem, candidates } = parseCandidates({ ...item, gold_answer: undefined });
      const b = bonBaselines(candidates.map((c, k) => ({ answer: c.answer, correct: correct[k]! })));
      base = { random: base.random + b.random, majority: base.majority + b.majority, best: base.best + b.best };
      const target = await bon.pseudoGoldOf(problem, candidates.map((c) => c.answer));
      const perMethod: Record<string, number[]> = {};
      for (const c of candidates) {
        // cpmi_naive computes cpmi's scores (only slower), so it shares them here.
        const memo = new Map<string, number[]>();
        for (const m of methods) {
          const method = m === "cpmi_naive" ? "cpmi" : m;
          let steps = memo.get(method);
          if (!steps) {
            steps =
              method === "cpmi_sampled"
                ? await scoreStepsWith("cpmi", { cpmi: sampled, mc: mcScorer, random }, { problem, steps: c.steps, gold: target })
                : await scoreStepsWith(method, { cpmi, mc: mcScorer, random }, { problem, steps: c.steps, gold: target });
            memo.set(method, steps);
          }
          const s = aggregate(steps, "min");
          (perMethod[m] ??= []).push(Number.isFinite(s) ? s : 0);
        }
      }
      for (const m of methods) {
        const scores = perMethod[m]!;
        const pick = scores.indexOf(Math.max(...scores));
        if (correct[pick]) right[m] = (right[m] ?? 0) + 1;
        else right[m] ??= 0;
      }
      // The answer vote with the model's pseudo-gold: what CPMI adds beyond knowing the answer.
      const match = candidates.findIndex((c) => c.answer != null && sameAnswer(c.answer, target.value));
      right["answer = pseudo-gold"] = (right["answer = pseudo-gold"] ?? 0) + (match >= 0 && correct[match] ? 1 : 0);
    }
    const n = Math.max(1, items.length);
    return {
      records: items.length,
      random: base.random / n,
      majority: base.majority / n,
      best: base.best / n,
      accuracy: Object.fromEntries(Object.entries(right).map(([k, v]) => [k, v / n])),
      withGold: [],
    };
  } finally {
    await backend.dispose();
  }
}
