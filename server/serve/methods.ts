// Step methods on `steplens serve`: which ones this server can run (/v1/model `methods`), Implicit
// PRM's pair as /v1/model describes it, and a `steps` request of /v1/score scored by any method, the
// way `steplens label` scores a record (the file path goes through scoreDocument, as `steplens score`).

import path from "node:path";
import type { Engine } from "../engine/engineOptions.js";
import type { RemotePairInfo } from "../engine/backend/remote.js";
import type { Backend } from "../engine/backend/types.js";
import type { GoldAnswer, SolutionScore } from "../engine/cpmi/scorer.js";
import { DEFAULT_MC, MonteCarloScorer } from "../engine/mc/monteCarlo.js";
import { ALL_STEP_METHODS, isPairMethod, STEP_METHODS, withMethod, type StepMethod } from "../engine/methods/stepMethods.js";
import { implicitSolutionScore } from "../engine/implicit/asSolutionScore.js";
import { combineWithImplicit } from "../engine/implicit/combined.js";
import { defaultPrompt, writtenFromLines } from "../engine/implicit/written.js";
import { HttpError } from "./http.js";
import type { ServeContext } from "./context.js";

/** Every method needs the server's main model; the pair methods need a server started with --reference-model. */
export function servedMethods(engine: Engine): StepMethod[] {
  return engine.implicit ? [...ALL_STEP_METHODS] : [...STEP_METHODS];
}

/** /v1/model's `pair`: the two models' file names, β and contexts (absent without a pair). */
export function pairInfo(engine: Engine, reference: Backend | undefined): { pair?: RemotePairInfo } {
  const implicit = engine.implicit;
  if (!implicit || !reference) return {};
  return {
    pair: {
      policy: path.basename(implicit.policy.info.model),
      reference: path.basename(reference.info.model),
      beta: implicit.config.beta,
      policy_context_size: implicit.policy.info.contextSize,
      reference_context_size: reference.info.contextSize,
    },
  };
}

/** The method a request asked for (default cpmi), or a 400 saying what the server lacks for it. */
export function methodFor(ctx: ServeContext, asked: StepMethod | undefined): StepMethod {
  const method = asked ?? "cpmi";
  if (isPairMethod(method) && !ctx.engine.implicit) {
    throw new HttpError(400, "no-pair", `method ${method} needs Implicit PRM's model pair, and this server holds one model: start it with \`steplens serve --model POLICY --reference-model REF\``);
  }
  return method;
}

const monteCarlo = new WeakMap<Engine, MonteCarloScorer>();

/** The Monte Carlo scorer of the methods that roll out, made on first use (rollouts fork from the main model's lanes). */
export function mcOf(engine: Engine): MonteCarloScorer {
  let mc = engine.mc ?? monteCarlo.get(engine);
  if (!mc) monteCarlo.set(engine, (mc = new MonteCarloScorer(engine.backend, DEFAULT_MC)));
  return mc;
}

export interface StepsRequest {
  problem: string;
  /** The steps as sent (written prefixes kept): what Implicit PRM reads. */
  written: readonly string[];
  /** The same steps without their prefixes: what CPMI and Monte Carlo read. */
  clean: readonly string[];
  gold?: string;
}

/**
 * One solution given as steps, scored by `method`. Implicit PRM lays the steps out as `steplens
 * label` does a record's (`Question:` / `Answer: Let's think step by step.`, then the steps as
 * sent) and reads no gold answer; the other methods get the given gold or the model's own answer.
 */
export async function scoreSteps(ctx: ServeContext, method: StepMethod, request: StepsRequest, signal: AbortSignal): Promise<SolutionScore> {
  const { engine } = ctx;
  const { problem, written, clean, gold } = request;
  const implicit = async () => await engine.implicit!.score(writtenFromLines(defaultPrompt(problem), written), signal);
  if (method === "implicit") return implicitSolutionScore(await implicit(), gold ? { value: gold, source: "record" } : undefined);
  const target: GoldAnswer = gold ? { value: gold, source: "record" } : await ctx.bon.pseudoGoldOf(problem, [], { signal });
  const result = await engine.scorer.score({ problem, steps: clean, gold: target, signal });
  if (method === "cpmi_implicit") return combineWithImplicit(result, await implicit(), engine.scorer.config.threshold);
  if (method !== "cpmi") await withMethod(method, { cpmi: engine.scorer, mc: mcOf(engine) }, problem, clean, result, signal);
  return result;
}
