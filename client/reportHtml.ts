// The Step Report webview's HTML, vscode-free so tests can check its CSP and escaping. The
// extension renders the body here (everything escaped) and media/report.js only draws the chart
// from data attributes and wires clicks: no markup is ever built from step text in the webview.

import { randomBytes } from "node:crypto";
import { GOLD_SOURCE_WORDS, type DocumentScores, type WireSolutionScore, type WireStepScore } from "../protocol/index.js";
import { bucketOf, formatScore } from "./buckets.js";

export interface ReportAssets {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  /** webview.asWebviewUri(media/report.js).toString() */
  scriptUri: string;
  styleUri: string;
}

/** What to highlight: a step, or a whole solution when `stepIndex` is absent. */
export interface StepRef {
  solutionIndex: number;
  stepIndex?: number;
}

/** One bar of a solution's chart, as report.js reads it from `data-bars`. */
export interface ChartBar {
  step: number;
  reward: number | null;
  softLabel: number | null;
  bucket: string;
  label: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString("base64");
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** For attribute values that may legitimately hold quotes of the other kind (the CSP's 'none'). */
function escapeDoubleQuoted(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [`default-src 'none'`, `script-src 'nonce-${nonce}'`, `style-src ${cspSource}`, `img-src ${cspSource} data:`].join("; ");
}

export function buildReportHtml(assets: ReportAssets, body: string): string {
  const { cspSource, nonce, scriptUri, styleUri } = assets;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeDoubleQuoted(contentSecurityPolicy(cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(styleUri)}">
<title>StepLens Step Report</title>
</head>
<body>
<main id="root">${body}</main>
<script nonce="${escapeHtml(nonce)}" src="${escapeHtml(scriptUri)}"></script>
</body>
</html>`;
}

function num(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits);
}

function stepId(ref: { solutionIndex: number; stepIndex: number }): string {
  return `step-${ref.solutionIndex}-${ref.stepIndex}`;
}

/** The verdict as the report says it. */
const VERDICT_WORDS: Record<WireStepScore["verdict"], string> = { ok: "good", weak: "weak", wrong: "likely wrong", "not scored": "not scored" };

export function chartBars(solution: WireSolutionScore): ChartBar[] {
  return solution.steps.map((s) => ({
    step: s.index,
    reward: s.reward,
    softLabel: s.softLabel,
    bucket: s.stale ? "stale" : bucketOf(s.verdict),
    label: `Step ${s.index + 1}: soft label ${num(s.softLabel, 2)}, reward ${num(s.reward)}, ${VERDICT_WORDS[s.verdict]}${s.stale ? " (scored before an edit above it)" : ""}`,
  }));
}

/** The per-template terms of one step, folded away: nine columns do not fit beside the editor. */
function termsDetails(step: WireStepScore): string {
  if (step.terms.length === 0) return "";
  const rows = step.terms
    .map(
      (t) =>
        `<tr><td>${escapeHtml(t.template)}</td><td class="num">${num(t.goldGain)}</td>` +
        `<td class="num" title="${escapeHtml(t.negativeGains.map((g) => num(g)).join(", "))}">${num(t.negativeMean)}</td><td class="num">${num(t.reward)}</td></tr>`,
    )
    .join("");
  return (
    `<details class="terms"><summary>per template</summary><table class="terms">` +
    `<thead><tr><th>Template</th><th>Gold gain</th><th>Negatives (mean)</th><th>Reward</th></tr></thead><tbody>${rows}</tbody></table></details>`
  );
}

function stepRow(solution: WireSolutionScore, step: WireStepScore, highlight: StepRef | undefined): string {
  const ref = { solutionIndex: solution.index, stepIndex: step.index };
  const isHighlight = highlight?.solutionIndex === ref.solutionIndex && highlight.stepIndex === ref.stepIndex;
  const isFirstError = solution.firstError === step.index;
  const tags = [isFirstError ? "first error" : "", step.ignored ? "ignored" : "", step.stale ? "stale" : ""].filter(Boolean).map((t) => ` <span class="tag">${t}</span>`).join("");
  const classes = ["step", step.stale ? "stale" : bucketOf(step.verdict), isHighlight ? "highlight" : "", isFirstError ? "first-error" : ""].filter(Boolean).join(" ");
  return (
    `<tr id="${stepId(ref)}" class="${classes}" data-solution="${ref.solutionIndex}" data-step="${ref.stepIndex}">` +
    `<td class="num">${step.index + 1}</td>` +
    `<td class="text">${escapeHtml(step.text)}${tags}${termsDetails(step)}</td>` +
    `<td class="verdict"><span class="dot"></span>${escapeHtml(VERDICT_WORDS[step.verdict])}</td>` +
    `<td class="num">${num(step.softLabel, 2)}</td>` +
    `<td class="num">${num(step.reward)}</td></tr>`
  );
}

export function goldWords(gold: DocumentScores["gold"]): string {
  if (!gold) return "no gold answer";
  const agreement = gold.agreement !== undefined ? `, ${Math.round(gold.agreement * 100)}% of samples agree` : "";
  return `gold answer <strong>${escapeHtml(gold.value)}</strong> (${escapeHtml(GOLD_SOURCE_WORDS[gold.source])}${agreement})`;
}

function solutionSection(solution: WireSolutionScore, scores: DocumentScores, highlight: StepRef | undefined): string {
  const title = solution.title || (scores.solutions.length > 1 ? `Candidate ${solution.index + 1}` : "Solution");
  const facts = [
    `${escapeHtml(solution.aggregation)} score <strong>${solution.score === null ? "–" : formatScore(solution.score)}</strong>`,
    solution.finalAnswer !== undefined ? `final answer <strong>${escapeHtml(solution.finalAnswer)}</strong>` : "no final answer",
    solution.firstError >= 0 ? `first error at step ${solution.firstError + 1}` : solution.stale ? "edited since it was scored" : "no error predicted",
    solution.negatives.length ? `wrong answers compared: ${solution.negatives.map(escapeHtml).join(", ")}` : "",
  ].filter(Boolean);
  const bars = escapeHtml(JSON.stringify(chartBars(solution)));
  const sectionClass = highlight?.solutionIndex === solution.index && highlight.stepIndex === undefined ? "solution highlight" : "solution";
  return `<section class="${sectionClass}" id="solution-${solution.index}">
<h2>${escapeHtml(title)}</h2>
<p class="facts">${facts.join(" · ")}</p>
<div class="chart" data-bars="${bars}" data-solution="${solution.index}" data-threshold="${scores.threshold}" role="img" aria-label="Soft label of each step of ${escapeHtml(title)}, with the threshold ${scores.threshold}"></div>
<table class="steps">
<thead><tr><th>#</th><th>Step</th><th>Verdict</th><th title="0 to 1; below the threshold a step is flagged">Soft label</th><th title="The CPMI reward behind the soft label">Reward</th></tr></thead>
<tbody>
${solution.steps.map((s) => stepRow(solution, s, highlight)).join("\n")}
</tbody>
</table>
</section>`;
}

/** The report's body for one document's scores, or a hint when there are none yet. */
export function buildReportBody(fileName: string, scores: DocumentScores | undefined, highlight?: StepRef): string {
  const head = `<h1>${escapeHtml(fileName)}</h1>`;
  if (!scores || scores.solutions.length === 0) {
    return `${head}<p class="muted">No scores yet. Run <strong>StepLens: Score Current File</strong> on this file.</p>`;
  }
  const meta = [goldWords(scores.gold), `model ${escapeHtml(scores.model)} on ${escapeHtml(scores.backend)}`, `threshold ${scores.threshold}`];
  if (scores.tokens) meta.push(`${scores.tokens.evaluated} tokens evaluated, ${scores.tokens.generated} generated`);
  const warnings = scores.warnings.length ? `<ul class="warnings">${scores.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("")}</ul>` : "";
  return `${head}
<p class="problem">${escapeHtml(scores.problem)}</p>
<p class="facts">${meta.join(" · ")}</p>
${warnings}
${scores.solutions.map((s) => solutionSection(s, scores, highlight)).join("\n")}`;
}
