// POST /v1/score and POST /v1/bon: the same engine calls as `steplens score` and `steplens bon`, so a
// server's answer equals the CLI's on the same model and settings.

import { parseDocument, cleanStepText, stripStepPrefix } from "../engine/parse/index.js";
import { scoreDocument, verdictOf, type ScoredSolution } from "../engine/scoreDocument.js";
import type { GoldAnswer, SolutionScore } from "../engine/cpmi/scorer.js";
import { bonVariant, DEFAULT_BON_VARIANT, type BonInputRecord } from "../engine/bon/bestOfN.js";
import { HttpError } from "./http.js";
import { BonRequest, parseBody, ScoreRequest } from "./schemas.js";
import type { ServeContext } from "./context.js";

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export interface StepJson {
  index: number;
  text: string;
  reward: number | null;
  soft_label: number | null;
  gold_gain: number | null;
  negative_mean: number | null;
  negative_gains: number[];
  rank: number;
  verdict: string;
  truncated: boolean;
  terms: SolutionScore["steps"][number]["terms"];
}

export interface SolutionJson {
  steps: StepJson[];
  score: number | null;
  aggregation: string;
  first_error: number;
  gold: GoldAnswer;
  negatives: SolutionScore["negatives"];
  tokens: SolutionScore["tokens"];
  warnings: string[];
}

function solutionJson(result: SolutionScore, texts: readonly string[], threshold: number, warnings: string[]): SolutionJson {
  return {
    steps: result.steps.map((s, i) => ({
      index: s.index,
      text: texts[i] ?? "",
      reward: finiteOrNull(s.reward),
      soft_label: finiteOrNull(s.softLabel),
      gold_gain: finiteOrNull(s.goldGain),
      negative_mean: finiteOrNull(s.negativeMean),
      negative_gains: s.negativeGains,
      rank: s.rank,
      verdict: verdictOf(s, threshold),
      truncated: s.truncated,
      terms: s.terms,
    })),
    score: finiteOrNull(result.score),
    aggregation: result.aggregation,
    first_error: result.firstError,
    gold: result.gold,
    negatives: result.negatives,
    tokens: result.tokens,
    warnings,
  };
}

function checkLength(what: string, chars: number, steps: number, ctx: ServeContext): void {
  if (chars > ctx.limits.maxChars) throw new HttpError(413, "solution-too-long", `${what} is ${chars} characters; the server scores at most ${ctx.limits.maxChars} (--max-chars)`);
  if (steps > ctx.limits.maxSteps) throw new HttpError(413, "too-many-steps", `${what} has ${steps} steps; the server scores at most ${ctx.limits.maxSteps} (--max-steps)`);
}

export async function handleScore(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<unknown> {
  const { problem, text, steps, gold_answer: gold, format, file_name: fileName } = parseBody(ScoreRequest, body);
  const threshold = ctx.engine.scorer.config.threshold;
  if (text != null) {
    checkLength("the solution text", text.length, 0, ctx);
    const parsed = parseDocument(text, { fileName, format });
    const doc = problem?.trim() ? { ...parsed, problem } : parsed;
    const stepCount = doc.solutions.reduce((n, s) => n + s.steps.length, 0);
    checkLength("the solution", text.length, stepCount, ctx);
    if (stepCount === 0) {
      throw new HttpError(400, "no-steps", 'no steps found: write one step per line after the problem (e.g. "Step 1: ..."), then an answer line such as "The answer is 42."');
    }
    const scored = await ctx.queue.run(signal, (s) => scoreDocument(ctx.engine.scorer, doc, { gold, signal: s }));
    const solutions = scored.solutions.map((s: ScoredSolution) => ({
      index: s.solution.index,
      title: s.solution.title ?? null,
      final_answer: s.solution.finalAnswer?.value ?? null,
      ...solutionJson(s.result, s.steps.map((st) => st.step.text), threshold, scored.warnings),
    }));
    // The first candidate's fields at the top level: a one-solution file reads like a steps request.
    return { ...solutions[0]!, problem: doc.problem, solutions };
  }
  const list = steps!;
  if (!problem?.trim()) throw new HttpError(400, "invalid-request", 'a "steps" request needs the "problem" it solves');
  checkLength("the solution", list.reduce((n, s) => n + s.length, 0) + problem.length, list.length, ctx);
  if (list.length === 0) throw new HttpError(400, "no-steps", '"steps" is empty: send at least one step');
  // As `steplens label` does with a record's steps: written prefixes ("Step 1:", "- ") are not the model's business.
  const clean = list.map((s) => cleanStepText(stripStepPrefix(s).text));
  const result = await ctx.queue.run(signal, async (s) => {
    // As scoreDocument does for a file without a gold answer: the model's own answer to the question.
    const target: GoldAnswer = gold ? { value: gold, source: "record" } : await ctx.bon.pseudoGoldOf(problem, [], { signal: s });
    return ctx.engine.scorer.score({ problem, steps: clean, gold: target, signal: s });
  });
  const warnings = [...result.warnings];
  if (!gold) warnings.unshift(`no gold answer given: using the model's majority answer ${result.gold.value}`);
  return { ...solutionJson(result, list, threshold, warnings), problem };
}

export async function handleBon(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<unknown> {
  const request = parseBody(BonRequest, body);
  const { problem, gold_answer: gold } = request;
  const method = request.method ?? DEFAULT_BON_VARIANT;
  const candidates = request.candidates.map((c) => ({ text: c.text }));
  if (candidates.length > ctx.limits.maxCandidates) throw new HttpError(413, "too-many-candidates", `${candidates.length} candidates; the server takes at most ${ctx.limits.maxCandidates} per request`);
  for (const [i, c] of candidates.entries()) checkLength(`candidate ${i}`, c.text.length, 0, ctx);
  let variant;
  try {
    variant = bonVariant(method);
  } catch (err) {
    throw new HttpError(400, "invalid-request", (err as Error).message);
  }
  const record: BonInputRecord = { problem, candidates, gold_answer: gold };
  // As `steplens bon --use-gold`: a given gold answer is the target, else the model's pseudo-gold.
  const chosen = { ...variant, target: gold != null ? ("gold" as const) : ("pseudo-gold" as const) };
  const res = await ctx.queue.run(signal, (s) => ctx.bon.pick(record, chosen, { signal: s }));
  return {
    scores: res.scores.map(finiteOrNull),
    pick: res.pick,
    method: variant.name,
    target: { value: res.target.value, source: res.target.source === "record" ? "gold" : "pseudo-gold", agreement: res.target.agreement ?? null },
    answers: res.answers.map((a) => a ?? null),
  };
}
