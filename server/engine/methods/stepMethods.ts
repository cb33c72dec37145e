// One entry point for "score these steps with method X", so the CLI's bench, `steplens bon` and the
// language server (through the `method` engine option) share one definition of each method.
// Every method returns per-step values in [0, 1]: CPMI soft labels, MC shares of rollouts, or their merge.

import type { CpmiScorer, GoldAnswer, SolutionScore } from "../cpmi/scorer.js";
import { aggregate, predictFirstError } from "../cpmi/aggregate.js";
import type { MonteCarloScorer } from "../mc/monteCarlo.js";
import { cpmiMerge, randMerge, seededRandom } from "../merge/merge.js";

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

/**
 * A CPMI result re-labeled by another method: that method's values in [0, 1] replace the soft labels
 * (and so the solution score and the first error); the CPMI rewards and terms stay for reference.
 * CPMI's own part of a merge comes from the scorer's memo. `steps` are the texts the result scored.
 */
export async function withMethod(
  method: StepMethod,
  scorers: { cpmi: CpmiScorer; mc?: MonteCarloScorer },
  problem: string,
  steps: readonly string[],
  result: SolutionScore,
  signal?: AbortSignal,
): Promise<SolutionScore> {
  if (method === "cpmi") return result;
  if (!scorers.mc) throw new Error(`method ${method} needs a Monte Carlo scorer`);
  const scored = steps.slice(0, result.steps.filter((s) => !s.truncated).length);
  const values = await scoreStepsWith(method, { cpmi: scorers.cpmi, mc: scorers.mc, random: seededRandom(7) }, { problem, steps: scored, gold: result.gold, signal });
  values.forEach((v, i) => (result.steps[i]!.softLabel = v));
  const soft = result.steps.map((s) => s.softLabel);
  result.score = aggregate(soft, result.aggregation);
  result.firstError = predictFirstError(soft, scorers.cpmi.config.threshold);
  result.method = method;
  return result;
}
