// Line-level rules shared by every format: step prefixes, question and solution headers, heading
// titles. They mirror what the demo model was trained on (../shared/models/README.md) plus the
// usual ways people write the same thing (bold markers, lower case, `1)` lists).

import { isSpaceCode } from "./positions.js";

const BOLD = String.raw`(?:\*\*|__)`;

// Sticky (`y`) so they match exactly at `lastIndex`, without slicing the line.
// `Step 3:`, `**Step 3:**`, `**Step 3**:`, `Step 3.`, `Step 3 - `.
const STEP_WORD = new RegExp(String.raw`${BOLD}?step[ \t]*\d{1,4}${BOLD}?[ \t]*(?:[:.)]|[-–—](?=[ \t]))${BOLD}?[ \t]*`, "iy");
// List markers need a space after them, so that `-5 + 3` or `3.5 kg` keep their first character.
const LIST_MARKER = /(?:\d{1,9}[.)]|[-*+•])(?:[ \t]+|$)/y;
const LATEX_ITEM = /\\item(?![A-Za-z@])[ \t]*(?:\[[^\]\r\n]{0,200}\][ \t]*)?/y;

function stickyLength(re: RegExp, s: string, at: number): number {
  re.lastIndex = at;
  return re.exec(s)?.[0].length ?? 0;
}

/**
 * Removes a written step prefix: one list marker (`N. `, `N) `, `- `, `* `, `+ `, `\item[..] `)
 * and/or one `Step N: `. `prefixLength` counts everything removed from the start of `raw`,
 * leading whitespace included, so `raw.slice(prefixLength)` starts with the step's text.
 */
export function stripStepPrefix(raw: string): { text: string; prefixLength: number } {
  const at = prefixEnd(raw, leadingSpace(raw));
  return { text: raw.slice(at).trimEnd(), prefixLength: at };
}

function prefixEnd(raw: string, at: number): number {
  at += stickyLength(LATEX_ITEM, raw, at) || stickyLength(LIST_MARKER, raw, at);
  return at + stickyLength(STEP_WORD, raw, at);
}

function leadingSpace(s: string): number {
  let i = 0;
  while (i < s.length && isSpaceCode(s.charCodeAt(i))) i++;
  return i;
}

export function hasStepPrefix(raw: string): boolean {
  const lead = leadingSpace(raw);
  return prefixEnd(raw, lead) > lead;
}

// GSM8K calculator notes: `48/2 = $<<48/2=24>>24` is written to show `48/2 = $24`.
const CALC_NOTE = /<<[^<>\r\n]*>>/g;
// Model-written solutions cut off mid-note (`= $<<41.472+8.` or `<<6.6+1.6=8.3 fries.`): the
// expression is dropped and what follows `=` is the result the note would have shown.
const CUT_NOTE = /<<[^<>\r\n=]*(?:=|$)/g;

/** The step as the model sees it: GSM8K calculator notes removed, whitespace trimmed. */
export function cleanStepText(s: string): string {
  return s.replace(CALC_NOTE, "").replace(CUT_NOTE, "").trim();
}

const QUESTION = new RegExp(String.raw`^${BOLD}?(?:question|problem|q)(?:[ \t]*\d{1,3})?${BOLD}?[ \t]*:${BOLD}?[ \t]*`, "i");

/** `Question: ...`, `Problem: ...`, `Q: ...`: returns where the inline problem text starts. */
export function matchQuestionHeader(line: string): number | undefined {
  const m = QUESTION.exec(line);
  return m ? m[0].length : undefined;
}

const SOLUTION = new RegExp(String.raw`^${BOLD}?(?:answer|solution|a)${BOLD}?[ \t]*:${BOLD}?[ \t]*`, "i");
const THINK = /^let['’]?s think step by step\.?$/i;

/**
 * `Answer: Let's think step by step.`, `Solution:`, `A:`: returns where an inline step starts on
 * the same line (the line's length when there is none). Answer lines such as `A: 18` must be
 * ruled out first (answer.ts), since they look the same.
 */
export function matchSolutionHeader(line: string): number | undefined {
  const m = SOLUTION.exec(line);
  if (!m) return undefined;
  const rest = line.slice(m[0].length).trim();
  return rest === "" || THINK.test(rest) ? line.length : m[0].length;
}

export type HeadingRole = "candidate" | "problem" | "solution";

/** What a heading's text announces: `Candidate 2` / `Solution 2` start a candidate solution. */
export function headingRole(title: string): HeadingRole | undefined {
  // Emphasis is stripped by hand: `/^[*_]+|[*_]+$/g` tries its second branch from every `*` of a long
  // run and took 15 s on a 100k-character heading (issue 10).
  const t = trimChars(title.trim(), "*_")
    .replace(/[:.]$/, "")
    .trim();
  if (/^(?:candidate|solution)[ \t]*(?:#[ \t]*)?\d+(?!\d)/i.test(t)) return "candidate";
  if (/^(?:problem|question)(?![A-Za-z])/i.test(t)) return "problem";
  if (/^(?:solution|answer)$/i.test(t)) return "solution";
  return undefined;
}

/** `s` without any of `chars` at either end; linear, whatever the input. */
export function trimChars(s: string, chars: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && chars.includes(s[start]!)) start++;
  while (end > start && chars.includes(s[end - 1]!)) end--;
  return s.slice(start, end);
}

/** `s` without any of `chars` at its end. */
export function trimCharsEnd(s: string, chars: string): string {
  let end = s.length;
  while (end > 0 && chars.includes(s[end - 1]!)) end--;
  return s.slice(0, end);
}

export function endsWithQuestionMark(s: string): boolean {
  return /\?[\s"'”’)*_\]$]*$/.test(s);
}

/** A Markdown thematic break (`---`, `***`, `___`), the separator between candidate solutions. */
export function isThematicBreak(line: string): boolean {
  return /^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$/.test(line);
}
