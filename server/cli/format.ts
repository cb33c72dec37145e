// Terminal and JSON renderings of a scored document.

import { softLabelScale } from "../engine/methods/softLabelScale.js";
import type { Engine } from "../engine/engineOptions.js";
import type { DocumentScore, ScoredSolution } from "../engine/scoreDocument.js";
import { implicitSolutionJson, implicitStepJson } from "../engine/implicit/json.js";

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, s: string): string => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const VERDICT_COLOR: Record<string, number> = { ok: 32, weak: 33, wrong: 31, "not scored": 90 };

function num(x: number, digits = 2, signed = false): string {
  if (!Number.isFinite(x)) return "—";
  const s = x.toFixed(digits);
  return signed && x >= 0 ? `+${s}` : s;
}

function clip(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

const METHOD_TEXT: Record<string, string> = {
  mc: "soft = share of Monte Carlo rollouts from the step that reach the gold answer",
  cpmi_merge: "soft = Monte Carlo share for step 1, CPMI soft label after",
  rand_merge: "soft = Monte Carlo share for step 1, random after (a control, not for real use)",
  cpmi_implicit: "soft = mean of the CPMI soft label (on the reference model) and the Implicit PRM soft label",
};

function num4(x: number): string {
  return num(x, 4, true);
}

export function formatDocumentScore(file: string, scored: DocumentScore, engine: Engine): string {
  const lines: string[] = [];
  const gold = scored.gold ? `${scored.gold.value} (${goldSourceText(scored.gold.source)})` : "none";
  lines.push(paint(1, file));
  if (engine.method === "implicit") {
    // Implicit PRM reads no gold answer, templates or negatives: the pair and β are what it used.
    lines.push(`  policy ${engine.backend.info.model} · reference ${engine.referenceModelPath} · ${engine.backend.info.device} · β ${engine.implicit?.config.beta}`);
    lines.push(`  method implicit: reward = β × Σ log π_θ/π_ref over the step's tokens, q = running sum, soft = σ(reward / 2β)`);
  } else {
    const templates = (scored.solutions[0]?.result.templates ?? engine.scorer.config.templates.map((t) => t.name)).join(", ");
    lines.push(`  model ${engine.backend.info.model} · ${engine.backend.info.device} · ${engine.promptFormat ?? "raw"} prompts · templates ${templates}`);
    lines.push(`  gold answer ${gold}`);
    if (engine.method === "cpmi_implicit") lines.push(`  Implicit PRM policy ${engine.modelPath} · β ${engine.implicit?.config.beta}`);
    const c = engine.scorer.config.calibration;
    lines.push(paint(2, `  soft labels: ${c.origin === "neutral" ? `${c.source} (with --templates/--negatives as given here)` : `calibration ${c.id}, ${c.source}`}`));
  }
  if (engine.method !== "cpmi" && engine.method !== "implicit") lines.push(`  method ${engine.method}: ${METHOD_TEXT[engine.method] ?? ""} (reward: CPMI's, for reference)`);
  for (const w of scored.warnings) lines.push(paint(33, `  warning: ${w}`));
  for (const s of scored.solutions) lines.push(...formatSolution(s, scored.solutions.length > 1));
  if (scored.solutions.length > 1) {
    const best = [...scored.solutions].sort((a, b) => b.result.score - a.result.score)[0]!;
    lines.push(`  best of ${scored.solutions.length}: ${best.solution.title ?? `solution ${best.solution.index + 1}`} (score ${num(best.result.score)})`);
  }
  return lines.join("\n");
}

function formatSolution(s: ScoredSolution, titled: boolean): string[] {
  const lines: string[] = [];
  if (titled) lines.push(paint(1, `  ${s.solution.title ?? `Solution ${s.solution.index + 1}`}`));
  if (s.result.method === "implicit") return [...lines, ...formatImplicit(s)];
  const negs = s.result.negatives.map((n) => `${n.value}${n.source === "sampled" ? "" : ` (${n.source})`}`).join(", ");
  lines.push(`  negatives ${negs || "none"}`);
  lines.push(paint(2, `  ${"step".padStart(4)}  ${"reward".padStart(7)}  ${"soft".padStart(5)}  ${"verdict".padEnd(10)}  text`));
  for (const st of s.steps) {
    const line = st.step.range.start.line + 1;
    lines.push(
      `  ${String(st.step.index + 1).padStart(4)}  ${num(st.score.reward, 3, true).padStart(7)}  ${num(st.score.softLabel).padStart(5)}  ` +
        `${paint(VERDICT_COLOR[st.verdict] ?? 0, st.verdict.padEnd(10))}  ${clip(st.step.text, 70)} ${paint(2, `:${line}`)}`,
    );
  }
  const fe = s.result.firstError;
  lines.push(
    `  score ${num(s.result.score)} (${s.result.aggregation} of soft labels) · first error: ${fe < 0 ? "none" : `step ${fe + 1}`}` +
      (s.solution.finalAnswer ? ` · written answer ${s.solution.finalAnswer.value}` : ""),
  );
  return lines;
}

function formatImplicit(s: ScoredSolution): string[] {
  const imp = s.result.implicit!;
  const lines = [paint(2, `  ${"step".padStart(4)}  ${"reward".padStart(8)}  ${"q".padStart(8)}  ${"soft".padStart(5)}  ${"verdict".padEnd(10)}  ${"top token".padEnd(16)}  text`)];
  for (const st of s.steps) {
    const t = imp.steps[st.step.index];
    const top = t?.topTokens[0];
    const topText = top ? `${JSON.stringify(top.text)} ${num(top.logRatio, 2, true)}` : "—";
    lines.push(
      `  ${String(st.step.index + 1).padStart(4)}  ${num4(st.score.reward).padStart(8)}  ${num4(t?.q ?? NaN).padStart(8)}  ${num(st.score.softLabel).padStart(5)}  ` +
        `${paint(VERDICT_COLOR[st.verdict] ?? 0, st.verdict.padEnd(10))}  ${clip(topText, 16).padEnd(16)}  ${clip(st.step.text, 60)} ${paint(2, `:${st.step.range.start.line + 1}`)}`,
    );
  }
  const fe = s.result.firstError;
  lines.push(
    `  score ${num(s.result.score)} (${s.result.aggregation} of soft labels) · outcome r ${num4(imp.outcome)} · first error: ${fe < 0 ? "none" : `step ${fe + 1}`}` +
      (s.solution.finalAnswer ? ` · written answer ${s.solution.finalAnswer.value}` : ""),
  );
  return lines;
}

export function goldSourceText(source: string): string {
  switch (source) {
    case "front-matter":
      return "from front matter";
    case "latex-comment":
      return "from % answer: comment";
    case "flag":
      return "from --gold";
    case "record":
      return "from the dataset record";
    case "fallback":
      return "FALLBACK: the model's majority answer, no gold given";
    default:
      return source;
  }
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function documentJson(file: string, scored: DocumentScore, engine: Engine): Record<string, unknown> {
  return {
    file,
    format: scored.document.format,
    problem: scored.document.problem,
    gold_answer: scored.gold?.value ?? null,
    gold_source: scored.gold?.source ?? null,
    model: engine.backend.info.model,
    ...(engine.referenceModelPath ? { reference_model: engine.referenceModelPath } : {}),
    device: engine.backend.info.device,
    templates: scored.solutions[0]?.result.templates ?? engine.scorer.config.templates.map((t) => t.name),
    // The scale of every soft_label below: the same for this model and settings wherever it is seen.
    calibration: calibrationJson(engine),
    prompt_format: engine.promptFormat ?? "raw",
    warnings: scored.warnings,
    solutions: scored.solutions.map((s) => ({
      index: s.solution.index,
      title: s.solution.title ?? null,
      score: finiteOrNull(s.result.score),
      aggregation: s.result.aggregation,
      method: s.result.method ?? "cpmi",
      first_error: s.result.firstError,
      final_answer: s.solution.finalAnswer?.value ?? null,
      negatives: s.result.negatives,
      tokens: s.result.tokens,
      steps: s.steps.map((st) => ({
        index: st.step.index,
        text: st.step.text,
        range: st.step.textRange,
        reward: finiteOrNull(st.score.reward),
        soft_label: finiteOrNull(st.score.softLabel),
        verdict: st.verdict,
        rank: st.score.rank,
        gold_gain: finiteOrNull(st.score.goldGain),
        negative_gains: st.score.negativeGains,
        negative_mean: finiteOrNull(st.score.negativeMean),
        terms: st.score.terms,
        truncated: st.score.truncated,
        ...(s.result.implicit ? { implicit: implicitStepJson(s.result.implicit.steps[st.step.index]) } : {}),
      })),
      ...implicitSolutionJson(s.result.implicit),
    })),
  };
}

/** The scale of the soft labels: CPMI's calibration, Implicit PRM's fixed σ(reward / 2β), or both (their mean). */
function calibrationJson(engine: Engine): Record<string, unknown> {
  const c = engine.scorer.config.calibration;
  const cpmi = { id: c.id, origin: c.origin, median: c.median, mad: c.mad, n: c.n, source: c.source };
  const imp = engine.implicit?.config.calibration;
  if (!imp) return cpmi;
  const implicit = { id: imp.id, origin: imp.origin, median: imp.median, mad: imp.mad, source: imp.source };
  if (engine.method === "implicit") return implicit;
  // The id `label` writes into records for the same method (methods/softLabelScale.ts), and both parts.
  const both = softLabelScale(engine);
  return { id: both.id, origin: both.origin, source: both.source, cpmi, implicit };
}
