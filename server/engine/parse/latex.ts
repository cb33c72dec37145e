// LaTeX documents, read by a small hand-written scanner (no well-kept LaTeX parser fits the need
// for exact offsets). Comments are masked first (a `% answer: 42` comment gives the gold answer),
// the preamble is skipped, then one pass over the structural tokens builds units:
// - \section / \subsection / \paragraph (starred or not): heading units (`Problem`, `Solution`,
//   `Candidate N` matter); \begin{solution} or {proof} acts as a `Solution` heading;
// - \begin{problem} (or question, exercise): the problem statement;
// - enumerate / itemize / description: each \item is a step (lines joined with single spaces; the
//   range runs from `\item` to the end of its text; nested lists give steps of their own);
// - align(*) / aligned / eqnarray / gather / multline / split: each row up to `\\` is a step; its
//   text drops `&`, \label, \nonumber and is wrapped in `$...$` (the way the model saw LaTeX math);
//   display math (\[ \], $$, equation) lines are wrapped the same way;
// - any other line of text is a step (one per line); lines of layout commands only are skipped;
// - verbatim, lstlisting, comment, figure, table, tabular, tikzpicture are skipped whole.

import { trimSpan, type LineIndex, type Span } from "./positions.js";
import { normalizeAnswer, tooLongAnswer } from "./answer.js";
import { itemUnits, makeUnit, type Unit } from "./units.js";

export interface LatexResult {
  units: Unit[];
  gold?: { value: string; span: Span };
  /** A `% answer:` that was refused, and why. */
  goldWarning?: { message: string; span: Span };
}

type FrameKind = "list" | "align" | "problem" | "math" | "other";

const LIST_ENVS = /^(?:enumerate|itemize|description|compactenum|compactitem|asparaenum|inparaenum)\*?$/;
const ALIGN_ENVS = /^(?:align|alignat|aligned|alignedat|eqnarray|gather|gathered|multline|flalign|split)\*?$/;
const MATH_ENVS = /^(?:equation|displaymath|math)\*?$/;
const PROBLEM_ENVS = /^(?:problem|question|exercise)\*?$/;
const SOLUTION_ENVS = /^(?:solution|proof)\*?$/;
const SKIP_ENVS = /^(?:verbatim|Verbatim|lstlisting|minted|comment|figure|table|tabular|tabularx|tikzpicture|thebibliography|filecontents)\*?$/;

// Commands that only lay out or set up the page: a line made of these alone is no step.
const LAYOUT = new Set(
  ("documentclass usepackage title author date maketitle tableofcontents noindent indent centering raggedright label " +
    "vspace hspace newpage clearpage pagebreak linebreak newline medskip bigskip smallskip par hline hfill vfill " +
    "quad qquad setlength setcounter newcommand renewcommand providecommand DeclareMathOperator pagestyle " +
    "thispagestyle geometry newtheorem theoremstyle setlist input include bibliographystyle bibliography qed nonumber notag")
    .split(" "),
);

// Structural tokens. Escapes such as `\$`, `\%`, `\{` are matched only to be stepped over, so that
// `\$$` is not read as display math.
const TOKEN =
  /\\(begin|end)[ \t]*\{([^{}\r\n]{1,60})\}|\\item(?![A-Za-z@])|\\((?:sub){0,2}section|paragraph|chapter)\*?(?![A-Za-z@])|\\\[|\\\]|\\\\\*?|\\[^A-Za-z@\r\n]|\$\$|\r\n|\r|\n/g;

const GOLD = /^%+[ \t]*(?:gold[ \t_-]*)?answer[ \t]*[:=][ \t]*(\S.*)$/di;

interface Acc {
  start: number;
  pieces: Span[];
  math: boolean;
}

/** Units of lines [0, toLine) of a LaTeX text. */
export function latexUnits(lines: LineIndex, toLine = lines.lineCount): LatexResult {
  const text = lines.text;
  const { masked, gold, goldWarning } = maskComments(text);
  const begin = /\\begin[ \t]*\{document\}/.exec(masked);
  const bodyStart = begin ? begin.index + begin[0].length : 0;
  const endDoc = /\\end[ \t]*\{document\}/g;
  endDoc.lastIndex = bodyStart;
  const bodyEnd = Math.min(endDoc.exec(masked)?.index ?? masked.length, lines.lineEnd(toLine - 1));

  const units: Unit[] = [];
  // Each frame keeps the mode in force inside it, so that asking is O(1) however deep the nesting.
  const stack: { env: string; kind: FrameKind; mode: FrameKind | "para" }[] = [];
  const push = (env: string, kind: FrameKind): void => {
    stack.push({ env, kind, mode: kind === "list" || kind === "align" || kind === "problem" ? kind : mode() });
  };
  let skipEnv: string | undefined;
  let mathDepth = 0;
  let dollars = false;
  let line: Acc | undefined;
  let item: Acc | undefined;
  let row: Acc | undefined;
  let problem: Acc | undefined;

  const mode = (): FrameKind | "para" => stack[stack.length - 1]?.mode ?? "para";
  const addText = (a: number, b: number): void => {
    const span = trimSpan(masked, a, b);
    if (!span) return;
    const m = mode();
    const math = dollars || mathDepth > 0;
    if (m === "align") (row ??= { start: span.start, pieces: [], math: true }).pieces.push(span);
    else if (m === "list") item?.pieces.push(span);
    else if (m === "problem") (problem ??= { start: span.start, pieces: [], math: false }).pieces.push(span);
    else (line ??= { start: span.start, pieces: [], math }).pieces.push(span);
  };
  const flushLine = (): void => {
    if (line) emitLine(line);
    line = undefined;
  };
  const flushRow = (): void => {
    if (row) emitLine(row);
    row = undefined;
  };
  const flushItem = (): void => {
    if (item && item.pieces.length > 0) units.push(...itemUnits(text, item.start, item.pieces));
    item = undefined;
  };
  const flushProblem = (): void => {
    if (problem) units.push(makeUnit(text, "problem", problem.start, problem.pieces));
    problem = undefined;
  };
  const flushAll = (): void => {
    flushLine();
    flushRow();
    flushItem();
    flushProblem();
  };
  const emitLine = (acc: Acc): void => {
    const u = makeUnit(text, "line", acc.start, acc.pieces);
    if (isLayoutOnly(u.content)) return;
    if (acc.math) u.text = mathText(u.content);
    if (u.text !== "") units.push(u);
  };

  let segStart = bodyStart;
  TOKEN.lastIndex = bodyStart;
  for (let m = TOKEN.exec(masked); m && m.index < bodyEnd; m = TOKEN.exec(masked)) {
    const tok = m[0];
    let after = m.index + tok.length;
    if (skipEnv !== undefined) {
      if (m[1] === "end" && m[2]!.trim() === skipEnv) {
        skipEnv = undefined;
        segStart = after;
      }
      continue;
    }
    if (tok.length === 2 && tok[0] === "\\" && tok !== "\\\\" && tok !== "\\[" && tok !== "\\]") continue;
    addText(segStart, m.index);
    if (m[1] === "begin") {
      const env = m[2]!.trim();
      if (env === "document") {
        // nothing: the body is already what follows
      } else if (SKIP_ENVS.test(env)) {
        flushAll();
        skipEnv = env;
      } else if (LIST_ENVS.test(env)) {
        flushLine();
        flushItem();
        push(env, "list");
      } else if (ALIGN_ENVS.test(env)) {
        flushLine();
        flushRow();
        flushItem();
        push(env, "align");
      } else if (PROBLEM_ENVS.test(env)) {
        flushAll();
        push(env, "problem");
      } else if (SOLUTION_ENVS.test(env)) {
        flushAll();
        units.push(makeUnit(text, "heading", m.index, [], { end: after, title: "Solution" }));
        push(env, "other");
      } else {
        flushLine();
        const math = MATH_ENVS.test(env);
        if (math) mathDepth++;
        push(env, math ? "math" : "other");
      }
    } else if (m[1] === "end") {
      const env = m[2]!.trim();
      let at = stack.length - 1;
      while (at >= 0 && stack[at]!.env !== env) at--;
      flushLine();
      if (at >= 0) {
        for (const f of stack.splice(at).reverse()) {
          if (f.kind === "list") flushItem();
          else if (f.kind === "align") flushRow();
          else if (f.kind === "problem") flushProblem();
          else if (f.kind === "math") mathDepth = Math.max(0, mathDepth - 1);
        }
      }
    } else if (tok === "\\item") {
      if (mode() === "list") {
        flushItem();
        const opt = /^[ \t]*\[[^\]\r\n]{0,200}\]/.exec(masked.slice(after, after + 210));
        if (opt) after += opt[0].length;
        item = { start: m.index, pieces: [], math: false };
      }
    } else if (m[3] !== undefined) {
      const title = braced(masked, after);
      if (title) {
        flushAll();
        const span = trimSpan(masked, title.start, title.end);
        units.push(makeUnit(text, "heading", m.index, span ? [span] : [], { end: title.end + 1, title: span ? text.slice(span.start, span.end) : "" }));
        after = title.end + 1;
      }
    } else if (tok === "\\[") {
      mathDepth++;
    } else if (tok === "\\]") {
      mathDepth = Math.max(0, mathDepth - 1);
    } else if (tok === "$$") {
      dollars = !dollars;
    } else if (tok.startsWith("\\\\")) {
      const m2 = mode();
      if (m2 === "align") flushRow();
      else if (m2 === "para") flushLine();
    } else {
      // A line break.
      if (mode() === "para") flushLine();
    }
    segStart = after;
    TOKEN.lastIndex = Math.max(TOKEN.lastIndex, after);
  }
  if (skipEnv === undefined) addText(segStart, bodyEnd);
  flushAll();
  const result: LatexResult = { units };
  if (gold) result.gold = gold;
  if (goldWarning) result.goldWarning = goldWarning;
  return result;
}

/** The text inside `{...}` starting at `from` (spaces allowed before `{`), braces balanced. */
function braced(s: string, from: number): Span | undefined {
  let i = from;
  while (s[i] === " " || s[i] === "\t") i++;
  if (s[i] !== "{") return undefined;
  const start = i + 1;
  let depth = 1;
  for (i = start; i < s.length && i - start < 500; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return { start, end: i };
  }
  return undefined;
}

/** The text with every comment replaced by spaces (offsets unchanged), and a `% answer: N`. */
function maskComments(text: string): { masked: string; gold?: { value: string; span: Span }; goldWarning?: { message: string; span: Span } } {
  const chunks: string[] = [];
  let gold: { value: string; span: Span } | undefined;
  let goldWarning: { message: string; span: Span } | undefined;
  let last = 0;
  for (let i = text.indexOf("%"); i >= 0; i = text.indexOf("%", i + 1)) {
    let slashes = 0;
    for (let j = i - 1; j >= 0 && text[j] === "\\"; j--) slashes++;
    if (slashes % 2 === 1) continue;
    let end = i;
    while (end < text.length && text[end] !== "\n" && text[end] !== "\r") end++;
    if (!gold) {
      const m = GOLD.exec(text.slice(i, end));
      const at = m?.indices?.[1];
      if (m && at) {
        const raw = m[1]!.trimEnd();
        const start = i + at[0];
        const span = { start, end: start + raw.length };
        const refused = tooLongAnswer(raw, "the % answer: comment");
        if (refused) {
          goldWarning ??= { message: refused, span };
        } else {
          const value = normalizeAnswer(raw);
          if (value) gold = { value, span };
        }
      }
    }
    chunks.push(text.slice(last, i), " ".repeat(end - i));
    last = end;
    i = end - 1;
  }
  chunks.push(text.slice(last));
  const out: ReturnType<typeof maskComments> = { masked: chunks.join("") };
  if (gold) out.gold = gold;
  if (goldWarning) out.goldWarning = goldWarning;
  return out;
}

function isLayoutOnly(content: string): boolean {
  if (!/[\p{L}\p{N}]/u.test(content)) return true;
  let rest = content.trim();
  for (let guard = 0; rest !== "" && guard < 50; guard++) {
    const m = /^\\([A-Za-z@]+)\*?[ \t]*(?:\[[^\]]*\][ \t]*)*(?:\{[^{}]*\}[ \t]*)*/.exec(rest);
    if (!m || !LAYOUT.has(m[1]!)) return false;
    rest = rest.slice(m[0].length).trim();
  }
  return rest === "";
}

function mathText(content: string): string {
  const t = content
    .replace(/\\(?:nonumber|notag)(?![A-Za-z])/g, "")
    .replace(/\\label[ \t]*\{[^{}]*\}/g, "")
    .replace(/(?<!\\)&/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return t ? `$${t}$` : "";
}
