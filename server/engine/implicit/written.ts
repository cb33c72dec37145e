// What Implicit PRM reads: a solution as it is written, cut into the prompt (question block and
// solution header) and the response (the step lines, then the answer line), with each step's
// place in the response. The pair's model card (../shared/models/README.md) scores exactly this
// layout: the policy was trained on whole written solutions, not on CPMI's re-assembled prefixes,
// so a file is read with its own headers and step prefixes, not with a template's.

import type { ParsedDocument, Solution } from "../parse/types.js";

export interface TextSpan {
  /** [start, end) UTF-16 offsets into WrittenSolution.response. */
  start: number;
  end: number;
}

export interface WrittenSolution {
  /** Question block and solution header as written; its tokens are context, never rewarded. */
  prompt: string;
  /** Step lines (each with its newline) then the answer line (without one), as written. */
  response: string;
  /** Step i's line(s), its newline included, in order; spans touch (what lies between two steps belongs to the earlier). */
  steps: TextSpan[];
}

/**
 * The layout for records that carry no header of their own (ProcessBench-style JSONL, the bench):
 * the demo model's most common header pair, the one the reference implementation's first template uses.
 */
export function defaultPrompt(problem: string): string {
  return `Question: ${problem}\nAnswer: Let's think step by step.\n`;
}

/** A solution from its written step lines (prefixes like `Step 1: ` kept) and answer line. */
export function writtenFromLines(prompt: string, stepLines: readonly string[], answerLine?: string): WrittenSolution {
  let response = "";
  const steps: TextSpan[] = [];
  for (const line of stepLines) {
    const start = response.length;
    response += `${line}\n`;
    steps.push({ start, end: response.length });
  }
  if (answerLine != null && answerLine !== "") response += answerLine;
  return { prompt, response, steps };
}

/** A ProcessBench-style record: `steps` as written, `final_answer_line` if it has one. */
export function writtenFromRecord(record: { problem: string; steps: readonly string[]; final_answer_line?: unknown }): WrittenSolution {
  const answer = typeof record.final_answer_line === "string" ? record.final_answer_line : undefined;
  return writtenFromLines(defaultPrompt(record.problem), record.steps, answer);
}

/**
 * One candidate of a parsed file, read from the file's own text through the parser's ranges. The
 * prompt is the question block (with a heading such as `## Problem` right above it) and the text
 * from the candidate's start to its first step: its own header. Each step owns the text from its
 * start (its written prefix included) to the next step's start, so its newline, blank lines and
 * notes between steps belong to the step before them; the answer line (without its newline)
 * closes the response.
 */
export function writtenFromDocument(text: string, doc: ParsedDocument, solution: Solution): WrittenSolution | undefined {
  const first = solution.steps[0];
  if (!first) return undefined;
  const question = doc.problemRange ? questionBlockOf(text, doc.problemRange.start.offset, doc.problemRange.end.offset) : undefined;
  // Exact range starts, not line starts: a solution cut into steps inside one paragraph (entropy
  // segmentation) has several steps on a line, and each must keep its own tokens.
  const responseStart = first.range.start.offset;
  // Without a solution header of its own, a candidate may start inside the question block (a plain
  // file whose first step follows the question): the header is then what lies between the two.
  const headerStart = Math.min(responseStart, Math.max(solution.range.start.offset, question?.end ?? 0));
  const prompt = (question ? text.slice(question.start, Math.min(question.end, responseStart)) : "") + text.slice(headerStart, responseStart);
  const answerAt = solution.finalAnswer?.range.start.offset;
  const last = solution.steps[solution.steps.length - 1]!;
  // The answer line ends the response without its newline, as the pair's card reads it: the
  // newline after it is not part of the solution (on arith-bon-dev, ranking by r with it picked
  // right 190/200, without it 198/200, the card's 0.99).
  const end = solution.finalAnswer ? solution.finalAnswer.range.end.offset : lineEnd(text, last.range.end.offset);
  const steps: TextSpan[] = solution.steps.map((step, i) => {
    const from = step.range.start.offset;
    const next = solution.steps[i + 1];
    const stop = next ? next.range.start.offset : (answerAt ?? end);
    return { start: from - responseStart, end: Math.max(from, stop) - responseStart };
  });
  return { prompt, response: text.slice(responseStart, end), steps };
}

function lineStart(text: string, offset: number): number {
  if (offset <= 0) return 0;
  return text.lastIndexOf("\n", offset - 1) + 1;
}

/** The offset just after the newline that ends the line holding `offset` (or the text's end). */
function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf("\n", offset);
  return nl < 0 ? text.length : nl + 1;
}

/** Where the problem's lines stand, its header (`Question: `) included, with a heading directly above it. */
function questionBlockOf(text: string, start: number, end: number): { start: number; end: number } {
  let from = lineStart(text, start);
  if (from > 0) {
    const above = lineStart(text, from - 1);
    if (/^\s*(#{1,6}\s|\\(sub)*section\*?\{)/.test(text.slice(above, from - 1))) from = above;
  }
  return { start: from, end: lineEnd(text, end) };
}
