// CPMI step rewards (paper, Eqs. 3-4):
//   r_i = mean_t ( [lp_t(A | q, s<=i) - lp_t(A | q, s<i)] - (1/M) sum_m [lp_t(Ã_m | q, s<=i) - lp_t(Ã_m | q, s<i)] )
// where lp_t is the length-normalised log-probability of an answer continuation after template t's
// answer cue. Every (template, prefix) is evaluated once; answer continuations fork from its KV cache
// (see LlamaCppBackend.forkAt), and every log-probability is memoised by content, so editing step k of
// a file re-evaluates prefixes k.. only.

import { createHash } from "node:crypto";
import type { Backend, BackendSession } from "../backend/types.js";
import { BackendError } from "../backend/types.js";
import type { GoldSource } from "../parse/types.js";
import { aggregate, predictFirstError, type Aggregation } from "./aggregate.js";
import { chooseNegatives, perturbations, poolSampledNegatives, referenceFill, sameAnswer, type Negative } from "./negatives.js";
import { NEUTRAL_CALIBRATION, softLabel, type Calibration } from "./softLabels.js";
import { prefixText, type AnswerTemplate } from "./templates.js";
import { stepResults, trajectoryNegatives } from "../methods/trajectoryNegatives.js";
import { modelAnswer, type ModelAnswerOptions } from "./modelAnswer.js";
import type { ImplicitScore } from "../implicit/implicitPrm.js";

export interface CpmiConfig {
  templates: AnswerTemplate[];
  /** M, the number of hard negatives (paper default 4). */
  negatives: number;
  /** Samples drawn after each prefix to find hard negatives. */
  samplesPerPrefix: number;
  sampleMaxTokens: number;
  temperature: number;
  seed: number;
  /** Which fill-up to use when sampling finds fewer than M wrong answers. */
  fill: "heuristic" | "reference";
  /** Solutions the model writes to the question to find the gold answer when none is given (modelAnswer.ts). */
  goldRollouts: number;
  /**
   * How the negatives' gains are averaged. "uniform": (1/M) Σ_m over M distinct answers, as the
   * reference implementation does. "frequency": each distinct sampled answer weighs as often as the
   * model produced it (a perturbation counts once). The paper's (1/M) Σ_m runs over answers drawn
   * i.i.d. from the model (Section 4.2), where a likely wrong answer appears many times; averaging
   * over distinct answers instead gives a rarely-sampled or made-up fill-up the same say as the wrong
   * answer the solution is heading to. On the dev set this lifts step ROC-AUC from 0.84 to 0.96.
   */
  negativeWeights: "frequency" | "uniform";
  /**
   * Where hard negatives come from when the request brings none. "samples": drawn from the model
   * after every prefix (the paper, Section 5.1, and the reference implementation). "solution": the
   * results the solution's own steps compute (methods/trajectoryNegatives.ts), no token generated:
   * the cost-lean setting `steplens label` and `bench` use by default (deviation, documented there).
   */
  negativesFrom: "samples" | "solution";
  calibration: Calibration;
  /** Soft-label threshold under which a step is predicted wrong. */
  threshold: number;
  aggregation: Aggregation;
}

export const DEFAULT_CPMI: Omit<CpmiConfig, "templates"> = {
  negatives: 4,
  samplesPerPrefix: 8,
  sampleMaxTokens: 6,
  temperature: 1,
  seed: 1234,
  fill: "heuristic",
  goldRollouts: 8,
  negativeWeights: "frequency",
  negativesFrom: "samples",
  calibration: NEUTRAL_CALIBRATION,
  // Best ProcessBench F1 on the demo model's dev set lies at soft labels 0.2-0.3 (a step is an
  // error when its reward is about 1.1 MADs below the median); see the closing notes of issue 3.
  threshold: 0.25,
  aggregation: "min",
};

export interface GoldAnswer {
  value: string;
  source: GoldSource;
  /** For the fallback (the model's own answer): the share of its solutions that agreed. */
  agreement?: number;
}

export interface ScoreRequest {
  problem: string;
  /** Step texts as the model should see them (prefixes like "Step 1:" already removed). */
  steps: readonly string[];
  gold?: GoldAnswer;
  /** Use these negatives instead of sampling (e.g. a dataset's own). */
  negatives?: readonly string[];
  signal?: AbortSignal;
}

/** One template's part of a step's reward: what a hover shows. */
export interface TemplateTerms {
  template: string;
  /** lp(gold | s<=i) - lp(gold | s<i). */
  goldGain: number;
  /** lp(neg_m | s<=i) - lp(neg_m | s<i), one per negative. */
  negativeGains: number[];
  negativeMean: number;
  reward: number;
  /** lp(gold | s<=i): the model's belief in the gold answer after this step. */
  goldLogprob: number;
}

export interface StepScore {
  index: number;
  /** CPMI reward (mean over templates); NaN for steps cut off by the context limit. */
  reward: number;
  softLabel: number;
  goldGain: number;
  negativeGains: number[];
  negativeMean: number;
  terms: TemplateTerms[];
  /** 1 = the step with the highest reward in its solution. */
  rank: number;
  truncated: boolean;
}

export interface SolutionScore {
  steps: StepScore[];
  /** Set when another method than CPMI gave the soft labels (see scoreDocument's method option). */
  method?: string;
  /** Implicit PRM's own terms per step (β, log-ratio, q_i, top tokens) when it gave the scores. */
  implicit?: ImplicitScore;
  /** Aggregated soft labels. */
  score: number;
  aggregation: Aggregation;
  firstError: number;
  gold: GoldAnswer;
  negatives: Negative[];
  templates: string[];
  /** Per template, lp(gold | prefix i) for i = 0..K. */
  goldLogprobs: number[][];
  tokens: TokenCost;
  calibration: Calibration;
  warnings: string[];
}

export interface TokenCost {
  evaluated: number;
  generated: number;
  /** What a from-scratch implementation would evaluate for the same work (see naiveTokenCount). */
  naive: number;
}

const ANSWER_PROBE = " 1234567.";

/**
 * Log-probabilities, samples and the model's own answers by content. Scorers of one model may share
 * it (the editor's fast and full quality): a key names the template, prefix and answer (for a model
 * answer, everything modelAnswer reads), so what one computed the other reuses.
 */
export interface ScoreMemo {
  lp: Map<string, number>;
  samples: Map<string, string[]>;
  gold: Map<string, Promise<GoldAnswer>>;
}

export function newScoreMemo(): ScoreMemo {
  return { lp: new Map(), samples: new Map(), gold: new Map() };
}

export class CpmiScorer {
  private readonly lpCache: Map<string, number>;
  private readonly sampleCache: Map<string, string[]>;
  /** The model's own answer per problem (and candidates' answers): files re-checked while their author types, and records of one problem, share it. */
  private readonly goldCache: Map<string, Promise<GoldAnswer>>;
  /** Bounds the memo so a long editing session or a large dataset cannot grow memory without end. */
  private static readonly CACHE_LIMIT = 200_000;

  constructor(
    readonly backend: Backend,
    readonly config: CpmiConfig,
    readonly memo: ScoreMemo = newScoreMemo(),
  ) {
    this.lpCache = memo.lp;
    this.sampleCache = memo.samples;
    this.goldCache = memo.gold;
  }

  async score(request: ScoreRequest): Promise<SolutionScore> {
    const capacity = this.backend.info.contextSize;
    try {
      return await this.scoreOnce(request);
    } catch (err) {
      // A local backend that found no memory for a larger context lowers contextSize: the solution
      // is then scored up to what fits, with the rest reported as not scored.
      if (err instanceof BackendError && err.code === "context-overflow" && this.backend.info.contextSize < capacity) return await this.scoreOnce(request);
      throw err;
    }
  }

  private async scoreOnce(request: ScoreRequest): Promise<SolutionScore> {
    // The one way to a missing gold answer (modelAnswer.ts). It writes in a session of its own, so it
    // runs before this one is opened: a backend with one lane would otherwise wait on itself.
    const gold = request.gold ?? (await this.goldFor(request.problem, [], { signal: request.signal }));
    const session = await this.backend.openSession();
    try {
      const out = await this.scoreIn(session, { ...request, gold });
      if (!request.gold) {
        out.warnings.unshift(
          `no gold answer given: using the model's majority answer ${gold.value} ` +
            `(${Math.round((gold.agreement ?? 0) * 100)}% of the solutions it wrote to the question)`,
        );
      }
      return out;
    } finally {
      session.release();
    }
  }

  private async scoreIn(session: BackendSession, request: ScoreRequest & { gold: GoldAnswer }): Promise<SolutionScore> {
    const { config, backend } = this;
    const warnings: string[] = [];
    const { problem, signal } = request;
    const allSteps = request.steps;
    const fit = await this.stepsThatFit(problem, allSteps);
    if (fit < allSteps.length) {
      warnings.push(
        `the solution is longer than the model's context (${backend.info.contextSize} tokens): ` +
          `steps ${fit + 1}-${allSteps.length} were not scored`,
      );
    }
    const steps = allSteps.slice(0, fit);
    const K = steps.length;
    const t0 = config.templates[0]!;

    let naive = 0;
    const { gold } = request;
    const samples: string[] = [];

    let negatives: Negative[];
    if (request.negatives) {
      negatives = request.negatives.map((value) => ({ value: String(value), source: "given" as const }));
    } else if (config.negativesFrom === "solution") {
      const results = stepResults(steps);
      negatives = trajectoryNegatives(steps, gold.value, config.negatives).map((value) => ({
        value,
        source: results.has(value) ? ("solution" as const) : ("perturbed" as const),
      }));
    } else {
      for (let i = 0; i <= K; i++) {
        const prefix = prefixText(t0, problem, steps, i) + t0.cue;
        const drawn = await this.sampleCached(session, prefix, config.samplesPerPrefix, i, signal);
        naive += await this.naiveSampleCost(prefix, drawn);
        samples.push(...drawn);
      }
      const fill = config.fill === "reference" ? referenceFill(gold.value) : perturbations(gold.value, steps);
      negatives = chooseNegatives(poolSampledNegatives(samples, gold.value), fill, config.negatives);
    }
    negatives = negatives.filter((n) => !sameAnswer(n.value, gold.value));

    const answers = [gold.value, ...negatives.map((n) => n.value)];
    const weights = negatives.map((n) => (config.negativeWeights === "frequency" && n.source === "sampled" ? (n.count ?? 1) : 1));
    const weightSum = weights.reduce((a, b) => a + b, 0);
    negatives = negatives.map((n, m) => ({ ...n, weight: weights[m]! / weightSum }));
    // lp[t][i][a]
    const lp: number[][][] = [];
    for (const template of config.templates) {
      const rows: number[][] = [];
      const continuations = answers.map(template.continuation);
      for (let i = 0; i <= K; i++) {
        const prefix = prefixText(template, problem, steps, i) + template.cue;
        rows.push(await this.logprobsCached(session, template.name, prefix, continuations, signal));
        naive += await this.naiveScoreCost(prefix, continuations);
      }
      lp.push(rows);
    }

    const stepScores: StepScore[] = [];
    for (let i = 1; i <= K; i++) {
      const terms: TemplateTerms[] = config.templates.map((template, t) => {
        const now = lp[t]![i]!;
        const prev = lp[t]![i - 1]!;
        const goldGain = now[0]! - prev[0]!;
        const negativeGains = negatives.map((_, m) => now[m + 1]! - prev[m + 1]!);
        const negativeMean = weightSum > 0 ? negativeGains.reduce((acc, g, m) => acc + weights[m]! * g, 0) / weightSum : 0;
        return { template: template.name, goldGain, negativeGains, negativeMean, reward: goldGain - negativeMean, goldLogprob: now[0]! };
      });
      const reward = mean(terms.map((x) => x.reward));
      stepScores.push({
        index: i - 1,
        reward,
        softLabel: softLabel(reward, config.calibration),
        goldGain: mean(terms.map((x) => x.goldGain)),
        negativeGains: negatives.map((_, m) => mean(terms.map((x) => x.negativeGains[m]!))),
        negativeMean: mean(terms.map((x) => x.negativeMean)),
        terms,
        rank: 0,
        truncated: false,
      });
    }
    for (let i = K; i < allSteps.length; i++) {
      stepScores.push({
        index: i,
        reward: NaN,
        softLabel: NaN,
        goldGain: NaN,
        negativeGains: [],
        negativeMean: NaN,
        terms: [],
        rank: 0,
        truncated: true,
      });
    }
    const ranked = stepScores.filter((s) => !s.truncated).sort((a, b) => b.reward - a.reward);
    ranked.forEach((s, r) => (s.rank = r + 1));

    const soft = stepScores.map((s) => s.softLabel);
    return {
      steps: stepScores,
      score: aggregate(soft, config.aggregation),
      aggregation: config.aggregation,
      firstError: predictFirstError(soft, config.threshold),
      gold,
      negatives,
      templates: config.templates.map((t) => t.name),
      goldLogprobs: lp.map((rows) => rows.map((r) => r[0]!)),
      tokens: {
        evaluated: session.counters.evaluated,
        generated: session.counters.generated,
        naive,
      },
      calibration: config.calibration,
      warnings,
    };
  }

  /**
   * The gold answer to use when none is given: the model's own (modelAnswer.ts), memoised by problem,
   * candidates' answers, method and the settings modelAnswer reads (so the fast and full scorers,
   * which share the memo and the first template, draw it once). A draw that fails or is aborted is not kept.
   */
  goldFor(problem: string, answers: readonly (string | undefined)[] = [], options: ModelAnswerOptions = {}): Promise<GoldAnswer> {
    const { templates, temperature, seed, sampleMaxTokens, goldRollouts } = this.config;
    const reads = [templates[0]!.name, temperature, seed, sampleMaxTokens, goldRollouts];
    const key = hash(JSON.stringify([problem, answers, options.method ?? "rollouts", options.samples ?? 0, reads]));
    let pending = this.goldCache.get(key);
    if (!pending) {
      if (this.goldCache.size >= 10_000) this.goldCache.delete(this.goldCache.keys().next().value as string);
      pending = modelAnswer(this.backend, this.config, problem, answers, options);
      this.goldCache.set(key, pending);
      pending.catch(() => this.goldCache.delete(key));
    }
    return pending;
  }

  /** How many leading steps fit in the context with every template, cue and a long answer. */
  private async stepsThatFit(problem: string, steps: readonly string[]): Promise<number> {
    const limit = this.backend.info.contextSize - 2;
    const fits = async (k: number): Promise<boolean> => {
      for (const t of this.config.templates) {
        const text = prefixText(t, problem, steps, k) + t.cue + ANSWER_PROBE;
        if ((await this.backend.tokenize(text)).length + 1 > limit) return false;
      }
      return true;
    };
    if (await fits(steps.length)) return steps.length;
    if (!(await fits(0))) {
      throw new BackendError(
        `the problem statement alone is longer than the model's context (${this.backend.info.contextSize} tokens); ` +
          `use a model with a longer context or shorten the problem`,
        "context-overflow",
      );
    }
    let lo = 0;
    let hi = steps.length;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (await fits(mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  private async logprobsCached(session: BackendSession, template: string, prefix: string, continuations: string[], signal?: AbortSignal): Promise<number[]> {
    const base = hash(`${template}\u0000${prefix}`);
    const keys = continuations.map((c) => `${base}\u0000${c}`);
    const missing = continuations.filter((_, k) => !this.lpCache.has(keys[k]!));
    if (missing.length > 0) {
      const scored = await session.scoreContinuations(prefix, missing, signal);
      missing.forEach((c, k) => this.remember(this.lpCache, `${base}\u0000${c}`, scored[k]!.meanLogprob));
    }
    return keys.map((k) => this.lpCache.get(k)!);
  }

  private async sampleCached(session: BackendSession, prefix: string, n: number, salt: number, signal?: AbortSignal): Promise<string[]> {
    const { config } = this;
    const key = hash(`${prefix}\u0000${n}\u0000${config.temperature}\u0000${config.sampleMaxTokens}\u0000${config.seed}`);
    const cached = this.sampleCache.get(key);
    if (cached) return cached;
    const seed = seedFrom(prefix, config.seed + salt * 1000);
    const drawn = await session.sample(
      prefix,
      { n, maxTokens: config.sampleMaxTokens, temperature: config.temperature, seed, stopAt: "number" },
      signal,
    );
    this.remember(this.sampleCache, key, drawn);
    return drawn;
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= CpmiScorer.CACHE_LIMIT) map.delete(map.keys().next().value as string);
    map.set(key, value);
  }

  /** From scratch: BOS + prefix + cue + continuation for every answer. */
  private async naiveScoreCost(prefix: string, continuations: readonly string[]): Promise<number> {
    let n = 0;
    for (const c of continuations) n += 1 + (await this.backend.tokenize(prefix + c)).length;
    return n;
  }

  /** From scratch: every sample evaluates BOS + prefix + cue, then its own generated tokens. */
  private async naiveSampleCost(prefix: string, drawn: readonly string[]): Promise<number> {
    const p = 1 + (await this.backend.tokenize(prefix)).length;
    let n = 0;
    for (const d of drawn) n += p + (await this.backend.tokenize(d)).length;
    return n;
  }
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function hash(s: string): string {
  return createHash("sha1").update(s).digest("base64");
}

function seedFrom(text: string, base: number): number {
  return (createHash("sha1").update(text).digest().readUInt32LE(0) ^ base) >>> 0;
}
