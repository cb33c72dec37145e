// The Step Report webview's HTML, vscode-free so tests can check its CSP and escaping. The
// extension renders the body here (everything escaped) and media/report.js only draws the chart
// from data attributes and wires clicks: no markup is ever built from step text in the webview.

import { randomBytes } from "node:crypto";
import type { DocumentScores, WireSolutionScore, WireStepScore } from "../protocol/index.js";
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

export function chartBars(solution: WireSolutionScore): ChartBar[] {
  return solution.steps.map((s) => ({
    step: s.index,
    reward: s.reward,
    softLabel: s.softLabel,
    bucket: bucketOf(s.verdict),
    label: `Step ${s.index + 1}: reward ${num(s.reward)}, soft label ${num(s.softLabel, 2)}, ${s.verdict}`,
  }));
}

function stepRows(solution: WireSolutionScore, step: WireStepScore, highlight: StepRef | undefined): string {
  const ref = { solutionIndex: solution.index, stepIndex: step.index };
  const isHighlight = highlight?.solutionIndex === ref.solutionIndex && highlight.stepIndex === ref.stepIndex;
  const ignored = step.ignored ? ' <span class="tag">ignored</span>' : "";
  const isFirstError = solution.firstError === step.index;
  const classes = ["step", bucketOf(step.verdict), isHighlight ? "highlight" : "", isFirstError ? "first-error" : ""].filter(Boolean).join(" ");
  const terms = step.terms.length > 0 ? step.terms : [undefined];
  const span = terms.length;
  return terms
    .map((t, i) => {
      const lead =
        i === 0
          ? `<td rowspan="${span}" class="num">${step.index + 1}</td>` +
            `<td rowspan="${span}" class="text">${escapeHtml(step.text)}${isFirstError ? ' <span class="tag">first error</span>' : ""}${ignored}</td>` +
            `<td rowspan="${span}" class="verdict"><span class="dot"></span>${escapeHtml(step.verdict)}</td>` +
            `<td rowspan="${span}" class="num">${num(step.softLabel, 2)}</td>` +
            `<td rowspan="${span}" class="num">${num(step.reward)}</td>`
          : "";
      const cells = t
        ? `<td>${escapeHtml(t.template)}</td><td class="num">${num(t.goldGain)}</td>` +
          `<td class="num" title="${escapeHtml(t.negativeGains.map((g) => num(g)).join(", "))}">${num(t.negativeMean)}</td><td class="num">${num(t.reward)}</td>`
        : `<td colspan="4" class="muted">no terms</td>`;
      const rowAttrs = i === 0 ? ` id="${stepId(ref)}" class="${classes}"` : ` class="${classes} term-row"`;
      return `<tr${rowAttrs} data-solution="${ref.solutionIndex}" data-step="${ref.stepIndex}">${lead}${cells}</tr>`;
    })
    .join("\n");
}

function solutionSection(solution: WireSolutionScore, scores: DocumentScores, highlight: StepRef | undefined): string {
  const title = solution.title || (scores.solutions.length > 1 ? `Candidate ${solution.index + 1}` : "Solution");
  const facts = [
    `${escapeHtml(solution.aggregation)} score <strong>${solution.score === null ? "–" : formatScore(solution.score)}</strong>`,
    solution.finalAnswer !== undefined ? `final answer <strong>${escapeHtml(solution.finalAnswer)}</strong>` : "no final answer",
    solution.firstError >= 0 ? `first error at step ${solution.firstError + 1}` : "no error predicted",
    solution.negatives.length ? `negatives ${solution.negatives.map(escapeHtml).join(", ")}` : "",
  ].filter(Boolean);
  const bars = escapeHtml(JSON.stringify(chartBars(solution)));
  const sectionClass = highlight?.solutionIndex === solution.index && highlight.stepIndex === undefined ? "solution highlight" : "solution";
  return `<section class="${sectionClass}" id="solution-${solution.index}">
<h2>${escapeHtml(title)}</h2>
<p class="facts">${facts.join(" · ")}</p>
<div class="chart" data-bars="${bars}" data-solution="${solution.index}" data-threshold="${scores.threshold}" role="img" aria-label="Per-step rewards of ${escapeHtml(title)}"></div>
<table>
<thead><tr><th>#</th><th>Step</th><th>Verdict</th><th>Soft label</th><th>Reward</th><th>Template</th><th>Gold gain</th><th>Negatives (mean)</th><th>Template reward</th></tr></thead>
<tbody>
${solution.steps.map((s) => stepRows(solution, s, highlight)).join("\n")}
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
  const gold = scores.gold
    ? `gold answer <strong>${escapeHtml(scores.gold.value)}</strong> (${escapeHtml(scores.gold.source)}${
        scores.gold.agreement !== undefined ? `, ${Math.round(scores.gold.agreement * 100)}% of samples agree` : ""
      })`
    : "no gold answer";
  const meta = [gold, `model ${escapeHtml(scores.model)}`, escapeHtml(scores.backend), `threshold ${scores.threshold}`, `version ${scores.version}`];
  if (scores.tokens) meta.push(`${scores.tokens.evaluated} tokens evaluated, ${scores.tokens.generated} generated`);
  const warnings = scores.warnings.length ? `<ul class="warnings">${scores.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("")}</ul>` : "";
  return `${head}
<p class="problem">${escapeHtml(scores.problem)}</p>
<p class="facts">${meta.join(" · ")}</p>
${warnings}
${scores.solutions.map((s) => solutionSection(s, scores, highlight)).join("\n")}`;
}
