// Implicit PRM (arXiv 2412.01981, ../shared/papers/003_…): step rewards from a model pair with no
// answer cue, no negatives and no gold answer. A policy π_θ trained from a reference π_ref on
// outcome labels only gives every token a log-ratio log π_θ(y_t|y_<t) − log π_ref(y_t|y_<t); the
// reward of step i is β × the sum over the step's tokens, q_i the running sum, r the sum over the
// whole response. Each model reads the written solution once, in one forward pass: that single pass
// per model is the method's whole cost, and tokens evaluated are counted to show it.

import type { Backend, BackendSession } from "../backend/types.js";
import { BackendError } from "../backend/types.js";
import { aggregate, predictFirstError, type Aggregation } from "../cpmi/aggregate.js";
import { softLabel, type Calibration } from "../cpmi/softLabels.js";
import { tokenOffsets } from "./tokenOffsets.js";
import type { WrittenSolution } from "./written.js";

export const DEFAULT_BETA = 0.05;
/** How many tokens a step's terms name (the ones with the largest |log-ratio|): what a hover lists. */
export const TOP_TOKENS = 5;

/**
 * Soft labels σ(reward / 2β) = σ(Σ log-ratio / 2): free of β, and centred where a step leaves the
 * pair's likelihood ratio unchanged. A robust z-score as CPMI uses does not fit here: most steps
 * score within a few thousandths of 0 (on the dev set the MAD is 0.0036 for β = 0.05), so every
 * slight dip would read as an error. With the default threshold 0.25 a step is wrong when its tokens
 * became e^2.2 ≈ 9 times less likely under the policy than under the reference; on
 * arith-processbench-dev that cut lies beside the best-F1 one (bench/results-implicit/).
 */
export function implicitCalibration(beta: number): Calibration {
  return { median: 0, mad: 2 * beta, n: 0, source: `Implicit PRM: σ(reward / 2β), β = ${beta}` };
}

export interface ImplicitConfig {
  /** β of the pair's training (its model card says which); rewards scale with it. */
  beta: number;
  /** Soft labels: σ((reward − median) / MAD) over step rewards of this pair (implicit/calibrations.ts). */
  calibration: Calibration;
  /** Soft label under which a step is predicted wrong. */
  threshold: number;
  aggregation: Aggregation;
}

export interface TokenTerm {
  /** The token's text as it stands in the solution. */
  text: string;
  /** [start, end) in WrittenSolution.response. */
  start: number;
  end: number;
  /** log π_θ − log π_ref of this token, in nats (not scaled by β). */
  logRatio: number;
}

/** One step's Implicit PRM terms: everything a front end shows about it. */
export interface ImplicitStepScore {
  index: number;
  beta: number;
  /** Σ over the step's tokens of log π_θ − log π_ref. */
  logRatio: number;
  /** β × logRatio: the step reward. */
  reward: number;
  /** Σ_{j ≤ i} reward_j: the cumulative reward (the paper's q). */
  q: number;
  softLabel: number;
  /** Tokens that fell in this step. */
  tokens: number;
  /** The TOP_TOKENS tokens with the largest |log-ratio|, largest first. */
  topTokens: TokenTerm[];
  /** Cut off by the context limit: not scored. */
  truncated: boolean;
}

export interface ImplicitTokenCost {
  /** Tokens pushed through both models together. */
  evaluated: number;
  /** Tokens of the text (prompt and response): each model's one pass evaluates this many (BOS and all but the last). */
  text: number;
  /** Of which response tokens (those that earn a reward). */
  response: number;
}

export interface ImplicitScore {
  beta: number;
  steps: ImplicitStepScore[];
  /** β × Σ over every response token (steps and answer line): the outcome reward r. */
  outcome: number;
  /** Aggregated soft labels. */
  score: number;
  aggregation: Aggregation;
  firstError: number;
  tokens: ImplicitTokenCost;
  warnings: string[];
}

/** The reference model, loaded on first use: a user who never scores with Implicit PRM never pays for it. */
export type ReferenceLoader = () => Promise<Backend>;

export function lazyReference(load: () => Promise<Backend>): ReferenceLoader & { loaded(): Backend | undefined; dispose(): Promise<void> } {
  let pending: Promise<Backend> | undefined;
  let done: Backend | undefined;
  const get = (): Promise<Backend> => {
    pending ??= load().then(
      (b) => (done = b),
      (err: unknown) => {
        pending = undefined;
        throw err;
      },
    );
    return pending;
  };
  // A load still under way when the engine closes is waited for, so its model is freed too.
  const dispose = async (): Promise<void> => {
    const b = await pending?.catch(() => undefined);
    pending = undefined;
    done = undefined;
    await b?.dispose();
  };
  return Object.assign(get, { loaded: () => done, dispose });
}

export class ImplicitPrmScorer {
  constructor(
    readonly policy: Backend,
    readonly reference: ReferenceLoader,
    readonly config: ImplicitConfig,
  ) {}

  async score(written: WrittenSolution, signal?: AbortSignal): Promise<ImplicitScore> {
    const { beta } = this.config;
    const warnings: string[] = [];
    const reference = await this.reference();
    const text = written.prompt + written.response;
    const tokens = await this.policy.tokenize(text);
    // The vocabularies were compared at load (pair.ts); equal token ids here make sure the two
    // models also split this very text the same way, so log-ratios compare like with like.
    const refTokens = await reference.tokenize(text);
    if (refTokens.length !== tokens.length || refTokens.some((t, k) => t !== tokens[k])) {
      throw new BackendError(`the policy ${this.policy.info.model} and the reference ${reference.info.model} tokenize this solution differently; they are not a pair`, "model-invalid");
    }
    const offsets = await tokenOffsets(this.policy, text, tokens);
    const promptEnd = written.prompt.length;
    // Tokens count from the first one that starts in the response; a token that spans a boundary
    // (prompt/response or step/step) belongs to the span where it starts.
    const first = offsets.findIndex((o, k) => k < tokens.length && o >= promptEnd);
    const from = first < 0 ? tokens.length : first;
    // One forward pass over BOS + the text per model holds at most contextSize tokens.
    const room = Math.min(this.policy.info.contextSize, reference.info.contextSize) - 1;
    const fitted = Math.min(tokens.length, room);
    if (fitted < tokens.length) {
      warnings.push(`the solution is longer than the models' context (${room + 1} tokens): steps past token ${fitted} were not scored`);
    }
    const seq = tokens.slice(0, fitted);
    const [lpPolicy, lpReference] = await Promise.all([this.pass(this.policy, seq, from, signal), this.pass(reference, seq, from, signal)]);
    const ratio = seq.map((_, k) => lpPolicy.logprobs[k]! - lpReference.logprobs[k]!);

    const stepOf = (k: number): number => {
      const at = offsets[k]! - promptEnd;
      return written.steps.findIndex((s) => at >= s.start && at < s.end);
    };
    const members: number[][] = written.steps.map(() => []);
    let outcome = 0;
    for (let k = from; k < seq.length; k++) {
      outcome += ratio[k]!;
      const i = stepOf(k);
      if (i >= 0) members[i]!.push(k);
    }
    let q = 0;
    const steps: ImplicitStepScore[] = written.steps.map((span, i) => {
      // A step is scored only when every token of it fit in the context.
      const lastToken = lastTokenBefore(offsets, tokens.length, promptEnd + span.end);
      if (lastToken >= fitted) {
        return { index: i, beta, logRatio: NaN, reward: NaN, q: NaN, softLabel: NaN, tokens: 0, topTokens: [], truncated: true };
      }
      const logRatio = members[i]!.reduce((a, k) => a + ratio[k]!, 0);
      const reward = beta * logRatio;
      q += reward;
      const topTokens = [...members[i]!]
        .sort((a, b) => Math.abs(ratio[b]!) - Math.abs(ratio[a]!))
        .slice(0, TOP_TOKENS)
        .map((k) => ({ text: text.slice(offsets[k]!, offsets[k + 1]!), start: offsets[k]! - promptEnd, end: offsets[k + 1]! - promptEnd, logRatio: ratio[k]! }));
      return { index: i, beta, logRatio, reward, q, softLabel: softLabel(reward, this.config.calibration), tokens: members[i]!.length, topTokens, truncated: false };
    });
    const soft = steps.map((s) => s.softLabel);
    return {
      beta,
      steps,
      outcome: fitted < tokens.length ? NaN : beta * outcome,
      score: aggregate(soft, this.config.aggregation),
      aggregation: this.config.aggregation,
      firstError: predictFirstError(soft, this.config.threshold),
      tokens: { evaluated: lpPolicy.evaluated + lpReference.evaluated, text: tokens.length, response: tokens.length - from },
      warnings,
    };
  }

  private async pass(backend: Backend, tokens: readonly number[], from: number, signal?: AbortSignal): Promise<{ logprobs: number[]; evaluated: number }> {
    const session: BackendSession = await backend.openSession();
    try {
      if (!session.tokenLogprobs) throw new BackendError(`backend ${backend.info.kind} gives no per-token log-probabilities of a whole text, which Implicit PRM needs`, "backend");
      const logprobs = await session.tokenLogprobs(tokens, from, signal);
      return { logprobs, evaluated: session.counters.evaluated };
    } finally {
      session.release();
    }
  }
}

/** Index of the last token that starts before `end` (a text offset), or -1. */
function lastTokenBefore(offsets: readonly number[], count: number, end: number): number {
  let k = -1;
  for (let j = 0; j < count; j++) if (offsets[j]! < end) k = j;
  return k;
}
