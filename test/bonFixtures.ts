// Best-of-N items of ../shared/data/arith-bon-dev.jsonl written as the files people keep candidate
// solutions in: Markdown with `## Candidate N` headings, LaTeX with `\section*{Candidate N}` and an
// enumerate per candidate. No gold answer is written into the files: the normal case.

import { readFileSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "../server/engine/parse/index.js";
import { DATA } from "./helpers.js";

export interface BonCandidate { text: string; answer: string; is_correct: boolean; label: number }
export interface BonItem { id: string; problem: string; gold_answer: string; candidates: BonCandidate[] }

/** Items `from`.. of the dev set (item 0 is examples/candidates.md already). */
export function bonItems(count: number, from = 1): BonItem[] {
  return readFileSync(path.join(DATA, "arith-bon-dev.jsonl"), "utf8").split("\n").filter(Boolean).slice(from, from + count).map((l) => JSON.parse(l) as BonItem);
}

function stepsOf(c: BonCandidate): { steps: string[]; answer: string } {
  const sol = parseDocument(c.text, { format: "plain" }).solutions[0]!;
  return { steps: sol.steps.map((s) => s.text), answer: sol.finalAnswer!.value };
}

export function bonMarkdown(item: BonItem): string {
  const parts = [`Question: ${item.problem}`, ""];
  item.candidates.forEach((c, i) => {
    const { steps, answer } = stepsOf(c);
    parts.push(`## Candidate ${i + 1}`, "", ...steps.map((s, k) => `Step ${k + 1}: ${s}`), `The answer is ${answer}.`, "");
  });
  return parts.join("\n");
}

export function bonLatex(item: BonItem): string {
  const parts = ["\\documentclass{article}", "\\begin{document}", "\\section*{Problem}", item.problem.replace(/\$/g, "\\$"), ""];
  item.candidates.forEach((c, i) => {
    const { steps, answer } = stepsOf(c);
    parts.push(`\\section*{Candidate ${i + 1}}`, "\\begin{enumerate}", ...steps.map((s) => `  \\item ${s}`), "\\end{enumerate}", `Therefore, the answer is $\\boxed{${answer}}$.`, "");
  });
  parts.push("\\end{document}", "");
  return parts.join("\n");
}
