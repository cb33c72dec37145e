// The solution-file parser: Markdown, LaTeX or plain text in, problem + candidate solutions +
// steps with exact source ranges out. It never throws and stays linear in the input size.
//
// What a file looks like (examples/README.md shows each case):
//   Question: Tom buys 4 pens for $3 each ... How much change does Tom get, in dollars?
//   Answer: Let's think step by step.
//   Step 1: The pens cost 4 * 3 = 12 dollars.
//   ...
//   The answer is 24.
// - Problem: after `Question:`, `Problem:`, `Q:`, a `## Problem` heading, `\section*{Problem}` or a
//   LaTeX problem environment; else the text before the solution header; else guessed (assemble.ts).
// - Solution header (not a step): `Answer: Let's think step by step.`, `Solution:`, `A:`,
//   `## Solution`, `\section*{Solution}`, or none.
// - Steps: one per line (also within one Markdown paragraph), one per list item or `\item`, one per
//   LaTeX align row. `Step N: `, `N. `, `- ` prefixes and GSM8K notes `<<48/2=24>>` are removed
//   from the step's `text`, never from its `range`.
// - Answer line (not a step; the last one is `finalAnswer`): `The answer is N.`, `Final answer: N`,
//   `Therefore, the answer is \boxed{N}.`, `#### N`, `**Answer:** N`, `A: N`, a `\boxed{N}`.
// - Gold answer: front matter `answer: 42` (Markdown and plain) or a LaTeX comment `% answer: 42`.
//
// Several candidate solutions (Best-of-N) in one file:
// - Markdown / plain: a heading whose text starts with `Candidate` or `Solution` and a number
//   (`## Candidate 1`, `### Solution 2`) starts a candidate; its text is the solution's `title`.
//   Everything before the first such heading is the problem block. Without such headings,
//   thematic breaks (`---`, not the front matter's fences) separate candidates, and a first block
//   with no header, step or answer line in it is the problem block.
// - LaTeX: `\section*{Candidate N}` / `\subsection*{Candidate N}` (or `Solution N`) likewise.

import { assemble } from "./assemble.js";
import { readFrontMatter } from "./frontMatter.js";
import { latexUnits } from "./latex.js";
import { markdownUnits, MARKDOWN_NESTING } from "./markdown.js";
import { plainUnits } from "./plain.js";
import { LineIndex } from "./positions.js";
import type { ParsedDocument, ParseWarning } from "./types.js";
import type { Unit } from "./units.js";

export { parseAnswerLine, normalizeAnswer, type LineAnswer } from "./answer.js";
export { stripStepPrefix, cleanStepText } from "./lines.js";

export type DocumentFormat = ParsedDocument["format"];

export interface ParseOptions {
  format?: DocumentFormat;
  /** Used to choose the format from the extension when `format` is not given. */
  fileName?: string;
}

export function parseDocument(text: string, opts: ParseOptions = {}): ParsedDocument {
  let format: DocumentFormat = opts.format ?? "plain";
  try {
    format = detectFormat(text, opts);
    return parse(typeof text === "string" ? text : String(text ?? ""), format);
  } catch (err) {
    // Unreachable by design; a parser bug must still not take the editor or a batch run down.
    return {
      format,
      problem: "",
      solutions: [{ index: 0, steps: [], range: { start: { line: 0, column: 0, offset: 0 }, end: { line: 0, column: 0, offset: 0 } } }],
      warnings: [{ message: `the file could not be parsed (${(err as Error)?.message ?? String(err)}); please report this` }],
    };
  }
}

export function detectFormat(text: string, opts: ParseOptions = {}): DocumentFormat {
  if (opts.format) return opts.format;
  if (opts.fileName) {
    const ext = /\.([A-Za-z0-9]+)$/.exec(opts.fileName)?.[1]?.toLowerCase();
    if (ext === "md" || ext === "markdown" || ext === "mdown" || ext === "mkd") return "markdown";
    if (ext === "tex" || ext === "latex" || ext === "ltx") return "latex";
    return "plain";
  }
  const head = typeof text === "string" ? text.slice(0, 100_000) : "";
  if (/\\begin\{|\\(?:sub)*section\*?\{/.test(head)) return "latex";
  if (/^(?:---[ \t]*$|#{1,6}[ \t]|```|~~~)/m.test(head)) return "markdown";
  return "plain";
}

// A solution file is a few dozen lines, a Best-of-N file a few hundred. Reading at most this many
// keeps the parse of any input, 1 MB included, to tens of ms (bench/regex.ts; 20,000 lines of steps
// took 75-220 ms CPU, mostly building and collecting the objects of each step), so the language
// server and `steplens serve` can parse on their event loop; no real file comes near it.
export const MAX_LINES = 5_000;
/** Likewise in characters (`steplens serve`'s body limit, `score --max-bytes`' default): an editor
 * can hold a far larger file, and markdown-it took 4 s on 25 MB of nested list. */
export const MAX_CHARS = 1024 * 1024;

function parse(text: string, format: DocumentFormat): ParsedDocument {
  const lines = new LineIndex(text);
  const warnings: ParseWarning[] = [];
  let toLine = Math.min(lines.lineCount, MAX_LINES);
  if (lines.lineEnd(toLine - 1) > MAX_CHARS) {
    // The first line that ends past the limit, and every line after it, are not read.
    let lo = 0;
    let hi = toLine - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (lines.lineEnd(mid) > MAX_CHARS) hi = mid;
      else lo = mid + 1;
    }
    toLine = lo;
    warnings.push({
      message: `the file is ${(text.length / 1024 / 1024).toFixed(1)} MB: only the first ${toLine.toLocaleString("en-US")} lines (up to ${MAX_CHARS / 1024 / 1024} MB) are read (split it into one file per problem)`,
      range: lines.range(lines.lineStart(toLine), lines.lineEnd(toLine)),
    });
  } else if (lines.lineCount > MAX_LINES) {
    warnings.push({
      message: `the file has ${lines.lineCount.toLocaleString("en-US")} lines: only the first ${MAX_LINES.toLocaleString("en-US")} are read (split it into one file per problem)`,
      range: lines.range(lines.lineStart(MAX_LINES), text.length),
    });
  }
  let units: Unit[];
  let goldAnswer: ParsedDocument["goldAnswer"];
  let fmProblem: { text: string; start: number; end: number } | undefined;
  if (toLine === 0) {
    units = [];
  } else if (format === "latex") {
    const r = latexUnits(lines, toLine);
    units = r.units;
    if (r.gold) goldAnswer = { value: r.gold.value, source: "latex-comment", range: lines.range(r.gold.span.start, r.gold.span.end) };
    if (r.goldWarning) warnings.push({ message: r.goldWarning.message, range: lines.range(r.goldWarning.span.start, r.goldWarning.span.end) });
  } else {
    const fm = readFrontMatter(lines);
    const from = fm?.bodyLine ?? 0;
    if (from >= toLine) {
      units = [];
    } else if (format === "markdown") {
      const md = markdownUnits(lines, from, toLine);
      units = md.units;
      if (md.tooDeepLine !== undefined) {
        // Reading it as plain text keeps every line, one step each, instead of dropping the deep part.
        units = plainUnits(lines, from, toLine);
        warnings.push({
          message: `lists or block quotes are nested too deep from line ${md.tooDeepLine + 1} on (a Markdown reader follows ${MARKDOWN_NESTING} levels): the file is read as plain text, one step per line`,
          range: lines.range(lines.lineStart(md.tooDeepLine), lines.lineEnd(md.tooDeepLine)),
        });
      }
    } else units = plainUnits(lines, from, toLine);
    if (fm?.answer) goldAnswer = { value: fm.answer.value, source: "front-matter", range: lines.range(fm.answer.span.start, fm.answer.span.end) };
    if (fm?.problem) fmProblem = { text: fm.problem.text, ...fm.problem.span };
    if (fm?.warning) warnings.push({ message: fm.warning.message, range: lines.range(fm.warning.span.start, fm.warning.span.end) });
  }

  const doc: ParsedDocument = { format, problem: "", solutions: [], warnings };
  if (goldAnswer) doc.goldAnswer = goldAnswer;
  if (units.length === 0) {
    doc.solutions.push({ index: 0, steps: [], range: lines.range(text.length, text.length) });
    const what = text.trim() === "" ? "the file is empty" : goldAnswer || fmProblem ? "the file has front matter but nothing after it" : "the file has no text to read";
    warnings.push({
      message: `${what}: write the problem ("Question: ..."), then one step per line ("Step 1: ...") and an answer line such as "The answer is 42."`,
    });
    if (fmProblem) {
      doc.problem = fmProblem.text;
      doc.problemRange = lines.range(fmProblem.start, fmProblem.end);
    }
    return doc;
  }

  const a = assemble(lines, units, { problemKnown: fmProblem !== undefined });
  doc.solutions = a.solutions;
  warnings.push(...a.warnings);
  if (a.problem) {
    doc.problem = a.problem;
    if (a.problemRange) doc.problemRange = a.problemRange;
  } else if (fmProblem) {
    doc.problem = fmProblem.text;
    doc.problemRange = lines.range(fmProblem.start, fmProblem.end);
  }
  return doc;
}
