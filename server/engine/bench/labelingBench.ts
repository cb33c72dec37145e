// The CPMI paper's Table 1 on your own model and data: every labeling method on the same records in
// one run, with quality (step ROC-AUC, ProcessBench F1, Wasserstein) and cost (wall time, tokens
// evaluated, tokens generated). Each method has its own backend (so no method profits from another's
// KV cache or memo), and the records are processed in chunks with every method taking its turn on
// each chunk: load from other processes on a shared machine then falls on all methods alike.

import type { GpuSetting } from "../backend/llamaCpp.js";
import { isBackendKind, openBackend, type BackendKind } from "../backend/create.js";
import type { Backend } from "../backend/types.js";
import type { TokenCounters } from "../backend/types.js";
import { CpmiScorer } from "../cpmi/scorer.js";
import { cpmiConfigFrom, type EngineOptions } from "../engineOptions.js";
import { evaluateLabeled } from "../eval/metrics.js";
import { stepLabels } from "../eval/processBench.js";
import { MonteCarloScorer, DEFAULT_MC, type McConfig } from "../mc/monteCarlo.js";
import { cpmiMerge, randMerge, seededRandom } from "../merge/merge.js";
import { ImplicitPrmScorer, implicitCalibration, type ImplicitScore } from "../implicit/implicitPrm.js";
import { checkPair } from "../implicit/pair.js";
import { defaultPrompt, writtenFromLines, type WrittenSolution } from "../implicit/written.js";
import { combineStepScores } from "../implicit/combined.js";

export const LABEL_METHODS = ["cpmi_naive", "cpmi", "mc", "cpmi_merge", "rand_merge", "cpmi_sampled", "implicit", "cpmi_implicit"] as const;
/** What `steplens bench` runs without --methods: the methods that need only --model. */
export const DEFAULT_LABEL_METHODS: readonly LabelMethod[] = ["cpmi_naive", "cpmi", "mc", "cpmi_merge", "rand_merge", "cpmi_sampled"];
/** Methods that need Implicit PRM's pair (BenchOptions.implicit). */
export const PAIR_LABEL_METHODS: readonly LabelMethod[] = ["implicit", "cpmi_implicit"];

/**
 * `cpmi` runs with the options it is given: `steplens bench` and `label` default to one template and
 * M = 1 negative read from the solution's own results (no token generated; the paper's Appendix E.1
 * finds M = 1, the single hardest negative, as good as larger M). cpmi_sampled is the setting files
 * are scored with (`steplens score`, the editor): three templates, M = 4 negatives sampled from the
 * model after every prefix, as the paper and the reference implementation draw them.
 */
export const SAMPLED_CPMI: EngineOptions = { templates: "default", negatives: 4, samples: 8, negativesFrom: "samples" };
export type LabelMethod = (typeof LABEL_METHODS)[number];

export interface BenchRecord {
  id: string;
  problem: string;
  /** Step texts as the model sees them. */
  steps: string[];
  gold: string;
  /** First wrong step, -1 if all right. */
  label: number;
  /** The record as written, for Implicit PRM; without it the default layout of the steps. */
  written?: WrittenSolution;
}

export interface MethodResult {
  auc: number;
  f1: number;
  wasserstein: number;
  seconds: number;
  tokens_evaluated: number;
  tokens_generated: number;
  /** Implicit PRM: the least any implementation evaluates, every token of each text once per model. */
  tokens_floor?: number;
}

export interface BenchResult {
  records: number;
  steps: number;
  methods: Record<string, MethodResult>;
  /** Per method, per record, per step: the scores in [0, 1] the metrics were computed on. */
  scores: Record<string, number[][]>;
  /** The settings each method ran with, for the report. */
  settings: Record<string, string>;
  /** Records cpmi_naive was measured on, and the largest |soft label difference| from cpmi there. */
  naive?: { records: number; maxDiffFromCpmi: number };
}

export interface BenchOptions {
  modelPath: string;
  gpu?: GpuSetting;
  threads?: number;
  /** Records per chunk, scored at the same time in parallel lanes (the same for every method). */
  parallel?: number;
  /** CPMI options (templates, negatives, samples, ...); `cpmi_naive` uses the same with naive = true. */
  cpmi?: EngineOptions;
  mc?: Partial<McConfig>;
  methods?: readonly LabelMethod[];
  /**
   * Records cpmi_naive labels (the first ones); its cost is scaled to all records. Naive CPMI computes
   * the same scores as cpmi (only the cost differs; scoresMatch checks it), and it is by far the
   * slowest method, so a default run that finishes in minutes measures it on a slice.
   */
  naiveRecords?: number;
  /** More CPMI configurations measured in the same run, e.g. fewer samples per prefix. */
  extraCpmi?: { name: string; options: EngineOptions }[];
  /** Implicit PRM's pair for the methods implicit and cpmi_implicit; `--model` (modelPath) stays CPMI's and MC's model. */
  implicit?: { policyPath: string; referencePath: string; beta: number };
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

interface Timed {
  seconds: number;
  tokens: TokenCounters;
}

export async function runLabelingBench(records: readonly BenchRecord[], options: BenchOptions): Promise<BenchResult> {
  const methods = options.methods ?? LABEL_METHODS;
  const parallel = Math.max(1, options.parallel ?? 4);
  const cpmiOptions: EngineOptions = { ...options.cpmi };
  const cpmiConfig = cpmiConfigFrom(cpmiOptions, options.modelPath);
  const sampledConfig = cpmiConfigFrom({ ...cpmiOptions, ...SAMPLED_CPMI }, options.modelPath);
  const mcConfig: McConfig = { ...DEFAULT_MC, ...options.mc };
  // One backend shape fits every method: the most branches and walkers any of them needs.
  const branches = Math.max(cpmiConfig.samplesPerPrefix, cpmiConfig.negatives + 1, mcConfig.rollouts, sampledConfig.samplesPerPrefix, sampledConfig.negatives + 1);
  // --backend/--endpoint reach the bench too: several endpoints are one pooled backend (pool.ts).
  const load = (naive: boolean): Promise<Backend> =>
    openBackend({
      kind: isBackendKind(cpmiOptions.backend ?? "local") ? ((cpmiOptions.backend ?? "local") as BackendKind) : "local",
      endpoints: cpmiOptions.endpoints,
      token: cpmiOptions.token,
      timeoutMs: cpmiOptions.timeoutMs,
      maxInFlight: cpmiOptions.maxInFlight,
      onPoolEvent: cpmiOptions.onPoolEvent,
      gpuLayers: cpmiOptions.gpuLayers,
      modelPath: options.modelPath,
      gpu: options.gpu ?? "auto",
      threads: options.threads,
      reusePrefix: !naive,
      branches,
      walkers: Math.max(cpmiConfig.templates.length, sampledConfig.templates.length),
      parallel,
    });

  const need = (m: LabelMethod): boolean => methods.includes(m);
  const backends: Backend[] = [];
  const open = async (naive: boolean): Promise<Backend> => {
    const b = await load(naive);
    backends.push(b);
    return b;
  };
  try {
    const naiveScorer = need("cpmi_naive") ? new CpmiScorer(await open(true), cpmiConfig) : undefined;
    const naiveCount = Math.min(records.length, options.naiveRecords ?? records.length);
    const extras: { name: string; scorer: CpmiScorer; config: ReturnType<typeof cpmiConfigFrom> }[] = [];
    for (const x of options.extraCpmi ?? []) {
      const config = cpmiConfigFrom({ ...cpmiOptions, ...x.options }, options.modelPath);
      extras.push({ name: x.name, scorer: new CpmiScorer(await open(false), config), config });
    }
    const cpmiScorer = need("cpmi") ? new CpmiScorer(await open(false), cpmiConfig) : undefined;
    const mcScorer = need("mc") ? new MonteCarloScorer(await open(false), mcConfig) : undefined;
    const sampledScorer = need("cpmi_sampled") ? new CpmiScorer(await open(false), sampledConfig) : undefined;
    const mergeBackend = need("cpmi_merge") || need("rand_merge") ? await open(false) : undefined;
    const mergeCpmi = mergeBackend ? new CpmiScorer(mergeBackend, cpmiConfig) : undefined;
    const mergeMc = mergeBackend ? new MonteCarloScorer(mergeBackend, mcConfig) : undefined;

    const pairNeeded = need("implicit") || need("cpmi_implicit");
    if (pairNeeded && !options.implicit) throw new Error("methods implicit and cpmi_implicit need Implicit PRM's pair (BenchOptions.implicit)");
    if (need("cpmi_implicit") && !need("cpmi")) throw new Error("cpmi_implicit combines the cpmi and implicit rows of the same run: add cpmi to the methods");
    let implicitScorer: ImplicitPrmScorer | undefined;
    if (pairNeeded && options.implicit) {
      await checkPair(options.implicit.policyPath, options.implicit.referencePath);
      // Its own two backends, one sequence per lane each: the method's whole memory is the pair.
      const pairBackend = (modelPath: string): Promise<Backend> =>
        openBackend({ kind: "local", modelPath, gpu: options.gpu ?? "auto", gpuLayers: cpmiOptions.gpuLayers, threads: options.threads, branches: 1, walkers: 1, parallel });
      const policy = await pairBackend(options.implicit.policyPath);
      backends.push(policy);
      const reference = await pairBackend(options.implicit.referencePath);
      backends.push(reference);
      implicitScorer = new ImplicitPrmScorer(policy, () => Promise.resolve(reference), {
        beta: options.implicit.beta,
        calibration: implicitCalibration(options.implicit.beta),
        threshold: cpmiConfig.threshold,
        aggregation: "min",
      });
    }
    let implicitFloor = 0;

    const names: string[] = [...methods, ...extras.map((x) => x.name)];
    const scores: Record<string, number[][]> = Object.fromEntries(names.map((m) => [m, []]));
    const cost: Record<string, Timed> = Object.fromEntries(names.map((m) => [m, { seconds: 0, tokens: { evaluated: 0, generated: 0 } }]));
    const add = (m: string, seconds: number, tokens: TokenCounters): void => {
      const c = cost[m]!;
      c.seconds += seconds;
      c.tokens.evaluated += tokens.evaluated;
      c.tokens.generated += tokens.generated;
    };
    const random = seededRandom(20240611);

    const cpmiPass = async (scorer: CpmiScorer, chunk: readonly BenchRecord[]): Promise<{ soft: number[][]; seconds: number; tokens: TokenCounters }> => {
      const t0 = performance.now();
      const outs = await Promise.all(
        chunk.map((r) =>
          scorer.score({
            problem: r.problem,
            steps: r.steps,
            gold: { value: r.gold, source: "record" },
            signal: options.signal,
          }),
        ),
      );
      return {
        seconds: (performance.now() - t0) / 1000,
        soft: outs.map((o) => o.steps.map((s) => s.softLabel)),
        tokens: sumTokens(outs.map((o) => o.tokens)),
      };
    };
    const mcPass = async (scorer: MonteCarloScorer, chunk: readonly BenchRecord[], limit?: number): Promise<{ values: number[][]; seconds: number; tokens: TokenCounters }> => {
      const t0 = performance.now();
      const outs = await Promise.all(
        chunk.map((r) => scorer.score({ problem: r.problem, steps: r.steps, gold: r.gold, limit, signal: options.signal })),
      );
      return { seconds: (performance.now() - t0) / 1000, values: outs.map((o) => o.steps.map((s) => s.value)), tokens: sumTokens(outs.map((o) => o.tokens)) };
    };

    const implicitPass = async (scorer: ImplicitPrmScorer, chunk: readonly BenchRecord[]): Promise<{ scores: ImplicitScore[]; seconds: number; tokens: TokenCounters; floor: number }> => {
      const t0 = performance.now();
      const outs = await Promise.all(chunk.map((r) => scorer.score(r.written ?? writtenFromLines(defaultPrompt(r.problem), r.steps), options.signal)));
      return {
        seconds: (performance.now() - t0) / 1000,
        scores: outs,
        tokens: { evaluated: outs.reduce((a, o) => a + o.tokens.evaluated, 0), generated: 0 },
        floor: outs.reduce((a, o) => a + 2 * o.tokens.text, 0),
      };
    };

    for (let start = 0; start < records.length; start += parallel) {
      const chunk = records.slice(start, start + parallel);
      const naiveChunk = chunk.slice(0, Math.max(0, naiveCount - start));
      if (naiveScorer && naiveChunk.length > 0) {
        const p = await cpmiPass(naiveScorer, naiveChunk);
        scores.cpmi_naive!.push(...p.soft);
        add("cpmi_naive", p.seconds, p.tokens);
      }
      if (sampledScorer) {
        const p = await cpmiPass(sampledScorer, chunk);
        scores.cpmi_sampled!.push(...p.soft);
        add("cpmi_sampled", p.seconds, p.tokens);
      }
      for (const x of extras) {
        const p = await cpmiPass(x.scorer, chunk);
        scores[x.name]!.push(...p.soft);
        add(x.name, p.seconds, p.tokens);
      }
      let cpmiChunk: { soft: number[][]; seconds: number; tokens: TokenCounters } | undefined;
      if (cpmiScorer) {
        const p = (cpmiChunk = await cpmiPass(cpmiScorer, chunk));
        scores.cpmi!.push(...p.soft);
        add("cpmi", p.seconds, p.tokens);
      }
      if (implicitScorer) {
        const p = await implicitPass(implicitScorer, chunk);
        const soft = p.scores.map((o) => o.steps.map((s) => s.softLabel));
        implicitFloor += p.floor;
        if (need("implicit")) {
          scores.implicit!.push(...soft);
          add("implicit", p.seconds, p.tokens);
        }
        if (need("cpmi_implicit") && cpmiChunk) {
          // Both rows of this run, combined: its cost is the sum of theirs.
          scores.cpmi_implicit!.push(...soft.map((row, k) => combineStepScores(cpmiChunk.soft[k]!, row)));
          add("cpmi_implicit", p.seconds + cpmiChunk.seconds, sumTokens([p.tokens, cpmiChunk.tokens]));
        }
      }
      if (mcScorer) {
        const p = await mcPass(mcScorer, chunk);
        scores.mc!.push(...p.values);
        add("mc", p.seconds, p.tokens);
      }
      if (mergeMc && mergeCpmi) {
        // The merge's two parts are timed apart: Rand_Merge costs the MC part alone.
        const first = await mcPass(mergeMc, chunk, 1);
        const rest = need("cpmi_merge") ? await cpmiPass(mergeCpmi, chunk) : undefined;
        chunk.forEach((r, k) => {
          if (rest) scores.cpmi_merge!.push(cpmiMerge({ mcValues: first.values[k]!, cpmiSoftLabels: rest.soft[k]! }));
          if (need("rand_merge")) scores.rand_merge!.push(randMerge(first.values[k]!, r.steps.length, random));
        });
        if (rest) add("cpmi_merge", first.seconds + rest.seconds, sumTokens([first.tokens, rest.tokens]));
        if (need("rand_merge")) add("rand_merge", first.seconds, first.tokens);
      }
      options.onProgress?.(Math.min(records.length, start + parallel), records.length);
    }

    const result: Record<string, MethodResult> = {};
    for (const m of names) {
      const done = scores[m]!.length;
      const labeled = records.slice(0, done).map((r, k) => ({ scores: scores[m]![k]!, label: r.label }));
      const report = evaluateLabeled(labeled, { probabilityScores: labeled.map((x) => x.scores) });
      // A method measured on fewer records (cpmi_naive) has its cost scaled to the whole set.
      const scale = done > 0 ? records.length / done : NaN;
      result[m] = {
        auc: report.auc,
        f1: report.f1Best.f1,
        wasserstein: report.wasserstein,
        seconds: cost[m]!.seconds * scale,
        tokens_evaluated: Math.round(cost[m]!.tokens.evaluated * scale),
        tokens_generated: Math.round(cost[m]!.tokens.generated * scale),
        ...(m === "implicit" ? { tokens_floor: implicitFloor } : {}),
      };
    }
    let naive: BenchResult["naive"];
    if (naiveScorer && scores.cpmi) {
      let maxDiff = 0;
      scores.cpmi_naive!.forEach((row, k) => row.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - scores.cpmi![k]![i]!)))));
      naive = { records: scores.cpmi_naive!.length, maxDiffFromCpmi: maxDiff };
    }
    return {
      records: records.length,
      steps: records.reduce((a, r) => a + r.steps.length, 0),
      methods: result,
      scores,
      settings: {
        cpmi: describeCpmi(cpmiConfig),
        mc: `${mcConfig.rollouts} rollouts per step, temperature ${mcConfig.temperature}, at most ${mcConfig.maxTokens} tokens, stop at the answer line`,
        ...(sampledScorer ? { cpmi_sampled: describeCpmi(sampledConfig) } : {}),
        ...(implicitScorer && options.implicit
          ? { implicit: `policy ${options.implicit.policyPath}, reference ${options.implicit.referencePath}, β = ${options.implicit.beta}; one forward pass per model over each written solution` }
          : {}),
        ...(need("cpmi_implicit") ? { cpmi_implicit: "per step, the mean of the cpmi and implicit soft labels of this run (cost: both)" } : {}),
        lanes: `${parallel} records at a time per method, ${options.threads ?? "all"} CPU threads`,
        ...Object.fromEntries(extras.map((x) => [x.name, describeCpmi(x.config)])),
        ...(naive && naive.records < records.length ? { cpmi_naive: `measured on the first ${naive.records} records, cost scaled to ${records.length}` } : {}),
      },
      naive,
    };
  } finally {
    for (const b of backends) await b.dispose();
  }
}

function describeCpmi(c: ReturnType<typeof cpmiConfigFrom>): string {
  const templates = `${c.templates.length} template${c.templates.length === 1 ? "" : "s"} (${c.templates.map((t) => t.name).join(", ")})`;
  const negatives =
    c.negativesFrom === "solution"
      ? `M = ${c.negatives} negative${c.negatives === 1 ? "" : "s"} read from the solution's own results, no sampling`
      : `M = ${c.negatives} negatives sampled ${c.samplesPerPrefix} per prefix, ${c.negativeWeights} weights`;
  return `${templates}, ${negatives}`;
}

function sumTokens(list: readonly TokenCounters[]): TokenCounters {
  return list.reduce((a, t) => ({ evaluated: a.evaluated + t.evaluated, generated: a.generated + t.generated }), { evaluated: 0, generated: 0 });
}

/** Right (1) / wrong (0) per step, for the distribution charts. */
export function stepTruth(records: readonly BenchRecord[]): (0 | 1)[][] {
  return records.map((r) => stepLabels(r.label, r.steps.length));
}
