// One entry point for "score these steps with method X", so the CLI's bench, `steplens bon` and the
// language server (through the `method` engine option) share one definition of each method.
// Every method returns per-step values in [0, 1]: CPMI soft labels, MC shares of rollouts, their
// merge, or Implicit PRM soft labels (a model pair, no gold answer needed; implicit/implicitPrm.ts).

import type { CpmiScorer, GoldAnswer, SolutionScore } from "../cpmi/scorer.js";
import { aggregate, predictFirstError } from "../cpmi/aggregate.js";
import type { MonteCarloScorer } from "../mc/monteCarlo.js";
import { cpmiMerge, randMerge, seededRandom } from "../merge/merge.js";
import type { ImplicitPrmScorer } from "../implicit/implicitPrm.js";
import { defaultPrompt, writtenFromLines, type WrittenSolution } from "../implicit/written.js";
import { combineStepScores } from "../implicit/combined.js";

/** Methods that need one model (the editor's `steplens.method` offers these today). */
export const STEP_METHODS = ["cpmi", "mc", "cpmi_merge", "rand_merge"] as const;
/** Methods that need a model pair: `--model` is the policy, `--reference-model` the reference. */
export const PAIR_METHODS = ["implicit", "cpmi_implicit"] as const;
export const ALL_STEP_METHODS = [...STEP_METHODS, ...PAIR_METHODS] as const;
export type StepMethod = (typeof ALL_STEP_METHODS)[number];

export function isStepMethod(s: string): s is StepMethod {
  return (ALL_STEP_METHODS as readonly string[]).includes(s);
}

export function isPairMethod(s: string | undefined): boolean {
  return (PAIR_METHODS as readonly (string | undefined)[]).includes(s);
}

export interface StepMethodScorers {
  cpmi: CpmiScorer;
  mc: MonteCarloScorer;
  /** Rand_Merge's random source (seeded for reproducible runs). */
  random: () => number;
  /** Implicit PRM's model pair (method implicit). */
  implicit?: ImplicitPrmScorer;
}

export interface StepMethodRequest {
  problem: string;
  steps: readonly string[];
  gold: GoldAnswer;
  signal?: AbortSignal;
  /**
   * The solution as written, for Implicit PRM (which reads headers, step prefixes and the answer
   * line); without it the steps are laid out as `Question:` / `Answer: Let's think step by step.`.
   */
  written?: WrittenSolution;
}

/** Implicit PRM needs the written solution; a request without one gets the default layout. */
export function writtenOf(request: Pick<StepMethodRequest, "problem" | "steps" | "written">): WrittenSolution {
  return request.written ?? writtenFromLines(defaultPrompt(request.problem), request.steps);
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
    case "implicit":
    case "cpmi_implicit": {
      if (!scorers.implicit) throw new Error(`method ${method} needs a reference model: pass --reference-model PATH`);
      const implicit = (await scorers.implicit.score(writtenOf(request), signal)).steps.map((s) => s.softLabel);
      return method === "implicit" ? implicit : combineStepScores(await soft(), implicit);
    }
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
  if (method === "implicit" || method === "cpmi_implicit") {
    throw new Error("Implicit PRM reads the written solution: use implicitSolutionScore or combineWithImplicit (implicit/)");
  }
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
