// YAML front matter at the very top of a Markdown or plain file:
//   ---
//   answer: 42
//   problem: Tom buys 4 pens ...
//   ---
// `answer` (or `gold`, `gold_answer`) gives the gold answer, `problem` (or `question`) the problem.

import { isMap, isScalar, parseDocument as parseYaml, type Node } from "yaml";
import { normalizeAnswer, tooLongAnswer } from "./answer.js";
import type { LineIndex, Span } from "./positions.js";

export interface FrontMatter {
  /** Lines 0..bodyLine-1 are the front matter, closing fence included. */
  bodyLine: number;
  answer?: { value: string; span: Span };
  problem?: { text: string; span: Span };
  warning?: { message: string; span: Span };
}

// Front matter is a short header; a `---` line far down is a thematic break, not its end.
const MAX_LINES = 500;
// The yaml library takes tens of ms on 4 KB of many keys or anchors, and on flow collections nested
// a few thousand deep it overflows the stack after a second: front matter past these is not read.
export const MAX_FRONT_MATTER_CHARS = 4096;
const MAX_FLOW_DEPTH = 32;
const ANSWER_KEYS = new Set(["answer", "gold", "gold_answer", "gold-answer"]);
const PROBLEM_KEYS = new Set(["problem", "question"]);

export function readFrontMatter(lines: LineIndex): FrontMatter | undefined {
  const text = lines.text;
  const line = (n: number): string => text.slice(lines.lineStart(n), lines.lineEnd(n));
  if (lines.lineCount < 2 || !/^\uFEFF?---[ \t]*$/.test(line(0))) return undefined;
  let close = -1;
  for (let n = 1; n < Math.min(lines.lineCount, MAX_LINES); n++) {
    if (/^(?:---|\.\.\.)[ \t]*$/.test(line(n))) {
      close = n;
      break;
    }
  }
  if (close < 0) return undefined;
  const yamlStart = lines.lineStart(1);
  const yamlEnd = lines.lineStart(close);
  const whole = { start: 0, end: lines.lineEnd(close) };
  const fm: FrontMatter = { bodyLine: close + 1 };
  const yamlText = text.slice(yamlStart, yamlEnd);
  if (yamlText.length > MAX_FRONT_MATTER_CHARS) {
    fm.warning = { message: `the front matter is ${yamlText.length.toLocaleString("en-US")} characters long, more than the ${MAX_FRONT_MATTER_CHARS.toLocaleString("en-US")} it may have: it is not read; keep it to short fields such as "answer: 42" and put the problem in the text ("Question: ...")`, span: whole };
    return fm;
  }
  if (flowDepth(yamlText) > MAX_FLOW_DEPTH) {
    fm.warning = { message: `the front matter nests [ ] or { } more than ${MAX_FLOW_DEPTH} deep: it is not read; write it as "key: value" lines, e.g. "answer: 42"`, span: whole };
    return fm;
  }
  const doc = parseYaml(yamlText, { prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    fm.warning = { message: `the front matter is not valid YAML (${firstLine(doc.errors[0]!.message)}); write it as "key: value" lines, e.g. "answer: 42"`, span: whole };
    return fm;
  }
  if (doc.contents === null) return fm;
  if (!isMap(doc.contents)) {
    fm.warning = { message: 'the front matter should hold "key: value" lines, e.g. "answer: 42"', span: whole };
    return fm;
  }
  const at = (node: Node): Span => {
    const r = node.range ?? [0, 0, 0];
    return { start: yamlStart + r[0], end: yamlStart + r[1] };
  };
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value).trim().toLowerCase() : "";
    const value = pair.value;
    if (!isScalar(value) || value.value === null || typeof value.value === "object") continue;
    // A plain scalar as written: YAML reads `answer: 12345678901234567890` as a float (1.2e+19) and
    // `answer: 1e3` as 1000; the answer is what the author wrote.
    const raw = (value.type === "PLAIN" && value.range ? yamlText.slice(value.range[0], value.range[1]) : scalarText(value.value)).trim();
    if (raw === "") continue;
    if (ANSWER_KEYS.has(key) && !fm.answer && !fm.warning) {
      const refused = tooLongAnswer(raw, `the front matter's "${key}"`);
      if (refused) fm.warning = { message: refused, span: at(value) };
      else fm.answer = { value: normalizeAnswer(raw), span: at(value) };
    }
    if (PROBLEM_KEYS.has(key) && !fm.problem) fm.problem = { text: raw.replace(/\s+/g, " "), span: at(value) };
  }
  return fm;
}

/** The deepest nesting of `[` and `{`, counted with brackets inside quotes too: an over-count only
 * refuses front matter that holds dozens of brackets, which no answer or problem needs. */
function flowDepth(s: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return max;
}

function firstLine(s: string): string {
  return s.split(/\r?\n/, 1)[0]!.trim();
}

/** A YAML scalar other than null or a collection, as text. */
function scalarText(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" ? String(v) : "";
}
