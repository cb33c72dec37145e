// One entry point for "score these steps with method X", so the CLI's bench, `steplens bon` and the
// language server (through the `method` engine option) share one definition of each method.
// Every method returns per-step values in [0, 1]: CPMI soft labels, MC shares of rollouts, or their merge.

import type { CpmiScorer, GoldAnswer } from "../cpmi/scorer.js";
import type { MonteCarloScorer } from "../mc/monteCarlo.js";
import { cpmiMerge, randMerge } from "../merge/merge.js";

export const STEP_METHODS = ["cpmi", "mc", "cpmi_merge", "rand_merge"] as const;
export type StepMethod = (typeof STEP_METHODS)[number];

export function isStepMethod(s: string): s is StepMethod {
  return (STEP_METHODS as readonly string[]).includes(s);
}

export interface StepMethodScorers {
  cpmi: CpmiScorer;
  mc: MonteCarloScorer;
  /** Rand_Merge's random source (seeded for reproducible runs). */
  random: () => number;
}

export interface StepMethodRequest {
  problem: string;
  steps: readonly string[];
  gold: GoldAnswer;
  signal?: AbortSignal;
}

export async function scoreStepsWith(method: StepMethod, scorers: StepMethodScorers, request: StepMethodRequest): Promise<number[]> {
  const { problem, steps, gold, signal } = request;
  if (steps.length === 0) return [];
  const soft = async (): Promise<number[]> => (await scorers.cpmi.score({ problem, steps, gold, signal })).steps.map((s) => s.softLabel);
  const mc = async (limit?: number): Promise<number[]> =>
    (await scorers.mc.score({ problem, steps, gold: gold.value, limit, signal })).steps.map((s) => s.value);
  switch (method) {
    case "cpmi":
      return soft();
    case "mc":
      return mc();
    case "cpmi_merge":
      return cpmiMerge({ mcValues: await mc(1), cpmiSoftLabels: await soft() });
    case "rand_merge":
      return randMerge(await mc(1), steps.length, scorers.random);
  }
}
