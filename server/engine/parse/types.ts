// The parsed shape of a solution file. Every piece keeps its exact place in the source so that
// diagnostics, hovers and decorations land on the right characters (LTeX-style offset maps).

/** A position in the source text. `line` and `column` are 0-based; `column` counts UTF-16 code
 * units, as LSP and VS Code do. `offset` is the 0-based UTF-16 index into the whole text. */
export interface SourcePosition {
  line: number;
  column: number;
  offset: number;
}

/** A half-open range [start, end) in the source. */
export interface SourceRange {
  start: SourcePosition;
  end: SourcePosition;
}

export interface Step {
  /** 0-based index of the step within its solution. */
  index: number;
  /** The text exactly as written in the source (prefix such as `Step 1:` included). */
  raw: string;
  /** The text the model is shown: written prefix (`Step N: `, `N. `, `- `, list markers, `\item`)
   * removed, GSM8K calculator notes `<<48/2=24>>` removed, surrounding whitespace trimmed. */
  text: string;
  /** Where the whole step (prefix included) stands in the source. */
  range: SourceRange;
  /** Where the scored text (prefix excluded) starts and ends in the source; diagnostics go here. */
  textRange: SourceRange;
}

export type AnswerStyle =
  | "the-answer-is" // The answer is N.
  | "final-answer" // Final answer: N
  | "boxed" // Therefore, the answer is \boxed{N}.  (also a bare \boxed{N} anywhere in the answer line)
  | "hashes" // #### N
  | "bold-answer" // **Answer:** N
  | "a-colon"; // A: N   (GSM8K example model solutions)

export interface FinalAnswer {
  /** The answer as written, normalised: `$`, thousands separators and a trailing `.` removed, e.g. "24", "-3", "2.5", "1/2". */
  value: string;
  style: AnswerStyle;
  /** The whole answer line. */
  range: SourceRange;
  /** Just the answer value. */
  valueRange: SourceRange;
}

export interface Solution {
  /** 0-based index within the document. */
  index: number;
  /** Title of the candidate if it has one (e.g. "Candidate 2"), else undefined. */
  title?: string;
  steps: Step[];
  finalAnswer?: FinalAnswer;
  /** The whole solution block in the source. */
  range: SourceRange;
}

export type GoldSource = "front-matter" | "latex-comment" | "record" | "flag" | "fallback";

export interface ParsedDocument {
  format: "markdown" | "latex" | "plain";
  /** The problem statement (question header such as `Question:` removed), or "" if none found. */
  problem: string;
  problemRange?: SourceRange;
  /** Gold answer named by the file itself (front matter `answer:` or LaTeX `% answer:`). */
  goldAnswer?: { value: string; source: "front-matter" | "latex-comment"; range: SourceRange };
  /** One or more candidate solutions to the same problem. */
  solutions: Solution[];
  /** Problems found while parsing that a user should see (e.g. "no steps found"). */
  warnings: ParseWarning[];
}

export interface ParseWarning {
  message: string;
  range?: SourceRange;
}
