// The gold answer when nobody gives one: the model's own answer to the question. This is the one
// path for it: a file without `answer:`, a dataset record without gold_answer, /v1/score without
// "gold", a Best-of-N without a gold answer and a bare CpmiScorer.score call all come here (through
// CpmiScorer.goldFor), so the same question gets the same target everywhere and a fix reaches all.
//
// How (self-consistency): the model solves the problem a few times, writing steps up to an answer
// line as it learned to, and the answers vote. With candidates to compare (Best-of-N), the vote is
// read among the candidates' answers, so a stray rollout cannot name an answer no candidate reached.
// Why not the answers sampled right after the question's answer cue, with no reasoning written (the
// scorer's own fallback before): on the Best-of-N dev set they named a wrong answer on 3 of the
// first 40 items, and candidates ranked against them were picked wrongly 7.5% of the time
// (cpmi-cuesamples-min 0.925, against 1.000 with the rollouts; bench/README.md). They stay as the
// "cue-samples" method only for `steplens bench` to keep measuring that comparison.

import type { Backend, BackendSession } from "../backend/types.js";
import { BackendError } from "../backend/types.js";
import { rolloutAnswer } from "../backend/answerStop.js";
import { firstNumber } from "../backend/numberStop.js";
import { sameAnswer } from "./negatives.js";
import { prefixText } from "./templates.js";
import type { CpmiConfig, GoldAnswer } from "./scorer.js";

export type ModelAnswerMethod = "rollouts" | "cue-samples";

export interface ModelAnswerOptions {
  /** "rollouts" (the default, and the only one outside benchmarks) or "cue-samples". */
  method?: ModelAnswerMethod;
  /** Votes: default config.goldRollouts rollouts, or 16 cue samples. */
  samples?: number;
  signal?: AbortSignal;
}

/**
 * The model's majority answer to `problem`, read among `answers` (the candidates being compared; may
 * be empty) when any rollout names one of them. Throws a BackendError when there is nothing to go
 * on: no candidate answers and no rollout that names an answer.
 */
export async function modelAnswer(
  backend: Backend,
  config: CpmiConfig,
  problem: string,
  answers: readonly (string | undefined)[],
  options: ModelAnswerOptions = {},
): Promise<GoldAnswer> {
  const t0 = config.templates[0]!;
  const { temperature, seed, sampleMaxTokens } = config;
  const head = prefixText(t0, problem, [], 0);
  const session: BackendSession = await backend.openSession();
  let drawn: (string | undefined)[];
  try {
    if (options.method === "cue-samples") {
      const texts = await session.sample(head + t0.cue, { n: options.samples ?? 16, maxTokens: sampleMaxTokens, temperature, seed: seed + 99, stopAt: "number" }, options.signal);
      drawn = texts.map(firstNumber);
    } else {
      const room = backend.info.contextSize - (await backend.tokenize(head)).length - 2;
      const n = options.samples ?? config.goldRollouts;
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
  // Candidates to compare but no vote for any: a target is still needed to rank them, and one of
  // their own answers is the least arbitrary (agreement 0 says how little it is worth).
  best ??= answers.find((a) => a != null);
  if (best == null) {
    throw new BackendError(
      `no gold answer given, and none of the ${drawn.length} solutions the model wrote to the question names an answer; ` +
        "give the right answer (front matter `answer: N`, `% answer: N`, --gold, or the record's gold_answer)",
      "backend",
    );
  }
  return { value: best, source: "fallback", agreement: bestCount / Math.max(1, drawn.length) };
}
