import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { isBackendKind, openBackend } from "../../engine/backend/create.js";
import type { Backend } from "../../engine/backend/types.js";
import { describePoolEvent, type PoolEvent } from "../../engine/backend/pool.js";
import { defaultModelPath } from "../../engine/backend/modelPath.js";
import { aggregate } from "../../engine/cpmi/aggregate.js";
import { CpmiScorer } from "../../engine/cpmi/scorer.js";
import { cpmiConfigFrom, OptionError } from "../../engine/engineOptions.js";
import { BestOfN, bonBaselines, parseCandidates, type BonInputRecord } from "../../engine/bon/bestOfN.js";
import { DEFAULT_LABEL_METHODS, LABEL_METHODS, PAIR_LABEL_METHODS, SAMPLED_CPMI, runLabelingBench, stepTruth, type BenchRecord, type BenchResult, type LabelMethod } from "../../engine/bench/labelingBench.js";
import { ImplicitPrmScorer, implicitCalibration } from "../../engine/implicit/implicitPrm.js";
import { implicitOptionsFrom } from "../../engine/engineOptions.js";
import { writtenFromDocument, writtenFromRecord } from "../../engine/implicit/written.js";
import { combineStepScores } from "../../engine/implicit/combined.js";
import { parseDocument } from "../../engine/parse/index.js";
import { benchMarkdown, distributionSvg, qualityCostSvg, ratioTable, bonTable, type BonSummary } from "../../engine/bench/report.js";
import { MonteCarloScorer, DEFAULT_MC } from "../../engine/mc/monteCarlo.js";
import { seededRandom } from "../../engine/merge/merge.js";
import { scoreStepsWith } from "../../engine/methods/stepMethods.js";
import { stripStepPrefix } from "../../engine/parse/index.js";
import { sameAnswer } from "../../engine/cpmi/negatives.js";
import { addEngineFlags, addImplicitFlags, engineOptionsFrom, parseFloatStrict, parseIntStrict, type EngineFlagValues } from "../engineFlags.js";
import { fail, report } from "../report.js";
import { resolveThreads } from "../../engine/backend/threads.js";

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
  policyModel?: string;
}

const SHARED_DATA = (file: string): string => path.resolve(path.dirname(defaultModelPath()), "../data", file);

export function registerBench(program: Command): void {
  addImplicitFlags(addEngineFlags(
    program
      .command("bench")
      .description("compare labeling methods (naive CPMI, CPMI, MC-N, CPMI-Merge, Rand_Merge) on the same records: quality, time and tokens, with ratios against MC as in the CPMI paper's Table 1")
      .option("--data <file>", "ProcessBench-style JSONL with gold_answer and label (default: ../shared/data/arith-processbench-dev.jsonl)")
      .option("--records <n>", "records to label with every method", parseIntStrict, 40)
      .option("--bon-data <file>", "Best-of-N JSONL {problem, candidates: [{text, is_correct}]} (default: ../shared/data/arith-bon-dev.jsonl)")
      .option("--bon-records <n>", "Best-of-N items to pick from with every method (0: skip)", parseIntStrict, 8)
      .option("--report-dir <dir>", "write report.md, distributions.svg, quality-cost.svg and results.json here")
      .option("--json", "print one JSON object {records, methods: {NAME: {auc, f1, wasserstein, seconds, tokens_evaluated, tokens_generated}}}")
      .option("--methods <names>", `comma-separated subset of ${LABEL_METHODS.join(", ")} (${PAIR_LABEL_METHODS.join(" and ")} need --policy-model)`, DEFAULT_LABEL_METHODS.join(","))
      .option("--policy-model <path>", "Implicit PRM's policy π_θ for the methods implicit and cpmi_implicit; its reference is --reference-model (default: --model, which CPMI and MC use)")
      .option("--parallel <n>", "records scored at the same time, per method", parseIntStrict, 4)
      .option("--rollouts <n>", "Monte Carlo rollouts per step", parseIntStrict, DEFAULT_MC.rollouts)
      .option("--mc-temperature <t>", "Monte Carlo sampling temperature", parseFloatStrict, DEFAULT_MC.temperature)
      .option("--mc-max-tokens <n>", "Monte Carlo rollout length limit", parseIntStrict, DEFAULT_MC.maxTokens)
      .option("--naive-records <n>", "label only the first n records with cpmi_naive (it computes cpmi's scores at far higher cost) and scale its cost (default: min(records, 10))", parseIntStrict)
      .option("--also-samples <list>", "also measure CPMI with other settings in the same run: N samples per prefix as the negatives' source (0 = heuristic edits only) or solution (the solution's own results), optionally :templates (methods cpmi_sN or cpmi_sN_TEMPLATES), e.g. 1,0,solution:q-a-hashes"),
    "labeling",
  )).action(async (flags: BenchFlags) => {
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
  final_answer_line?: string;
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
  // In the bench --model is CPMI's and MC's model; Implicit PRM's policy comes apart, and its
  // reference defaults to that same base model (the pair's π_ref is the model the policy was trained from).
  const wantsPair = methods.some((m) => (PAIR_LABEL_METHODS as readonly string[]).includes(m));
  if (methods.includes("cpmi_implicit") && !methods.includes("cpmi")) throw new OptionError("cpmi_implicit combines the cpmi and implicit rows of the same run: add cpmi to --methods");
  if (wantsPair && !flags.policyModel) throw new OptionError(`methods ${PAIR_LABEL_METHODS.join(" and ")} need Implicit PRM's policy: pass --policy-model PATH (its reference is --reference-model, default --model)`);
  if (!wantsPair && (flags.policyModel || flags.referenceModel)) throw new OptionError(`--policy-model and --reference-model are used only by the methods ${PAIR_LABEL_METHODS.join(" and ")}: add them to --methods or drop the flags`);
  const { beta } = implicitOptionsFrom({ method: wantsPair ? "implicit" : undefined, referenceModelPath: wantsPair ? (engine.referenceModelPath ?? modelPath) : undefined, beta: engine.beta, backend: engine.backend });
  const pair = wantsPair ? { policyPath: flags.policyModel!, referencePath: engine.referenceModelPath ?? modelPath, beta } : undefined;
  // One thread unless asked: llama.cpp's worker threads spin while they wait, and on a machine whose
  // cores other processes also use, two threads per process were measured 20x slower than one.
  const threads = resolveThreads(flags.threads, 1);
  const dataFile = flags.data ?? SHARED_DATA("arith-processbench-dev.jsonl");
  const records: BenchRecord[] = readLines<DevRow>(dataFile, flags.records).map((r) => ({
    id: String(r.id),
    problem: r.problem,
    steps: r.steps.map((s) => stripStepPrefix(s).text),
    gold: String(r.gold_answer),
    label: r.label,
    written: writtenFromRecord(r),
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
    implicit: pair,
    extraCpmi: (flags.alsoSamples ?? "")
      .split(",")
      .filter((x) => x.trim() !== "")
      .map((x) => {
        const [n, templates] = x.trim().split(":");
        const suffix = templates ? `_${templates}` : "";
        // "solution" keeps cpmi's negatives (read from the solution) and changes only the templates.
        if (n === "solution") return { name: `cpmi_solution${suffix}`, options: { ...engine, ...(templates ? { templates } : {}) } };
        const samples = parseIntStrict(n!);
        return { name: `cpmi_s${samples}${suffix}`, options: { ...engine, samples, negativesFrom: "samples", ...(templates ? { templates } : {}) } };
      }),
    onProgress: progress ? (done, total) => process.stderr.write(`\rlabeling ${done}/${total} records`) : undefined,
  });
  if (progress) process.stderr.write("\n");

  let bon: BonSummary | undefined;
  if (flags.bonRecords > 0) {
    const items = readLines<BonRow>(flags.bonData ?? SHARED_DATA("arith-bon-dev.jsonl"), flags.bonRecords);
    bon = await bestOfNByMethod(items, methods as LabelMethod[], { modelPath, threads, engine, mc, pair });
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
    const floorLine = implicitCostLine(result);
    if (floorLine) process.stdout.write(`${floorLine}\n\n`);
    if (result.naive) process.stdout.write(`cpmi_naive vs cpmi on the same ${result.naive.records} records: largest soft-label difference ${result.naive.maxDiffFromCpmi.toExponential(2)}\n\n`);
    if (bon) process.stdout.write(`${bonTable(bon)}\n\n`);
    if (flags.reportDir) report(`report written to ${path.join(flags.reportDir, "report.md")}`);
  }
}

/** Implicit PRM's cost against its floor and against CPMI and MC in the same run. */
function implicitCostLine(result: BenchResult): string | undefined {
  const imp = result.methods.implicit;
  if (!imp?.tokens_floor) return undefined;
  const vs = (name: string): string => {
    const m = result.methods[name];
    return m ? `; vs ${name}: time ${(imp.seconds / m.seconds).toFixed(3)}x, tokens evaluated ${(imp.tokens_evaluated / m.tokens_evaluated).toFixed(3)}x` : "";
  };
  return `implicit: ${imp.tokens_evaluated} tokens evaluated = ${(imp.tokens_evaluated / imp.tokens_floor).toFixed(3)} x the floor ${imp.tokens_floor} (each token of each written solution once per model)${vs("cpmi")}${vs("mc")}`;
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
  opts: {
    modelPath: string;
    threads: number;
    engine: ReturnType<typeof engineOptionsFrom>;
    mc: { rollouts: number; temperature: number; maxTokens: number };
    pair?: { policyPath: string; referencePath: string; beta: number };
  },
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
  const extra: Backend[] = [];
  try {
    // Implicit PRM needs no pseudo-gold: it scores each candidate as written, with its pair. The
    // CPMI backend is the pair's reference when both name the same file (one model in memory).
    let implicit: ImplicitPrmScorer | undefined;
    if (opts.pair) {
      const open = (modelPath: string): Promise<Backend> =>
        openBackend({ kind: "local", modelPath, gpu: opts.engine.gpu ?? "auto", gpuLayers: opts.engine.gpuLayers, threads: opts.threads, branches: 1, walkers: 1 });
      const policy = await open(opts.pair.policyPath);
      extra.push(policy);
      const reference = opts.pair.referencePath === opts.modelPath ? backend : await open(opts.pair.referencePath);
      if (reference !== backend) extra.push(reference);
      implicit = new ImplicitPrmScorer(policy, () => Promise.resolve(reference), { beta: opts.pair.beta, calibration: implicitCalibration(opts.pair.beta), threshold: config.threshold, aggregation: "min" });
    }
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
      // Only methods that score against an answer need the model's pseudo-gold (8 rollouts).
      const needsTarget = methods.some((m) => m !== "implicit");
      const target = needsTarget ? await bon.pseudoGoldOf(problem, candidates.map((c) => c.answer)) : undefined;
      const perMethod: Record<string, number[]> = {};
      for (const [k, c] of candidates.entries()) {
        // cpmi_naive computes cpmi's scores (only slower), so it shares them here.
        const memo = new Map<string, number[]>();
        const text = item.candidates[k]!.text;
        const implicitSteps = async (): Promise<number[]> => {
          let steps = memo.get("implicit");
          if (!steps) {
            const doc = parseDocument(text);
            const written = doc.solutions[0] ? writtenFromDocument(text, doc, doc.solutions[0]) : undefined;
            const imp = written ? await implicit!.score(written) : undefined;
            steps = imp?.steps.map((x) => x.softLabel) ?? [];
            memo.set("implicit", steps);
            if (imp) (perMethod["implicit (outcome r)"] ??= []).push(Number.isFinite(imp.outcome) ? imp.outcome : -Infinity);
          }
          return steps;
        };
        for (const m of methods) {
          const method = m === "cpmi_naive" ? "cpmi" : m;
          let steps = memo.get(method);
          if (!steps) {
            if (method === "implicit") steps = await implicitSteps();
            else if (method === "cpmi_implicit") {
              const cpmiSteps = memo.get("cpmi") ?? (await scoreStepsWith("cpmi", { cpmi, mc: mcScorer, random }, { problem, steps: c.steps, gold: target! }));
              memo.set("cpmi", cpmiSteps);
              steps = combineStepScores(cpmiSteps, await implicitSteps());
            } else
              steps =
                method === "cpmi_sampled"
                  ? await scoreStepsWith("cpmi", { cpmi: sampled, mc: mcScorer, random }, { problem, steps: c.steps, gold: target! })
                  : await scoreStepsWith(method, { cpmi, mc: mcScorer, random }, { problem, steps: c.steps, gold: target! });
            memo.set(method, steps);
          }
          const s = aggregate(steps, "min");
          (perMethod[m] ??= []).push(Number.isFinite(s) ? s : 0);
        }
      }
      for (const m of Object.keys(perMethod)) {
        const scores = perMethod[m]!;
        const pick = scores.indexOf(Math.max(...scores));
        if (correct[pick]) right[m] = (right[m] ?? 0) + 1;
        else right[m] ??= 0;
      }
      // The answer vote with the model's pseudo-gold: what CPMI adds beyond knowing the answer.
      if (target) {
        const match = candidates.findIndex((c) => c.answer != null && sameAnswer(c.answer, target.value));
        right["answer = pseudo-gold"] = (right["answer = pseudo-gold"] ?? 0) + (match >= 0 && correct[match] ? 1 : 0);
      }
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
    for (const b of extra) await b.dispose();
    await backend.dispose();
  }
}
