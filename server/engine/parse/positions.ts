// Offsets to line/column. Line breaks are \r\n, \r and \n, the same set VS Code and markdown-it
// use, so a line number from markdown-it's token maps names the same line here.

import type { SourcePosition, SourceRange } from "./types.js";

/** A half-open span [start, end) of UTF-16 offsets into the whole text. */
export interface Span {
  start: number;
  end: number;
}

export class LineIndex {
  /** Offset of the first character of each line. */
  readonly starts: number[];

  constructor(readonly text: string) {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      }
    }
    this.starts = starts;
  }

  get lineCount(): number {
    return this.starts.length;
  }

  lineStart(line: number): number {
    return this.starts[line] ?? this.text.length;
  }

  /** Where line `line` ends, before its line break. */
  lineEnd(line: number): number {
    const next = this.starts[line + 1];
    if (next === undefined) return this.text.length;
    return this.text.charCodeAt(next - 1) === 10 && this.text.charCodeAt(next - 2) === 13 ? next - 2 : next - 1;
  }

  // Ranges are mostly asked for in source order: start the search at the last line found.
  private hint = 0;

  position(offset: number): SourcePosition {
    const o = Math.max(0, Math.min(offset, this.text.length));
    const s = this.starts;
    const h = this.hint;
    if (s[h]! <= o && (h + 1 >= s.length || o < s[h + 1]!)) return { line: h, column: o - s[h]!, offset: o };
    if (h + 1 < s.length && s[h + 1]! <= o && (h + 2 >= s.length || o < s[h + 2]!)) {
      this.hint = h + 1;
      return { line: h + 1, column: o - s[h + 1]!, offset: o };
    }
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    this.hint = lo;
    return { line: lo, column: o - s[lo]!, offset: o };
  }

  range(start: number, end: number): SourceRange {
    return { start: this.position(start), end: this.position(Math.max(start, end)) };
  }
}

const SPACE = /\s/;

/** Whether the UTF-16 unit `c` is whitespace as `\s` and String.prototype.trim see it. */
export function isSpaceCode(c: number): boolean {
  if (c === 32 || (c >= 9 && c <= 13)) return true;
  return c > 127 && SPACE.test(String.fromCharCode(c));
}

/** The span with surrounding whitespace removed, or undefined when nothing is left. */
export function trimSpan(text: string, start: number, end: number): Span | undefined {
  while (start < end && isSpaceCode(text.charCodeAt(start))) start++;
  while (end > start && isSpaceCode(text.charCodeAt(end - 1))) end--;
  return start < end ? { start, end } : undefined;
}
