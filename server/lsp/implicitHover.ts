// Implicit PRM in the editor's words: the hover's terms (β, the step's summed log-ratio, its reward,
// q and the five tokens that moved it most) and the diagnostic's sentence for a step it flags, which
// names those tokens instead of CPMI's answers (Implicit PRM reads no answer).

import type { DocumentScores, WireSolutionScore, WireStepScore } from "../../protocol/index.js";
import { signed } from "./diagnostics.js";

const cell = (x: number | null, digits = 2): string => (x == null ? "—" : signed(x, digits));

/** A token as Markdown code; whitespace made visible (a leading space is part of many tokens). */
export function tokenCode(text: string): string {
  const shown = text.replace(/\n/g, "⏎").replace(/\|/g, "\\|").replace(/`/g, "ˋ");
  return shown.trim() === "" ? `\`${shown.replace(/ /g, "␣") || "∅"}\`` : `\`${shown.replace(/^ /, "␣")}\``;
}

export function implicitHoverLines(step: WireStepScore): string[] {
  const t = step.implicit;
  if (!t) return [];
  const lines = [
    `**Implicit PRM** · β = ${t.beta} · reward = β × Σ log π_θ/π_ref over the step's ${t.tokens} token${t.tokens === 1 ? "" : "s"}`,
    "",
    "| summed log-ratio | reward | q (running sum) | soft label |",
    "| ---: | ---: | ---: | ---: |",
    `| ${cell(t.logRatio)} | ${cell(t.reward, 4)} | ${cell(t.q, 4)} | ${t.softLabel == null ? "—" : t.softLabel.toFixed(2)} |`,
    "",
  ];
  if (t.topTokens.length > 0) {
    lines.push("Tokens with the largest |log-ratio| (policy over reference):", "", "| token | log π_θ − log π_ref |", "| --- | ---: |");
    for (const k of t.topTokens) lines.push(`| ${tokenCode(k.text)} | ${signed(k.logRatio)} |`);
    lines.push("");
  }
  return lines;
}

/** The flagged step's sentence: how much less likely the policy made it, and which tokens did it. */
export function implicitStepMessage(step: WireStepScore, solution: WireSolutionScore, scores: DocumentScores): string | undefined {
  const t = step.implicit;
  if (!t || t.logRatio == null) return undefined;
  const where = scores.solutions.length > 1 ? ` of ${solution.title ?? `solution ${solution.index + 1}`}` : "";
  const times = Math.exp(-t.logRatio);
  const how = times >= 1 ? `${times >= 10 ? times.toFixed(0) : times.toFixed(1)}× less likely` : `only ${(1 / times).toFixed(1)}× more likely`;
  const tokens = t.topTokens
    .filter((k) => k.logRatio < 0)
    .slice(0, 3)
    .map((k) => `${JSON.stringify(k.text)} ${signed(k.logRatio)}`);
  const which = tokens.length > 0 ? `, most of all ${tokens.join(", ")}` : "";
  const soft = t.softLabel == null ? "—" : t.softLabel.toFixed(2);
  return `Step ${step.index + 1}${where} is ${how} under the Implicit PRM policy than under its reference${which} (reward ${cell(t.reward, 4)}, soft label ${soft})`;
}
