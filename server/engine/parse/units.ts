// The common currency between the format readers (plain.ts, markdown.ts, latex.ts) and the
// assembly of problem, steps and answers (assemble.ts): a "unit" is one line, list item, LaTeX
// align row, heading or separator, with the source spans its content came from.

import { parseAnswerLine } from "./answer.js";
import { hasStepPrefix } from "./lines.js";
import type { Span } from "./positions.js";

export type UnitKind =
  | "line" // one line of text
  | "item" // a list item or \item (marker outside `pieces`), possibly several lines
  | "heading" // Markdown heading or LaTeX \section: `title` holds its text
  | "break" // thematic break `---`: separates candidate solutions
  | "problem"; // LaTeX problem environment: the whole unit is the problem statement

export interface Unit {
  kind: UnitKind;
  /** The whole unit in the source, markers included. */
  start: number;
  end: number;
  /** Trimmed source spans of the content, in order (one per source line for multi-line units). */
  pieces: Span[];
  /** The pieces' text joined with single spaces: what the line rules look at. */
  content: string;
  title?: string;
  /** The step text when the reader computes it itself (LaTeX math rows); else it comes from
   * `content` through stripStepPrefix and cleanStepText. */
  text?: string;
}

export function makeUnit(source: string, kind: UnitKind, start: number, pieces: Span[], extra: { end?: number; title?: string; text?: string } = {}): Unit {
  const content = pieces.map((p) => source.slice(p.start, p.end)).join(" ");
  const last = pieces[pieces.length - 1];
  const end = Math.max(extra.end ?? 0, last ? last.end : start);
  const unit: Unit = { kind, start, end, pieces, content };
  if (extra.title !== undefined) unit.title = extra.title;
  if (extra.text !== undefined) unit.text = extra.text;
  return unit;
}

/** The source offset of index `i` of `unit.content` (an index on a joining space maps to the end
 * of the piece before it). */
export function sourceOffset(unit: Unit, i: number): number {
  let at = 0;
  for (const p of unit.pieces) {
    const len = p.end - p.start;
    if (i <= at + len) return p.start + Math.max(0, i - at);
    at += len + 1;
  }
  const last = unit.pieces[unit.pieces.length - 1];
  return last ? last.end : unit.start;
}

/** Where the content ends in the source. */
export function contentEnd(unit: Unit): number {
  const last = unit.pieces[unit.pieces.length - 1];
  return last ? last.end : unit.end;
}

/**
 * A multi-line list item, cut where a later line is an answer line or a `Step N:` line: in
 * Markdown such a line right under the last item is a lazy continuation of it, yet the writer
 * meant a line of its own.
 */
export function itemUnits(source: string, start: number, pieces: Span[]): Unit[] {
  const out: Unit[] = [];
  let from = 0;
  let unitStart = start;
  for (let i = 1; i < pieces.length; i++) {
    const line = source.slice(pieces[i]!.start, pieces[i]!.end);
    if (!parseAnswerLine(line) && !/^\**step[ \t]*\d/i.test(line)) continue;
    out.push(makeUnit(source, from === 0 ? "item" : "line", unitStart, pieces.slice(from, i)));
    from = i;
    unitStart = pieces[i]!.start;
  }
  out.push(makeUnit(source, from === 0 ? "item" : "line", unitStart, pieces.slice(from)));
  // A cut-off tail of several lines is read line by line, like any paragraph.
  return out.flatMap((u) => (u.kind === "line" && u.pieces.length > 1 ? u.pieces.map((p) => makeUnit(source, "line", p.start, [p])) : [u]));
}

export function isPrefixed(unit: Unit): boolean {
  return unit.kind === "item" || hasStepPrefix(unit.content);
}
