// Best-of-N without a gold answer: which of N written solutions to the same problem is right?
//
// The method (chosen on ../shared/data/arith-bon-dev.jsonl; every variant tried is in BON_VARIANTS and
// bench/bonVariants.ts reports them side by side): CPMI needs a target answer, and in real use there
// is none. The model itself supplies one: it solves the problem a few times (self-consistency
// rollouts) and the answers vote among the candidates' answers, so that a stray rollout cannot name
// an answer no candidate reached. Each candidate's steps are then scored with CPMI
// against it, and the candidates are ranked by the aggregated soft labels (min by default: one
// wrong step spoils a solution). A majority vote over the candidates' written answers is fooled
// when the same wrong answer is written twice; the model's own answer is not, and CPMI then also
// separates two candidates with the same answer when one of them reaches it by a wrong step.

import type { BackendSession } from "../backend/types.js";
import { rolloutAnswer } from "../backend/answerStop.js";
import { firstNumber } from "../backend/numberStop.js";
import { aggregate, type Aggregation } from "../cpmi/aggregate.js";
import { sameAnswer } from "../cpmi/negatives.js";
import { CpmiScorer, type GoldAnswer } from "../cpmi/scorer.js";
import { prefixText } from "../cpmi/templates.js";
import { parseDocument } from "../parse/index.js";
import type { ImplicitPrmScorer } from "../implicit/implicitPrm.js";
import { pickImplicit, withImplicitSoftLabels } from "../implicit/bestOfN.js";

export interface BonInputRecord {
  id?: string | number;
  problem?: string;
  candidates: { text: string }[];
  gold_answer?: string | number;
  [field: string]: unknown;
}

export interface ParsedCandidate {
  steps: string[];
  /** The candidate's written final answer, normalised; undefined if it has no answer line. */
  answer?: string;
}

export type BonTarget = "pseudo-gold" | "gold";
export type BonNegatives = "sampled" | "candidates";

export interface BonVariant {
  name: string;
  /**
   * "cpmi": aggregated CPMI soft labels; "answer": 1 when the candidate's answer is the target;
   * "implicit": aggregated Implicit PRM soft labels, "implicit-outcome": its outcome reward r (both
   * read no target, so no pseudo-gold is drawn for them); "cpmi+implicit": per step the mean of both soft labels.
   */
  scorer: "cpmi" | "answer" | "implicit" | "implicit-outcome" | "cpmi+implicit";
  target: BonTarget;
  negatives: BonNegatives;
  aggregation: Aggregation;
  pseudoGold?: "rollouts" | "cue-samples";
  /** Add the answer match (0/1) to the CPMI score: CPMI then only orders candidates with the same answer. */
  answerFirst?: boolean;
}

export const DEFAULT_BON_VARIANT = "cpmi-pseudo-min";

/** Every variant `steplens bench` compares; the first is the default of `steplens bon`. */
export const BON_VARIANTS: readonly BonVariant[] = [
  { name: "cpmi-pseudo-min", scorer: "cpmi", target: "pseudo-gold", negatives: "sampled", aggregation: "min" },
  { name: "cpmi-pseudo-mean", scorer: "cpmi", target: "pseudo-gold", negatives: "sampled", aggregation: "mean" },
  { name: "cpmi-pseudo-last", scorer: "cpmi", target: "pseudo-gold", negatives: "sampled", aggregation: "last" },
  { name: "cpmi-pseudo-product", scorer: "cpmi", target: "pseudo-gold", negatives: "sampled", aggregation: "product" },
  { name: "cpmi-pseudo-candneg-min", scorer: "cpmi", target: "pseudo-gold", negatives: "candidates", aggregation: "min" },
  { name: "cpmi-pseudo-candneg-mean", scorer: "cpmi", target: "pseudo-gold", negatives: "candidates", aggregation: "mean" },
  { name: "cpmi-cuesamples-min", scorer: "cpmi", target: "pseudo-gold", negatives: "sampled", aggregation: "min", pseudoGold: "cue-samples" },
  { name: "answer-cuesamples", scorer: "answer", target: "pseudo-gold", negatives: "sampled", aggregation: "min", pseudoGold: "cue-samples" },
  { name: "answer-pseudo", scorer: "answer", target: "pseudo-gold", negatives: "sampled", aggregation: "min" },
  { name: "answer+cpmi-pseudo-min", scorer: "cpmi", target: "pseudo-gold", negatives: "sampled", aggregation: "min", answerFirst: true },
  { name: "cpmi-gold-min", scorer: "cpmi", target: "gold", negatives: "sampled", aggregation: "min" },
  { name: "cpmi-gold-mean", scorer: "cpmi", target: "gold", negatives: "sampled", aggregation: "mean" },
  // Implicit PRM (a model pair: --model is the policy, --reference-model the reference); no target.
  { name: "implicit-min", scorer: "implicit", target: "pseudo-gold", negatives: "sampled", aggregation: "min" },
  { name: "implicit-mean", scorer: "implicit", target: "pseudo-gold", negatives: "sampled", aggregation: "mean" },
  { name: "implicit-r", scorer: "implicit-outcome", target: "pseudo-gold", negatives: "sampled", aggregation: "min" },
  { name: "cpmi+implicit-min", scorer: "cpmi+implicit", target: "pseudo-gold", negatives: "sampled", aggregation: "min" },
];

/** Variants scored by Implicit PRM's pair alone, which needs no target answer. */
export function isImplicitVariant(v: BonVariant): boolean {
  return v.scorer === "implicit" || v.scorer === "implicit-outcome";
}

/** Variants that need Implicit PRM's pair (--reference-model). */
export function needsPair(v: BonVariant): boolean {
  return isImplicitVariant(v) || v.scorer === "cpmi+implicit";
}

export function bonVariant(name: string): BonVariant {
  const v = BON_VARIANTS.find((x) => x.name === name);
  if (!v) throw new Error(`unknown Best-of-N method "${name}": use ${BON_VARIANTS.map((x) => x.name).join(", ")}`);
  return v;
}

export function parseCandidates(record: BonInputRecord): { problem: string; candidates: ParsedCandidate[] } {
  let problem = record.problem ?? "";
  const candidates = record.candidates.map((c) => {
    const doc = parseDocument(c.text);
    if (!problem) problem = doc.problem;
    const sol = doc.solutions[0];
    return { steps: sol?.steps.map((s) => s.text).filter((t) => t.length > 0) ?? [], answer: sol?.finalAnswer?.value };
  });
  return { problem, candidates };
}

export interface BonResult {
  scores: number[];
  pick: number;
  target: GoldAnswer;
  answers: (string | undefined)[];
}

export interface BonOptions {
  /** Votes for the pseudo-gold answer (8 rollouts; 16 cue samples). */
  pseudoGoldSamples?: number;
  /** "rollouts": the model solves the problem (default). "cue-samples": answers sampled right after the answer cue. */
  pseudoGold?: "rollouts" | "cue-samples";
  signal?: AbortSignal;
  /** Implicit PRM's pair, for the implicit variants. */
  implicit?: ImplicitPrmScorer;
}

export class BestOfN {
  /** The pseudo-gold of a problem and its candidates' answers, so variants compared on one set share it. */
  private readonly targets = new Map<string, Promise<GoldAnswer>>();

  constructor(readonly scorer: CpmiScorer) {}

  private static readonly perScorer = new WeakMap<CpmiScorer, BestOfN>();

  /**
   * The scorer's shared instance: files re-checked while their author types, and dataset records of
   * the same problem, reuse one pseudo-gold instead of writing the rollouts again.
   */
  static of(scorer: CpmiScorer): BestOfN {
    let bon = BestOfN.perScorer.get(scorer);
    if (!bon) BestOfN.perScorer.set(scorer, (bon = new BestOfN(scorer)));
    return bon;
  }

  /**
   * The model's own answer to the question (self-consistency): it solves the problem `n` times,
   * writing steps up to an answer line as it learned to, and the answers vote. The vote is read
   * among the candidates' answers, so a stray rollout cannot name an answer no candidate reached;
   * when no rollout names any candidate's answer, the rollouts' own majority is used.
   * (The CPMI scorer's fallback, 16 answers sampled right after the question's answer cue with no
   * reasoning written, was tried first: it named a wrong answer on 3 of the first 40 items.)
   */
  async pseudoGold(problem: string, answers: readonly (string | undefined)[], options: BonOptions = {}): Promise<GoldAnswer> {
    const n = options.pseudoGoldSamples ?? 8;
    const t0 = this.scorer.config.templates[0]!;
    const session: BackendSession = await this.scorer.backend.openSession();
    let drawn: (string | undefined)[];
    try {
      const head = prefixText(t0, problem, [], 0);
      const { temperature, seed, sampleMaxTokens } = this.scorer.config;
      if (options.pseudoGold === "cue-samples") {
        const texts = await session.sample(head + t0.cue, { n: options.pseudoGoldSamples ?? 16, maxTokens: sampleMaxTokens, temperature, seed: seed + 99, stopAt: "number" }, options.signal);
        drawn = texts.map(firstNumber);
      } else {
        const room = this.scorer.backend.info.contextSize - (await this.scorer.backend.tokenize(head)).length - 2;
        const texts = await session.sample(head, { n, maxTokens: Math.max(8, Math.min(256, room)), temperature, seed: seed + 99, stopAt: "answer" }, options.signal);
        drawn = texts.map(rolloutAnswer);
      }
    } finally {
      session.release();
    }
    const votes = drawn.filter((x): x is string => x != null);
    const count = (a: string): number => votes.filter((v) => sameAnswer(v, a)).length;
    let best: string | undefined;
    let bestCount = 0;
    for (const a of answers) if (a != null && count(a) > bestCount) [best, bestCount] = [a, count(a)];
    if (!best) for (const v of votes) if (count(v) > bestCount) [best, bestCount] = [v, count(v)];
    if (!best) best = answers.find((a) => a != null) ?? "0";
    return { value: best, source: "fallback", agreement: bestCount / Math.max(1, drawn.length) };
  }

  /** `pseudoGold`, memoised by problem and answers (an aborted or failed draw is not kept). */
  pseudoGoldOf(problem: string, answers: readonly (string | undefined)[], options: BonOptions = {}): Promise<GoldAnswer> {
    const key = JSON.stringify([problem, answers, options.pseudoGold ?? "rollouts", options.pseudoGoldSamples ?? 0]);
    let pending = this.targets.get(key);
    if (!pending) {
      if (this.targets.size > 10_000) this.targets.clear();
      pending = this.pseudoGold(problem, answers, options);
      this.targets.set(key, pending);
      pending.catch(() => this.targets.delete(key));
    }
    return pending;
  }

  async pick(record: BonInputRecord, variant: BonVariant = bonVariant(DEFAULT_BON_VARIANT), options: BonOptions = {}): Promise<BonResult> {
    if (isImplicitVariant(variant)) {
      if (!options.implicit) throw new Error(`Best-of-N method ${variant.name} needs Implicit PRM's pair: pass --reference-model PATH (--model is then the policy)`);
      return await pickImplicit(options.implicit, record, variant, options.signal);
    }
    const { problem, candidates } = parseCandidates(record);
    const answers = candidates.map((c) => c.answer);
    let target: GoldAnswer;
    if (variant.target === "gold") {
      if (record.gold_answer == null) throw new Error(`record ${record.id ?? "?"} has no gold_answer; use a pseudo-gold method`);
      target = { value: String(record.gold_answer), source: "record" };
    } else {
      target = await this.pseudoGoldOf(problem, answers, { ...options, pseudoGold: variant.pseudoGold ?? options.pseudoGold });
    }
    const scores: number[] = [];
    for (const c of candidates) {
      const match = c.answer != null && sameAnswer(c.answer, target.value) ? 1 : 0;
      if (variant.scorer === "answer" || c.steps.length === 0) {
        scores.push(match);
        continue;
      }
      const negatives =
        variant.negatives === "candidates"
          ? distinct(answers.filter((a): a is string => a != null && !sameAnswer(a, target.value)))
          : undefined;
      const out = await this.scorer.score({
        problem,
        steps: c.steps,
        gold: target,
        negatives: negatives && negatives.length > 0 ? negatives : undefined,
        signal: options.signal,
      });
      // cpmi+implicit: each step's CPMI soft label averaged with Implicit PRM's (implicit/combined.ts).
      const soft = variant.scorer === "cpmi+implicit" ? await withImplicitSoftLabels(options.implicit, record, candidates.indexOf(c), out.steps.map((x) => x.softLabel), options.signal) : out.steps.map((x) => x.softLabel);
      const s = aggregate(soft, variant.aggregation);
      scores.push((Number.isFinite(s) ? s : 0) + (variant.answerFirst ? match : 0));
    }
    let pick = 0;
    scores.forEach((s, k) => {
      if (s > scores[pick]!) pick = k;
    });
    return { scores, pick, target, answers };
  }
}

function distinct(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) if (!out.some((o) => sameAnswer(o, v))) out.push(v);
  return out;
}

/** Expected accuracy of a uniformly random pick and of a majority vote over written answers (ties split). */
export function bonBaselines(candidates: readonly { answer?: string; correct: boolean }[]): { random: number; majority: number; best: number } {
  const n = candidates.length;
  const random = candidates.filter((c) => c.correct).length / Math.max(1, n);
  const counts = new Map<string, number>();
  for (const c of candidates) if (c.answer != null) counts.set(c.answer, (counts.get(c.answer) ?? 0) + 1);
  const top = Math.max(0, ...counts.values());
  const winners = [...counts.entries()].filter(([, k]) => k === top).map(([a]) => a);
  const majority = winners.length ? winners.filter((a) => candidates.some((c) => c.answer === a && c.correct)).length / winners.length : 0;
  return { random, majority, best: candidates.some((c) => c.correct) ? 1 : 0 };
}
