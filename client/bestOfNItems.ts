// The Best-of-N picker's rows and the JSONL line a choice is saved as, vscode-free for the tests.

import { appendFile, open } from "node:fs/promises";
import type { BestOfNCandidate, BestOfNResult } from "../protocol/index.js";
import { formatScore } from "./buckets.js";

export interface CandidateItem {
  label: string;
  description: string;
  detail: string;
  best: boolean;
  candidate: BestOfNCandidate;
}

/** Best first (starred), then by score, unscored last; ties keep file order. */
export function candidateItems(result: BestOfNResult, fileLabel: (uri: string) => string): CandidateItem[] {
  const best = result.candidates[result.best];
  const multipleFiles = new Set(result.candidates.map((c) => c.uri)).size > 1;
  const rows = result.candidates.map((candidate, order) => ({ candidate, order, best: candidate === best }));
  rows.sort((a, b) => {
    if (a.best !== b.best) return a.best ? -1 : 1;
    const sa = a.candidate.score ?? -Infinity;
    const sb = b.candidate.score ?? -Infinity;
    return sb - sa || a.order - b.order;
  });
  return rows.map(({ candidate, best: isBest }) => {
    const title = candidate.title || `Candidate ${candidate.solutionIndex + 1}`;
    const parts = [
      candidate.score === null ? "not scored" : `score ${formatScore(candidate.score)}`,
      candidate.finalAnswer !== undefined ? `answer ${candidate.finalAnswer}` : "no final answer",
    ];
    if (multipleFiles) parts.push(fileLabel(candidate.uri));
    return {
      label: `${isBest ? "$(star-full) " : ""}${title}`,
      description: parts.join(" · "),
      detail: oneLine(candidate.preview),
      best: isBest,
      candidate,
    };
  });
}

/** QuickPick details are one line: newlines would be shown as-is or cut. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s*\n\s*/g, " ⏎ ").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export interface ChoiceRecord {
  file: string;
  /** 1-based position of the candidate in its file, as the titles count. */
  candidate: number;
  title: string;
  score: number | null;
  answer: string | null;
  text: string;
}

export function choiceRecord(candidate: BestOfNCandidate, file: string): ChoiceRecord {
  return {
    file,
    candidate: candidate.solutionIndex + 1,
    title: candidate.title,
    score: candidate.score,
    answer: candidate.finalAnswer ?? null,
    text: candidate.text,
  };
}

/** One JSON line, newline included: appending it can never run two records together. */
export function choiceLine(candidate: BestOfNCandidate, file: string): string {
  return `${JSON.stringify(choiceRecord(candidate, file))}\n`;
}

/** Appends one line, first ending a last line someone left without its newline. */
export async function appendJsonLine(file: string, line: string): Promise<void> {
  let prefix = "";
  try {
    const handle = await open(file, "r");
    try {
      const { size } = await handle.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = "\n";
      }
    } finally {
      await handle.close();
    }
  } catch {
    // No file yet: appendFile creates it.
  }
  await appendFile(file, prefix + line, "utf8");
}
