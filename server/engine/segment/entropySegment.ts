// Entropy-driven segmentation (EDU-PRM, ../shared/papers/004_97d48ac7e5152874.txt): a solution
// written as one paragraph has no visible steps, so steps are cut where the model is uncertain what
// comes next. The model reads the problem and the paragraph once; at every token we take the
// entropy of its next-token distribution, and a step starts at a word whose first token the model
// was unsure about (entropy above a threshold). Deterministic stretches (the rest of an equation
// once its operands are known) stay inside one step; the choice of what to compute next is where
// reasoning branches, which is where EDU-PRM puts its step boundaries.
//
// Ranges stay exact: a cut is an offset into the paragraph, mapped back to the document, so
// `text.slice(range.start.offset, range.end.offset)` is each new step as written.

import type { Backend, BackendSession, TokenEntropies } from "../backend/types.js";
import { BackendError } from "../backend/types.js";
import { prefixText, BUILTIN_TEMPLATES, type AnswerTemplate } from "../cpmi/templates.js";
import { parseDocument, type ParseOptions } from "../parse/index.js";
import { LineIndex } from "../parse/positions.js";
import type { ParsedDocument, Solution, Step } from "../parse/types.js";

export type Segmentation = "lines" | "entropy";

/**
 * What marks a step start. "entropy": the next-token entropy, as EDU-PRM defines it. "line-break":
 * the probability that the model would have ended the line (the step) before this token.
 * Deviation from the paper, measured in bench/segment.ts: a model trained on one step per line is
 * *certain* at a step boundary that a newline comes, so its entropy there is near 0 and the
 * high-entropy tokens are operator and operand choices inside steps; the uncertainty EDU looks for
 * sits right after the newline it expects. Its line-break probability is the same belief read one
 * token earlier, and it lands cuts on step boundaries.
 */
export type SegmentSignal = "entropy" | "line-break";

export interface EntropySegmentOptions {
  by?: SegmentSignal;
  /** Value of the signal (entropy in nats, or a probability) above which a step may start. */
  threshold?: number;
  /** Fewest characters a step may have: a cut closer than this to the previous one is dropped. */
  minChars?: number;
  /** How the problem is written before the paragraph (what the model conditions on). */
  template?: AnswerTemplate;
  signal?: AbortSignal;
}

export const DEFAULT_SEGMENT: Required<Omit<EntropySegmentOptions, "signal" | "by">> & { by: SegmentSignal } = {
  by: "line-break",
  threshold: 0.5,
  minChars: 12,
  template: BUILTIN_TEMPLATES.find((t) => t.name === "question-answer-is")!,
};

export interface EntropyCuts {
  /** Offsets into the paragraph where steps start (the first step's start, 0 or after leading space, excluded). */
  cuts: number[];
  /** What the model saw, per token, for inspection and tuning. */
  tokens: TokenEntropies;
}

/** Where the steps of `paragraph` start, by the model's next-token entropy. */
export async function entropyCuts(session: BackendSession, problem: string, paragraph: string, options: EntropySegmentOptions = {}): Promise<EntropyCuts> {
  const { threshold, minChars, template, by } = { ...DEFAULT_SEGMENT, ...options };
  if (!session.tokenEntropies) throw new BackendError("this backend gives no next-token distributions, so it cannot segment by entropy", "backend");
  const tokens = await session.tokenEntropies(prefixText(template, problem, [], 0), paragraph, options.signal);
  return { cuts: cutsFrom(paragraph, tokens, threshold, minChars, by), tokens };
}

/**
 * Cuts from per-token entropies. A cut goes to the start of the word that holds the uncertain token
 * (a step never starts mid-word or mid-number) and only where whitespace precedes that word.
 */
export function cutsFrom(paragraph: string, tokens: TokenEntropies, threshold: number, minChars: number, signal: SegmentSignal = "line-break"): number[] {
  const values = signal === "entropy" ? tokens.entropies : tokens.lineBreakProbs;
  const cuts: number[] = [];
  const first = paragraph.length - paragraph.trimStart().length;
  let last = first;
  tokens.spans.forEach((span, j) => {
    if (!(values[j]! > threshold)) return;
    let at = span.start;
    while (at < span.end && /\s/.test(paragraph[at]!)) at++;
    while (at > 0 && !/\s/.test(paragraph[at - 1]!)) at--;
    if (at <= first || at >= paragraph.length) return;
    if (at - last < minChars || cuts.includes(at)) return;
    if (paragraph.slice(at).trim().length < minChars) return;
    cuts.push(at);
    last = at;
  });
  return cuts;
}

/** Splits `raw` (which starts at `base` in the document) at `cuts`: steps with exact, trimmed ranges. */
export function stepsAt(lines: LineIndex, raw: string, base: number, cuts: readonly number[], firstIndex = 0): Step[] {
  const bounds = [0, ...cuts, raw.length];
  const steps: Step[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    let s = bounds[k]!;
    let e = bounds[k + 1]!;
    while (s < e && /\s/.test(raw[s]!)) s++;
    while (e > s && /\s/.test(raw[e - 1]!)) e--;
    if (e <= s) continue;
    const range = lines.range(base + s, base + e);
    const text = raw.slice(s, e);
    steps.push({ index: firstIndex + steps.length, raw: text, text, range, textRange: range });
  }
  return steps;
}

export interface SegmentedParseOptions extends ParseOptions {
  segmentation?: Segmentation;
  /** Needed for "entropy". */
  backend?: Backend;
  entropy?: EntropySegmentOptions;
}

/**
 * parseDocument with a segmentation mode. "lines" is the parser's own (one step per line, list item
 * or align row). "entropy" re-cuts every solution that came out as one step (a paragraph with no
 * visible structure) at the model's high-entropy tokens; solutions with visible steps keep them.
 */
export async function parseDocumentSegmented(text: string, options: SegmentedParseOptions = {}): Promise<ParsedDocument> {
  const doc = parseDocument(text, options);
  if ((options.segmentation ?? "lines") === "lines") return doc;
  if (!options.backend) throw new Error('segmentation "entropy" needs a model backend');
  const lines = new LineIndex(text);
  const session = await options.backend.openSession();
  try {
    const solutions: Solution[] = [];
    for (const sol of doc.solutions) {
      const only = sol.steps.length === 1 ? sol.steps[0]! : undefined;
      if (!only) {
        solutions.push(sol);
        continue;
      }
      // Cut inside the scored text (the written prefix such as "Step 1:" stays out of the model's view).
      const base = only.textRange.start.offset;
      const raw = text.slice(base, only.textRange.end.offset);
      const { cuts } = await entropyCuts(session, doc.problem, raw, options.entropy);
      const steps = stepsAt(lines, raw, base, cuts);
      solutions.push({ ...sol, steps: steps.length > 0 ? steps : sol.steps });
    }
    return { ...doc, solutions };
  } finally {
    session.release();
  }
}
