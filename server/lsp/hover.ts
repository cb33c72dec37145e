// The hover over a step: the reward taken apart, so a user can see which answer the step pushed the
// model toward, per template, and how the step compares with the rest of its solution.

import { GOLD_SOURCE_WORDS, type DocumentScores, type WireGold, type WireSolutionScore, type WireStepScore } from "../../protocol/index.js";
import { signed } from "./diagnostics.js";
import { implicitHoverLines } from "./implicitHover.js";
import { methodsHoverLines } from "./disagreement.js";

export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

function cell(x: number | null | undefined): string {
  return x == null || !Number.isFinite(x) ? "—" : signed(x);
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, "\\|");
}

export function goldText(gold: WireGold | undefined): string {
  if (!gold) return "none";
  const agreement = gold.source === "fallback" && gold.agreement != null ? `, ${Math.round(gold.agreement * 100)}% of samples agree` : "";
  return `${gold.value} (${GOLD_SOURCE_WORDS[gold.source]}${agreement})`;
}

export function stepHover(step: WireStepScore, solution: WireSolutionScore, scores: DocumentScores): string {
  const gold = scores.gold?.value ?? "gold";
  const negs = solution.negatives;
  const header = ["template", `gold ${escapeCell(gold)}`, ...negs.map((n) => `neg ${escapeCell(n)}`), "negatives (mean)", "reward"];
  const lines: string[] = [];
  const title = scores.solutions.length > 1 ? ` · ${solution.title ?? `solution ${solution.index + 1}`}` : "";
  lines.push(`**StepLens · step ${step.index + 1}${title}**`, "");
  if (step.stale) lines.push("*Scored before an edit above this step: these numbers are the older text's until the next check.*", "");
  else if (solution.firstError === step.index) lines.push("**First error** of this solution.", "");
  if (step.terms.length > 0) {
    lines.push("Gain in the answer's log-probability after this step:", "");
    lines.push(`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`);
    for (const t of step.terms) {
      lines.push(`| ${escapeCell(t.template)} | ${[cell(t.goldGain), ...negs.map((_, m) => cell(t.negativeGains[m])), cell(t.negativeMean), cell(t.reward)].join(" | ")} |`);
    }
    lines.push("");
  }
  lines.push(...implicitHoverLines(step), ...methodsHoverLines(step));
  const scored = solution.steps.filter((s) => s.reward != null).length;
  const soft = step.softLabel == null ? "—" : step.softLabel.toFixed(2);
  const rank = step.rank > 0 ? `${ordinal(step.rank)} of ${scored}` : "—";
  lines.push(`Reward **${cell(step.reward)}** · soft label **${soft}** · rank ${rank} · verdict **${step.verdict}**${step.ignored ? " (ignored)" : ""}  `);
  lines.push(`Gold answer ${goldText(scores.gold)}  `);
  lines.push(`Model ${scores.model} on ${scores.backend}`);
  return lines.join("\n");
}
