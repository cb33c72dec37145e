// From the units of any format to the problem, the candidate solutions, their steps and final
// answers, and the warnings. The rules (see also index.ts):
// - Candidates start at headings `Candidate N` / `Solution N`; without such headings, thematic
//   breaks separate candidates. What comes before the first candidate heading is the problem block.
// - Within one solution: the problem follows a question header (`Question:`, `Problem:`, `Q:`,
//   `## Problem`, a LaTeX problem environment) up to the solution header (`Answer: Let's think step
//   by step.`, `Solution:`, `A:`, `## Solution`); with no solution header it ends at the first
//   line ending in `?` (else it is the header's own line). With a solution header and no question
//   header, all text before the header is the problem. With neither, the problem is guessed: the
//   unnumbered lines before consistently numbered steps, or the first lines up to one ending in `?`
//   (if they hold no `=`); else there is none.
// - Every other line is a step, except answer lines: the last one is the final answer. An answer
//   line that also calculates (`12 + 30 = \boxed{42}`) is both a step and, failing a plain answer
//   line, the final answer.

import { parseAnswerLine, type LineAnswer } from "./answer.js";
import { cleanStepText, endsWithQuestionMark, headingRole, matchQuestionHeader, matchSolutionHeader, stripStepPrefix } from "./lines.js";
import { isSpaceCode, type LineIndex } from "./positions.js";
import type { FinalAnswer, ParseWarning, Solution, SourceRange, Step } from "./types.js";
import { contentEnd, isPrefixed, sourceOffset, type Unit } from "./units.js";

type Role =
  | { kind: "text" }
  | { kind: "answer"; answer: LineAnswer; alsoStep: boolean }
  | { kind: "question"; rest: number } // `Question: ...`; rest: content index of the inline problem
  | { kind: "problem-heading" } // `## Problem`: the problem follows
  | { kind: "problem-block" } // LaTeX problem environment: this unit is the problem
  | { kind: "solution"; rest: number } // solution header; rest: content index of an inline step
  | { kind: "candidate"; title: string }
  | { kind: "break" }
  | { kind: "other" }; // any other heading

interface Entry {
  unit: Unit;
  role: Role;
}

// Shared so that a file of a million lines does not allocate a million equal objects.
const TEXT: Role = { kind: "text" };
const BREAK: Role = { kind: "break" };
const OTHER: Role = { kind: "other" };
const PROBLEM_HEADING: Role = { kind: "problem-heading" };
const PROBLEM_BLOCK: Role = { kind: "problem-block" };

function classify(unit: Unit): Role {
  if (unit.kind === "break") return BREAK;
  if (unit.kind === "problem") return PROBLEM_BLOCK;
  if (unit.kind === "heading") {
    const answer = parseAnswerLine(unit.content);
    if (answer && unit.content.startsWith("#")) return { kind: "answer", answer, alsoStep: false };
    const role = headingRole(unit.title ?? unit.content);
    if (role === "candidate") return { kind: "candidate", title: (unit.title ?? unit.content).trim() };
    if (role === "problem") return PROBLEM_HEADING;
    if (role === "solution") return { kind: "solution", rest: unit.content.length };
    return OTHER;
  }
  const line = unit.content;
  const q = matchQuestionHeader(line);
  if (q !== undefined) return { kind: "question", rest: q };
  const answer = parseAnswerLine(line);
  if (answer) {
    const outside = line.slice(0, answer.valueStart) + line.slice(answer.valueEnd);
    return { kind: "answer", answer, alsoStep: outside.includes("=") };
  }
  const s = matchSolutionHeader(line);
  if (s !== undefined) return { kind: "solution", rest: s };
  return TEXT;
}

/** A piece of the problem statement: `unit.content` from index `from`. */
interface Part {
  unit: Unit;
  from: number;
}

interface Segment {
  entries: Entry[];
  /** Before the first candidate: holds only the problem. */
  problemOnly: boolean;
  heading?: Unit;
  title?: string;
}

export interface Assembled {
  problem: string;
  problemRange?: SourceRange;
  solutions: Solution[];
  warnings: ParseWarning[];
}

export interface AssembleOptions {
  /** The problem is known already (front matter): do not guess it from unmarked lines. */
  problemKnown: boolean;
}

export function assemble(lines: LineIndex, units: Unit[], options: AssembleOptions): Assembled {
  const entries = units.map((unit) => ({ unit, role: classify(unit) }));
  const segments = segment(entries);
  let problem: Part[] = [];
  const pre = segments[0]?.problemOnly ? segments[0] : undefined;
  if (pre) problem = problemBlock(pre.entries);
  const solutions: Solution[] = [];
  const warnings: ParseWarning[] = [];
  // Unmarked lines are guessed to be the problem only when nothing else names it.
  const allowGuess = !options.problemKnown && problem.length === 0;
  for (const seg of segments) {
    if (seg.problemOnly) continue;
    const { parts, body } = splitSegment(seg.entries, allowGuess);
    if (problem.length === 0) problem = parts;
    solutions.push(buildSolution(lines, seg, body, solutions.length));
  }
  if (solutions.length === 0) {
    const at = units.length > 0 ? units[units.length - 1]!.end : 0;
    solutions.push({ index: 0, steps: [], range: lines.range(at, at) });
  }
  for (const s of solutions) warnings.push(...solutionWarnings(s, solutions.length));
  const text = problemText(problem);
  const result: Assembled = { problem: text, solutions, warnings };
  if (text) {
    const first = problem[0]!;
    const last = problem[problem.length - 1]!;
    result.problemRange = lines.range(sourceOffset(first.unit, firstNonSpace(first.unit.content, first.from)), contentEnd(last.unit));
  }
  return result;
}

function segment(entries: Entry[]): Segment[] {
  const starts: number[] = [];
  for (let i = 0; i < entries.length; i++) if (entries[i]!.role.kind === "candidate") starts.push(i);
  if (starts.length > 0) {
    const segs: Segment[] = [{ entries: entries.slice(0, starts[0]), problemOnly: true }];
    starts.forEach((s, k) => {
      const e = entries[s]!;
      segs.push({ entries: entries.slice(s + 1, starts[k + 1] ?? entries.length), problemOnly: false, heading: e.unit, title: (e.role as { title: string }).title });
    });
    return segs;
  }
  const groups: Entry[][] = [[]];
  for (const e of entries) {
    if (e.role.kind === "break") groups.push([]);
    else groups[groups.length - 1]!.push(e);
  }
  const segs = groups.filter((g) => g.length > 0).map((g): Segment => ({ entries: g, problemOnly: false }));
  if (segs.length >= 2 && looksLikeProblemOnly(segs[0]!.entries)) segs[0]!.problemOnly = true;
  return segs.length > 0 ? segs : [{ entries: [], problemOnly: false }];
}

/** A first break-separated block with no header, answer, numbered step or calculation. */
function looksLikeProblemOnly(entries: Entry[]): boolean {
  return entries.every((e) => {
    const k = e.role.kind;
    if (k === "text") return !isPrefixed(e.unit) && !e.unit.content.includes("=");
    return k === "question" || k === "problem-heading" || k === "problem-block" || k === "other";
  });
}

function problemBlock(entries: Entry[]): Part[] {
  const parts: Part[] = [];
  for (const e of entries) {
    if (e.role.kind === "question") parts.push({ unit: e.unit, from: e.role.rest });
    else if (e.role.kind === "text" || e.role.kind === "problem-block") parts.push({ unit: e.unit, from: 0 });
  }
  return parts;
}

function splitSegment(entries: Entry[], allowGuess: boolean): { parts: Part[]; body: Entry[] } {
  const n = entries.length;
  const h = entries.findIndex((e) => e.role.kind === "solution");
  const limit = h >= 0 ? h : n;
  let q = -1;
  for (let i = 0; i < limit && q < 0; i++) {
    const k = entries[i]!.role.kind;
    if (k === "question" || k === "problem-heading" || k === "problem-block") q = i;
  }
  let parts: Part[] = [];
  let bodyFrom = 0;
  if (q >= 0) {
    parts = problemBlock([entries[q]!]);
    if (h >= 0) {
      parts.push(...problemBlock(entries.slice(q + 1, h)));
      bodyFrom = h;
    } else {
      const take = continuation(entries, q, problemText(parts));
      parts.push(...take.map((i) => ({ unit: entries[i]!.unit, from: 0 })));
      bodyFrom = take.length > 0 ? take[take.length - 1]! + 1 : q + 1;
    }
  } else if (h >= 0) {
    parts = problemBlock(entries.slice(0, h));
    bodyFrom = h;
  } else if (allowGuess) {
    bodyFrom = guessProblemEnd(entries);
    parts = problemBlock(entries.slice(0, bodyFrom));
  }
  return { parts, body: entries.slice(bodyFrom) };
}

/** The lines after a question header (with no solution header) that still belong to the problem. */
function continuation(entries: Entry[], q: number, head: string): number[] {
  if (entries[q]!.role.kind === "problem-block" || endsWithQuestionMark(head)) return [];
  const cont: number[] = [];
  for (let i = q + 1; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.role.kind !== "text" || isPrefixed(e.unit) || e.unit.content.includes("=")) break;
    cont.push(i);
  }
  const k = cont.findIndex((i) => endsWithQuestionMark(entries[i]!.unit.content));
  if (k >= 0) return cont.slice(0, k + 1);
  return head ? [] : cont.slice(0, 1);
}

/** How many leading entries are the problem when nothing marks it (0: none). */
function guessProblemEnd(entries: Entry[]): number {
  const plain = (e: Entry): boolean => e.role.kind === "text" && !isPrefixed(e.unit) && !e.unit.content.includes("=");
  const ignorable = (e: Entry): boolean => e.role.kind === "other";
  const firstPrefixed = entries.findIndex((e) => e.role.kind === "text" && isPrefixed(e.unit));
  if (firstPrefixed > 0) {
    const before = entries.slice(0, firstPrefixed);
    const after = entries.slice(firstPrefixed);
    if (before.some(plain) && before.every((e) => plain(e) || ignorable(e)) && after.every((e) => e.role.kind !== "text" || isPrefixed(e.unit))) {
      return firstPrefixed;
    }
  }
  const k = entries.findIndex((e) => e.role.kind === "text" && endsWithQuestionMark(e.unit.content));
  if (k >= 0 && k < entries.length - 1 && entries.slice(0, k + 1).every((e) => plain(e) || ignorable(e))) return k + 1;
  return 0;
}

function problemText(parts: Part[]): string {
  return parts
    .map((p) => p.unit.content.slice(p.from).trim())
    .filter((t) => t !== "")
    .join(" ");
}

function firstNonSpace(s: string, from: number): number {
  while (from < s.length && isSpaceCode(s.charCodeAt(from))) from++;
  return from;
}

function buildSolution(lines: LineIndex, seg: Segment, body: Entry[], index: number): Solution {
  const steps: Step[] = [];
  let final: Entry | undefined;
  let fallback: Entry | undefined;
  for (const e of body) {
    const r = e.role;
    if (r.kind === "text") addStep(lines, steps, e.unit, 0);
    else if (r.kind === "solution" && r.rest < e.unit.content.length) addStep(lines, steps, e.unit, r.rest);
    else if (r.kind === "answer") {
      if (r.alsoStep) {
        addStep(lines, steps, e.unit, 0);
        fallback = e;
      } else final = e;
    }
  }
  const answerEntry = final ?? fallback;
  const solution: Solution = { index, steps, range: solutionRange(lines, seg, body) };
  if (seg.title !== undefined) solution.title = seg.title;
  if (answerEntry && answerEntry.role.kind === "answer") solution.finalAnswer = finalAnswer(lines, answerEntry.unit, answerEntry.role.answer);
  return solution;
}

function addStep(lines: LineIndex, steps: Step[], unit: Unit, from: number): void {
  const content = unit.content.slice(from);
  const stripped = unit.text !== undefined ? { text: content, prefixLength: 0 } : stripStepPrefix(content);
  const text = unit.text ?? cleanStepText(stripped.text);
  if (text === "") return;
  const start = from === 0 ? unit.start : sourceOffset(unit, firstNonSpace(unit.content, from));
  const textStart = sourceOffset(unit, firstNonSpace(unit.content, from + stripped.prefixLength));
  const end = contentEnd(unit);
  steps.push({
    index: steps.length,
    raw: lines.text.slice(start, unit.end),
    text,
    range: lines.range(start, unit.end),
    textRange: lines.range(Math.min(textStart, end), end),
  });
}

function finalAnswer(lines: LineIndex, unit: Unit, a: LineAnswer): FinalAnswer {
  return {
    value: a.value,
    style: a.style,
    range: lines.range(unit.start, unit.end),
    valueRange: lines.range(sourceOffset(unit, a.valueStart), sourceOffset(unit, a.valueEnd)),
  };
}

function solutionRange(lines: LineIndex, seg: Segment, body: Entry[]): SourceRange {
  const first = seg.heading ?? body[0]?.unit ?? seg.entries[0]?.unit;
  const last = body[body.length - 1]?.unit ?? seg.entries[seg.entries.length - 1]?.unit ?? first;
  if (!first || !last) return lines.range(0, 0);
  return lines.range(first.start, Math.max(first.end, last.end));
}

function solutionWarnings(s: Solution, count: number): ParseWarning[] {
  const where = s.title ? ` in "${s.title}"` : count > 1 ? ` in solution ${s.index + 1}` : "";
  const out: ParseWarning[] = [];
  if (s.steps.length === 0) {
    out.push({
      message: `no steps found${where}: write one step per line after the problem and the solution header, e.g. "Step 1: 4 * 3 = 12", then an answer line such as "The answer is 42."`,
      range: s.range,
    });
  }
  if (!s.finalAnswer) {
    const last = s.steps[s.steps.length - 1];
    out.push({
      message: `no final answer line found${where}: end the solution with a line such as "The answer is 42." (or "Final answer: 42", "#### 42", "\\boxed{42}")`,
      range: last ? last.range : s.range,
    });
  }
  return out;
}
