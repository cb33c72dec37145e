// Monte Carlo step values (Math-Shepherd, Wang et al. 2024; CPMI paper Eq. 1): after each step
// prefix, N rollouts continue the solution to a final answer, and the step's value is the share of
// rollouts that reach the gold answer (soft) or whether any does (hard). This is the costly baseline
// CPMI is measured against, so it gets the same cost tricks as CPMI and no more handicap: every
// rollout forks from the prefix's KV cache (the lane's walker moves along consecutive prefixes), the
// N rollouts of a prefix decode in lockstep as one batch, and each stops at its answer line.

import { createHash } from "node:crypto";
import type { Backend, BackendSession, TokenCounters } from "../backend/types.js";
import { BackendError } from "../backend/types.js";
import { rolloutAnswer } from "../backend/answerStop.js";
import { sameAnswer } from "../cpmi/negatives.js";
import { BUILTIN_TEMPLATES, prefixText, type AnswerTemplate } from "../cpmi/templates.js";

export interface McConfig {
  /** Rollouts per step prefix (Math-Shepherd and the CPMI paper use 8). */
  rollouts: number;
  temperature: number;
  /** Upper bound on the tokens of one rollout (it normally stops earlier, at its answer line). */
  maxTokens: number;
  seed: number;
  /** How the problem and the steps are written before the rollout continues them. */
  template: AnswerTemplate;
}

export const DEFAULT_MC: McConfig = {
  rollouts: 8,
  // The model's own distribution, as for CPMI's sampled negatives: a lower temperature would make
  // MC look better on this easy data only by making it closer to greedy decoding.
  temperature: 1,
  maxTokens: 192,
  seed: 4321,
  template: BUILTIN_TEMPLATES.find((t) => t.name === "question-answer-is")!,
};

export interface McRequest {
  problem: string;
  /** Step texts as the model sees them (written prefixes removed). */
  steps: readonly string[];
  gold: string;
  /** Score only the first n steps (CPMI-Merge needs step 1 only). Default: all. */
  limit?: number;
  signal?: AbortSignal;
}

export interface McStep {
  index: number;
  /** Share of rollouts reaching the gold answer: Math-Shepherd's soft estimate, in [0, 1]. */
  value: number;
  /** 1 when any rollout reaches the gold answer (Math-Shepherd's hard estimate). */
  hard: 0 | 1;
  /** Each rollout's final answer; undefined where it wrote none within maxTokens. */
  answers: (string | undefined)[];
}

export interface McScore {
  steps: McStep[];
  tokens: TokenCounters;
}

export class MonteCarloScorer {
  constructor(
    readonly backend: Backend,
    readonly config: McConfig = DEFAULT_MC,
  ) {
    if (!Number.isInteger(config.rollouts) || config.rollouts < 1) throw new RangeError(`rollouts must be a whole number ≥ 1, got ${config.rollouts}`);
  }

  async score(request: McRequest): Promise<McScore> {
    const session = await this.backend.openSession();
    try {
      return await this.scoreIn(session, request);
    } finally {
      session.release();
    }
  }

  async scoreIn(session: BackendSession, request: McRequest): Promise<McScore> {
    const { config } = this;
    const before = { ...session.counters };
    const n = Math.min(request.limit ?? request.steps.length, request.steps.length);
    const steps: McStep[] = [];
    for (let i = 0; i < n; i++) {
      // The prefix ends after step i and its newline: the rollout writes the next step or the answer line.
      const prefix = prefixText(config.template, request.problem, request.steps, i + 1);
      const prefixLength = (await this.backend.tokenize(prefix)).length + 1;
      const room = this.backend.info.contextSize - prefixLength - 1;
      if (room < 8) throw new BackendError(`the solution up to step ${i + 1} leaves no room in the model's context for a rollout`, "context-overflow");
      const texts = await session.sample(
        prefix,
        {
          n: config.rollouts,
          maxTokens: Math.min(config.maxTokens, room),
          temperature: config.temperature,
          seed: seedFrom(prefix, config.seed),
          stopAt: "answer",
        },
        request.signal,
      );
      const answers = texts.map(rolloutAnswer);
      const hits = answers.filter((a) => a != null && sameAnswer(a, request.gold)).length;
      steps.push({ index: i, value: hits / texts.length, hard: hits > 0 ? 1 : 0, answers });
    }
    return {
      steps,
      tokens: { evaluated: session.counters.evaluated - before.evaluated, generated: session.counters.generated - before.generated },
    };
  }
}

function seedFrom(text: string, base: number): number {
  return (createHash("sha1").update(text).digest().readUInt32LE(0) ^ base) >>> 0;
}
