// What each scored step looks like in the editor, decided without vscode so tests can feed it real
// DocumentScores: which bucket (colour, gutter icon) and which after-line text.

import type { DocumentScores, WireRange, WireStepScore, WireVerdict } from "../protocol/index.js";
import { otherMethodsText } from "./methodsText.js";

export type Bucket = "good" | "weak" | "wrong" | "notScored";

export interface BucketStyle {
  /** Theme colour contributed in package.json. */
  color: string;
  /** Gutter icon under media/. */
  icon: string;
  label: string;
}

export const BUCKETS: Record<Bucket, BucketStyle> = {
  good: { color: "steplens.goodForeground", icon: "media/gutter-good.svg", label: "good step" },
  weak: { color: "steplens.weakForeground", icon: "media/gutter-weak.svg", label: "weak step" },
  wrong: { color: "steplens.wrongForeground", icon: "media/gutter-wrong.svg", label: "likely wrong step" },
  notScored: { color: "steplens.notScoredForeground", icon: "media/gutter-not-scored.svg", label: "not scored" },
};

export const BUCKET_ORDER: readonly Bucket[] = ["good", "weak", "wrong", "notScored"];

/** When two steps end on one line the line shows the worse one's colour. */
const SEVERITY: Record<Bucket, number> = { good: 0, notScored: 1, weak: 2, wrong: 3 };

export function bucketOf(verdict: WireVerdict): Bucket {
  switch (verdict) {
    case "ok":
      return "good";
    case "weak":
      return "weak";
    case "wrong":
      return "wrong";
    case "not scored":
      return "notScored";
  }
}

export function formatScore(value: number): string {
  return value.toFixed(2);
}

/** `▲ 0.82` for a good step, `▼ 0.12` for a weak or wrong one; the number is the soft label (0..1). */
export function stepScoreText(step: Pick<WireStepScore, "verdict" | "softLabel" | "reward" | "ignored" | "methods">): string {
  const bucket = bucketOf(step.verdict);
  if (bucket === "notScored") return "· not scored";
  const value = step.softLabel ?? step.reward;
  const arrow = bucket === "good" ? "▲" : "▼";
  // With steplens.methods the other methods' labels follow the first one's (methodsText.ts).
  const text = (value === null ? arrow : `${arrow} ${formatScore(value)}`) + otherMethodsText(step);
  return step.ignored ? `${text} (ignored)` : text;
}

/** A step the user chose to ignore keeps its score but loses its warning colour. */
export function stepBucket(step: Pick<WireStepScore, "verdict" | "ignored">): Bucket {
  const bucket = bucketOf(step.verdict);
  return step.ignored && (bucket === "weak" || bucket === "wrong") ? "notScored" : bucket;
}

/**
 * The line the score is shown after: the step's last line. A range that ends at column 0 of a later
 * line really ends on the line before (a trailing newline), so the score goes there.
 */
export function lastLineOf(range: WireRange): number {
  const { start, end } = range;
  return end.character === 0 && end.line > start.line ? end.line - 1 : end.line;
}

export interface LineMark {
  line: number;
  bucket: Bucket;
  text: string;
  /** The steps shown on this line, as [solutionIndex, stepIndex]. */
  steps: Array<[number, number]>;
}

/** One mark per line carrying a step's end, sorted by line. */
export function lineMarks(scores: Pick<DocumentScores, "solutions">): LineMark[] {
  const byLine = new Map<number, LineMark>();
  for (const solution of scores.solutions) {
    for (const step of solution.steps) {
      const line = lastLineOf(step.textRange);
      const bucket = stepBucket(step);
      const text = stepScoreText(step);
      const mark = byLine.get(line);
      if (!mark) {
        byLine.set(line, { line, bucket, text, steps: [[solution.index, step.index]] });
        continue;
      }
      mark.text = `${mark.text}  ${text}`;
      mark.steps.push([solution.index, step.index]);
      if (SEVERITY[bucket] > SEVERITY[mark.bucket]) mark.bucket = bucket;
    }
  }
  return [...byLine.values()].sort((a, b) => a.line - b.line);
}

/** Marks grouped per bucket, every bucket present (empty ones clear that decoration type). */
export function marksByBucket(marks: readonly LineMark[]): Record<Bucket, LineMark[]> {
  const out: Record<Bucket, LineMark[]> = { good: [], weak: [], wrong: [], notScored: [] };
  for (const mark of marks) out[mark.bucket].push(mark);
  return out;
}
