// Scores every candidate solution of a parsed file: what `steplens score` prints and what the
// language server turns into diagnostics, hovers and code lenses.

import type { CpmiScorer, GoldAnswer, SolutionScore, StepScore } from "./cpmi/scorer.js";
import type { ParsedDocument, Solution, Step } from "./parse/types.js";
import { BestOfN } from "./bon/bestOfN.js";
import type { MonteCarloScorer } from "./mc/monteCarlo.js";
import { withMethod, type StepMethod } from "./methods/stepMethods.js";
import type { ImplicitPrmScorer } from "./implicit/implicitPrm.js";
import { implicitSolutionScore } from "./implicit/asSolutionScore.js";
import { writtenFromDocument } from "./implicit/written.js";
import { combineWithImplicit } from "./implicit/combined.js";

export type Verdict = "ok" | "weak" | "wrong" | "not scored";

/**
 * "wrong": the soft label is near 0 (the model is far more confident in wrong answers after the step);
 * "weak": below the threshold. The cut for "wrong" is a quarter of the threshold.
 */
export function verdictOf(step: StepScore, threshold: number): Verdict {
  if (step.truncated || !Number.isFinite(step.softLabel)) return "not scored";
  if (step.softLabel < threshold / 4) return "wrong";
  if (step.softLabel < threshold) return "weak";
  return "ok";
}

export interface ScoredStep {
  step: Step;
  score: StepScore;
  verdict: Verdict;
}

export interface ScoredSolution {
  solution: Solution;
  result: SolutionScore;
  steps: ScoredStep[];
}

export interface DocumentScore {
  document: ParsedDocument;
  gold?: GoldAnswer;
  solutions: ScoredSolution[];
  warnings: string[];
}

export interface ScoreDocumentOptions {
  /** A gold answer given by the user (flag or setting); wins over the file's own. */
  gold?: string;
  signal?: AbortSignal;
  /**
   * How steps are scored. Other methods than CPMI replace each step's soft label (and so the verdict,
   * the solution score and the first error) with their value in [0, 1]; the CPMI terms stay for the
   * hover. The CPMI part of cpmi_merge comes from the scorer's memo, so it costs nothing extra.
   */
  method?: StepMethod;
  /** Required for mc, cpmi_merge and rand_merge. */
  mc?: MonteCarloScorer;
  /** Required for implicit: the model pair. */
  implicit?: ImplicitPrmScorer;
  /** The file's text the document was parsed from: Implicit PRM reads the solution as written. */
  sourceText?: string;
  /** Before each solution and once at the end: steps scored so far and in all. */
  onProgress?: (stepsDone: number, stepsTotal: number) => void;
}

export async function scoreDocument(scorer: CpmiScorer, doc: ParsedDocument, options: ScoreDocumentOptions = {}): Promise<DocumentScore> {
  const warnings = doc.warnings.map((w) => w.message);
  let gold: GoldAnswer | undefined = options.gold
    ? { value: options.gold, source: "flag" }
    : doc.goldAnswer
      ? { value: doc.goldAnswer.value, source: doc.goldAnswer.source }
      : undefined;
  // Implicit PRM needs no gold answer: it never samples one, and scores from the written text alone.
  if (options.method === "implicit") return await scoreImplicit(doc, gold, warnings, options, scorer.config.threshold);
  if (!gold && doc.problem.trim()) {
    // The model's own answer, from solutions it writes to the question (self-consistency), rather
    // than the scorer's fallback of answers sampled right after the answer cue: on the Best-of-N dev
    // set the latter named a wrong answer 7.5% of the time, the former never (bench/README.md).
    // With several candidates the vote is read among their answers; a single solution's own answer
    // gets no say, or a wrong solution would be judged against itself.
    const answers = doc.solutions.length > 1 ? doc.solutions.map((s) => s.finalAnswer?.value) : [];
    gold = await BestOfN.of(scorer).pseudoGoldOf(doc.problem, answers, { signal: options.signal });
    warnings.push(
      `no gold answer given: using the model's majority answer ${gold.value} ` +
        `(${Math.round((gold.agreement ?? 0) * 100)}% of the solutions it wrote to the question); name the right one in front matter (answer: N) or % answer: N`,
    );
  }
  if (!doc.problem.trim()) warnings.push("no problem statement found: start the file with `Question: ...` (or a `## Problem` section) so the model knows what is being solved");
  const solutions: ScoredSolution[] = [];
  const stepsTotal = doc.solutions.reduce((n, s) => n + s.steps.length, 0);
  let stepsDone = 0;
  for (const solution of doc.solutions) {
    if (solution.steps.length === 0) continue;
    options.onProgress?.(stepsDone, stepsTotal);
    const result = await scorer.score({
      problem: doc.problem,
      steps: solution.steps.map((s) => s.text),
      gold,
      signal: options.signal,
    });
    // A fallback gold answer is guessed once per problem, not once per candidate.
    gold ??= result.gold;
    if (options.method === "cpmi_implicit") {
      // CPMI's result, with the soft labels averaged with Implicit PRM's (implicit/combined.ts).
      const written = options.implicit && options.sourceText != null ? writtenFromDocument(options.sourceText, doc, solution) : undefined;
      if (!written) throw new Error("method cpmi_implicit needs the model pair and the file's text (sourceText)");
      combineWithImplicit(result, await options.implicit!.score(written, options.signal), scorer.config.threshold);
    } else if (options.method) {
      await withMethod(options.method, { cpmi: scorer, mc: options.mc }, doc.problem, solution.steps.map((s) => s.text), result, options.signal);
    }
    for (const w of result.warnings) if (!warnings.includes(w)) warnings.push(w);
    solutions.push({
      solution,
      result,
      steps: solution.steps.map((step, i) => ({ step, score: result.steps[i]!, verdict: verdictOf(result.steps[i]!, scorer.config.threshold) })),
    });
    stepsDone += solution.steps.length;
  }
  options.onProgress?.(stepsDone, stepsTotal);
  return { document: doc, gold, solutions, warnings };
}

async function scoreImplicit(doc: ParsedDocument, gold: GoldAnswer | undefined, warnings: string[], options: ScoreDocumentOptions, threshold: number): Promise<DocumentScore> {
  if (!options.implicit) throw new Error("method implicit needs a reference model: pass --reference-model PATH");
  if (options.sourceText == null) throw new Error("Implicit PRM reads the solution as written: pass the file's text as sourceText");
  if (!doc.problem.trim()) warnings.push("no problem statement found: start the file with `Question: ...` (or a `## Problem` section) so the model knows what is being solved");
  const solutions: ScoredSolution[] = [];
  const stepsTotal = doc.solutions.reduce((n, s) => n + s.steps.length, 0);
  let stepsDone = 0;
  for (const solution of doc.solutions) {
    const written = writtenFromDocument(options.sourceText, doc, solution);
    if (!written) continue;
    options.onProgress?.(stepsDone, stepsTotal);
    const result = implicitSolutionScore(await options.implicit.score(written, options.signal), gold);
    for (const w of result.warnings) if (!warnings.includes(w)) warnings.push(w);
    solutions.push({
      solution,
      result,
      steps: solution.steps.map((step, i) => ({ step, score: result.steps[i]!, verdict: verdictOf(result.steps[i]!, threshold) })),
    });
    stepsDone += solution.steps.length;
  }
  options.onProgress?.(stepsDone, stepsTotal);
  return { document: doc, gold, solutions, warnings };
}
