// Answer lines (`The answer is 24.`, `#### 24`, `A: 24`, `\boxed{24}`, ...) and the one
// normalisation used both to read them and to compare answers ("24.0" = "24", "$1,200" = "1200").

import { trimCharsEnd } from "./lines.js";
import type { AnswerStyle } from "./types.js";

export interface LineAnswer {
  value: string;
  style: AnswerStyle;
  /** Where the raw value (before normalisation) starts and ends in the line. */
  valueStart: number;
  valueEnd: number;
}

// Longer values are prose, not answers (and keep a stray "the answer is" in a 5 MB line cheap).
const MAX_VALUE = 200;
/** The longest gold answer a file may name (front matter, `% answer:`); longer ones are refused. */
export const MAX_ANSWER_CHARS = MAX_VALUE;

/** Why a gold answer of this length is refused, or undefined when it is short enough to be one. */
export function tooLongAnswer(raw: string, what: string): string | undefined {
  if (raw.length <= MAX_ANSWER_CHARS) return undefined;
  return `${what} is ${raw.length.toLocaleString("en-US")} characters long, not an answer (at most ${MAX_ANSWER_CHARS}): it is ignored; write the final answer alone, e.g. "answer: 42"`;
}

interface Rule {
  style: AnswerStyle;
  re: RegExp;
  /** The value must look like an answer (a digit or a \boxed), not just be non-empty. */
  numeric?: boolean;
}

// Tried in order on the trimmed line; group 1 is the value. Each is anchored or linear: no two
// neighbouring parts may match the same character with only optional parts between them (write
// `[ \t]*(?::[ \t]*)?`, never `[ \t]*:?[ \t]*`), or a failing match retries every split of a long run
// (bench/regex.ts audits every regex the parser runs).
const RULES: Rule[] = [
  { style: "hashes", re: /^####[ \t]*(.*)$/d },
  { style: "bold-answer", re: /^(?:\*\*|__)(?:final[ \t]+)?answer[ \t]*(?::[ \t]*)?(?:\*\*|__)[ \t]*(?::[ \t]*)?(.*)$/di },
  // The value's leading spaces are skipped by valueIn: `:[ \t]*(.*?)` before a failing end retried
  // every split of a run of spaces.
  { style: "bold-answer", re: /^(?:\*\*|__)(?:final[ \t]+)?answer[ \t]*:(.*)(?:\*\*|__)$/di },
  { style: "final-answer", re: /^final[ \t]+answer[ \t]*(?:is[ \t]*)?(?::[ \t]*)?(.*)$/di },
  { style: "the-answer-is", re: /^(?:(?:so|thus|hence|therefore)[ \t]*(?:,[ \t]*)?)?the[ \t]+(?:final[ \t]+)?answer[ \t]+is(?![A-Za-z])[ \t]*(?::[ \t]*)?(.*)$/di },
  // GSM8K model solutions end with `A: N`; a bare `A:` is the solution header instead.
  { style: "a-colon", re: /^A[ \t]*:[ \t]*(?![Ll]et['’]?s [Tt]hink step by step)(\S.*)$/d },
  { style: "final-answer", re: /^answer[ \t]*:[ \t]*(.*)$/di, numeric: true },
  // "..., so the answer is 24." at the end of a longer sentence.
  { style: "the-answer-is", re: /(?:^|[^A-Za-z])the[ \t]+(?:final[ \t]+)?answer[ \t]+is(?![A-Za-z])[ \t]*(?::[ \t]*)?(.*)$/di, numeric: true },
];

// Every rule needs one of these; most lines are ruled out by this single scan.
const MAYBE_ANSWER = /answer|####|\\boxed|^\s*A\s*:/i;

/** Recognises an answer line; `valueStart`/`valueEnd` index the raw value in `line`. */
export function parseAnswerLine(line: string): LineAnswer | undefined {
  if (!MAYBE_ANSWER.test(line)) return undefined;
  const lead = line.length - line.trimStart().length;
  const t = line.trim();
  if (t === "") return undefined;
  for (const rule of RULES) {
    const m = rule.re.exec(t);
    const g = m?.indices?.[1];
    if (!m || !g) continue;
    const found = valueIn(t, g[0], g[1]);
    if (!found) continue;
    if (rule.numeric && !/\d|\\boxed/.test(t.slice(found.start, found.end))) continue;
    return finish(line, lead, found, found.boxed ? "boxed" : rule.style);
  }
  const boxed = boxedInner(t, 0, t.length);
  return boxed ? finish(line, lead, boxed, "boxed") : undefined;
}

interface Found {
  start: number;
  end: number;
  boxed: boolean;
}

function finish(line: string, lead: number, f: Found, style: AnswerStyle): LineAnswer | undefined {
  const raw = line.slice(lead + f.start, lead + f.end);
  const value = normalizeAnswer(raw);
  if (value === "") return undefined;
  return { value, style, valueStart: lead + f.start, valueEnd: lead + f.end };
}

/** The value inside [start, end) of `t`: a \boxed{...} content if there is one, else the text
 * without the sentence's closing period and bold markers; after the last `=` if it has one. */
function valueIn(t: string, start: number, end: number): Found | undefined {
  if (end - start > MAX_VALUE * 2) return undefined;
  const boxed = boxedInner(t, start, end);
  if (boxed) return boxed;
  const eq = t.lastIndexOf("=", end - 1);
  if (eq >= start) start = eq + 1;
  while (start < end && /\s/.test(t[start]!)) start++;
  for (;;) {
    const before = end;
    while (end > start && /[\s.!]/.test(t[end - 1]!)) end--;
    if (t.startsWith("**", end - 2) || t.startsWith("__", end - 2)) end -= 2;
    if (end === before) break;
  }
  if (end <= start || end - start > MAX_VALUE) return undefined;
  return { start, end, boxed: false };
}

/** The content of the first `\boxed{...}` in [from, to), braces balanced. */
function boxedInner(t: string, from: number, to: number): Found | undefined {
  const at = t.indexOf("\\boxed", from);
  if (at < 0 || at >= to) return undefined;
  let i = at + 6;
  while (i < to && (t[i] === " " || t[i] === "\t")) i++;
  if (t[i] !== "{") return undefined;
  const open = i + 1;
  let depth = 1;
  for (i = open; i < to && i - open <= MAX_VALUE; i++) {
    if (t[i] === "\\") i++;
    else if (t[i] === "{") depth++;
    else if (t[i] === "}" && --depth === 0) {
      let start = open;
      let end = i;
      while (start < end && /\s/.test(t[start]!)) start++;
      while (end > start && /\s/.test(t[end - 1]!)) end--;
      return end > start ? { start, end, boxed: true } : undefined;
    }
  }
  return undefined;
}

// "1.8 billion" keeps its word; "24 dollars" loses it.
const SCALE = /^(?:hundred|thousand|million|billion|trillion|percent)\b/i;

/**
 * The canonical form of an answer: `\boxed{}` unwrapped, `$`, `\$`, thousands commas, a trailing
 * `.`, `%` or unit word removed, `\frac{a}{b}` written `a/b`, and numbers in shortest decimal
 * form ("24.0" → "24", "+3" → "3", ".5" → "0.5"). Signs, decimals and fractions are kept.
 */
export function normalizeAnswer(s: string): string {
  let v = s.trim();
  const boxed = boxedInner(v, 0, v.length);
  if (boxed) v = v.slice(boxed.start, boxed.end);
  v = v
    .replace(/\\(?:text|textbf|textrm|mathrm|mbox)[ \t]*\{([^{}]*)\}/g, "$1")
    .replace(/\\[dt]?frac[ \t]*\{([^{}]*)\}[ \t]*\{([^{}]*)\}/g, "$1/$2")
    .replace(/\{,\}/g, ",")
    .replace(/\\%/g, "%")
    .replace(/\\left|\\right|\\[,;:! ]|\\\$|\$/g, "")
    .replace(/^[\u2212\u2013]/, "-")
    .replace(/\s+/g, " ")
    .trim();
  // Trailing runs are cut by hand: `/[.!]+$/` and `/[ \t]*%$/` retry from every character of a long
  // run and took 16 s on a 100k-character front-matter answer (issue 10).
  v = trimCharsEnd(v.replace(/^(?:\*\*|__)|(?:\*\*|__)$/g, ""), ".!").trim();
  v = v.replace(/(\d),(?=\d{3}(?!\d))/g, "$1");
  if (v.endsWith("%")) v = trimCharsEnd(v.slice(0, -1), " \t");
  const unit = /^([-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:\/\d+)?) ([A-Za-z][A-Za-z'’ -]*)$/.exec(v);
  if (unit && !SCALE.test(unit[2]!)) v = unit[1]!;
  return canonicalNumber(v);
}

function canonicalNumber(v: string): string {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?$/.exec(v);
  if (!m || (m[2] === "" && !m[3])) return v;
  const int = m[2]!.replace(/^0+(?=\d)/, "") || "0";
  const frac = trimCharsEnd(m[3] ?? "", "0");
  const body = frac ? `${int}.${frac}` : int;
  return m[1] === "-" && /[1-9]/.test(body) ? `-${body}` : body;
}
