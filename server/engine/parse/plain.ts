// Plain text: every non-blank line is a unit. `#` lines still count as headings and `---` as
// candidate separators, so a file renamed from .md to .txt reads the same.

import { isThematicBreak } from "./lines.js";
import { trimSpan, type LineIndex } from "./positions.js";
import { makeUnit, type Unit } from "./units.js";

/** Units of lines [fromLine, toLine). */
export function plainUnits(lines: LineIndex, fromLine = 0, toLine = lines.lineCount): Unit[] {
  const text = lines.text;
  const units: Unit[] = [];
  for (let n = fromLine; n < toLine; n++) {
    const span = trimSpan(text, lines.lineStart(n), lines.lineEnd(n));
    if (!span) continue;
    const line = text.slice(span.start, span.end);
    if (isThematicBreak(line)) units.push(makeUnit(text, "break", span.start, [], { end: span.end }));
    else if (/^#{1,6}(?:[ \t]|$)/.test(line)) {
      units.push(makeUnit(text, "heading", span.start, [span], { title: atxTitle(line) }));
    } else units.push(makeUnit(text, "line", span.start, [span]));
  }
  return units;
}

/** The text of an ATX heading line: opening `#`s and an optional closing run of `#`s removed. */
export function atxTitle(line: string): string {
  const s = line.replace(/^[ \t]*#{1,6}[ \t]*/, "");
  let e = s.length;
  while (e > 0 && s[e - 1] === "#") e--;
  return (e === 0 || s[e - 1] === " " || s[e - 1] === "\t" ? s.slice(0, e) : s).trim();
}
