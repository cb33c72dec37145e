// What each scored step looks like in the editor, decided without vscode so tests can feed it real
// DocumentScores: which bucket (colour, gutter icon) and which after-line text.

import type { WireRange, WireSolutionScore, WireStepScore, WireVerdict } from "../protocol/index.js";
import { otherMethodsText } from "./methodsText.js";

export type Bucket = "good" | "weak" | "wrong" | "notScored" | "stale";

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
  stale: { color: "steplens.staleForeground", icon: "media/gutter-not-scored.svg", label: "scored before an edit" },
};

export const BUCKET_ORDER: readonly Bucket[] = ["good", "weak", "wrong", "notScored", "stale"];

/** When two steps end on one line the line shows the worse one's colour (a fresh score beats a stale one). */
const SEVERITY: Record<Bucket, number> = { stale: -1, good: 0, notScored: 1, weak: 2, wrong: 3 };

/** Said after the first error's score, so it stands out from the weak steps after it. */
export const FIRST_ERROR_TEXT = "first error";
/** Said after a score the last edit made stale (an earlier step or the problem changed). */
export const STALE_TEXT = "(stale)";

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

/**
 * `▲ 0.82` for a good step, `▼ 0.12` for a weak or wrong one; the number is the soft label (0..1).
 * `firstError`: the solution's first error, which says so (`▼ 0.02 first error`).
 */
export function stepScoreText(step: Pick<WireStepScore, "verdict" | "softLabel" | "reward" | "ignored" | "stale" | "methods">, firstError = false): string {
  const bucket = bucketOf(step.verdict);
  if (bucket === "notScored") return "· not scored";
  const value = step.softLabel ?? step.reward;
  const arrow = bucket === "good" ? "▲" : "▼";
  // With steplens.methods the other methods' labels follow the first one's (methodsText.ts).
  const text = (value === null ? arrow : `${arrow} ${formatScore(value)}`) + otherMethodsText(step);
  if (step.stale) return `${text} ${STALE_TEXT}`;
  if (step.ignored) return `${text} (ignored)`;
  return firstError ? `${text} ${FIRST_ERROR_TEXT}` : text;
}

/**
 * A step the user chose to ignore keeps its score but loses its warning colour; a stale one is
 * dimmed; the first error is red whether its soft label made it "weak" or "wrong".
 */
export function stepBucket(step: Pick<WireStepScore, "verdict" | "ignored" | "stale">, firstError = false): Bucket {
  const bucket = bucketOf(step.verdict);
  if (step.stale) return "stale";
  if (step.ignored && (bucket === "weak" || bucket === "wrong")) return "notScored";
  return firstError ? "wrong" : bucket;
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
export function lineMarks(scores: { solutions: ReadonlyArray<Pick<WireSolutionScore, "index" | "firstError" | "steps">> }): LineMark[] {
  const byLine = new Map<number, LineMark>();
  for (const solution of scores.solutions) {
    for (const step of solution.steps) {
      const line = lastLineOf(step.textRange);
      const first = solution.firstError === step.index;
      const bucket = stepBucket(step, first);
      const text = stepScoreText(step, first);
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
  const out: Record<Bucket, LineMark[]> = { good: [], weak: [], wrong: [], notScored: [], stale: [] };
  for (const mark of marks) out[mark.bucket].push(mark);
  return out;
}

/**
 * Where the score text goes. Decoration text (a CSS ::after) takes no part in word wrap: on a wrapped
 * line it ran past the edge, under the minimap. Inlay hints are part of the line as wrap sees it, so
 * where lines wrap (Markdown wraps by default) the score is an inlay hint and the gutter icon keeps
 * the colour; where they do not, it stays coloured text after the line. With inlay hints turned off
 * the user gets the decoration text either way.
 */
export function scoreTextPlacement(wordWrap: string | undefined, inlayHints: string | undefined): "after" | "hint" {
  const wraps = wordWrap !== undefined && wordWrap !== "off";
  const hintsShown = inlayHints === undefined || inlayHints === "on" || inlayHints === "offUnlessPressed";
  return wraps && hintsShown ? "hint" : "after";
}

/**
 * A score as one unbreakable run for an inlay hint: word wrap may break injected text after a space
 * or a period, which split `▲ 0.35` into `▲ 0.` and `35`. No-break spaces and the one-dot leader
 * (drawn like a period) leave it no break opportunity, so the hint moves to the next line whole.
 */
export function unbreakable(text: string): string {
  return text.replace(/ /g, "\u00a0").replace(/\./g, "\u2024");
}
