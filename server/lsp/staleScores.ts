// What the editor shows between an edit and the check that follows it. A step's CPMI reward depends
// on the problem, the gold answer and every step before it, so after an edit the scores of the steps
// before the first changed one still hold, the edited step's score is wrong (it is left out), and
// the steps after it keep their old numbers marked stale until the check replaces them. Computed from
// the last check's scores and the current parse, so diagnostics, after-line marks and lenses all
// change on the keystroke, together, instead of seconds later.

import type { DocumentScores, WireSolutionScore, WireStepScore } from "../../protocol/index.js";
import type { ParsedDocument } from "../engine/parse/types.js";
import { applyIgnored, stepKey, wireRange } from "./wire.js";

/** The gold answer the file itself named when `scores` were computed (undefined: it named none). */
function fileGoldOf(scores: DocumentScores): string | undefined {
  const source = scores.gold?.source;
  return source === "front-matter" || source === "latex-comment" ? scores.gold!.value : undefined;
}

/**
 * `base` (the last check, on an older text) as it applies to `doc`, the parse of version `version`.
 * `exact`: steps are matched by their text (line segmentation); without it (entropy segmentation,
 * whose cuts the plain parse cannot reproduce) every step of a changed document is stale in place.
 */
export function staleView(base: DocumentScores, doc: ParsedDocument, version: number, ignored: ReadonlySet<string>, exact = true): DocumentScores {
  const everything = doc.problem !== base.problem || doc.goldAnswer?.value !== fileGoldOf(base);
  const solutions: WireSolutionScore[] = [];
  for (const scored of base.solutions) {
    const now = doc.solutions.find((s) => s.index === scored.index);
    if (!now) continue;
    const steps: WireStepScore[] = [];
    let changed = everything;
    if (!exact) {
      const unchanged = !everything && now.steps.length === scored.steps.length && now.steps.every((s, i) => stepKey(now.index, s.text) === scored.steps[i]!.key);
      for (const old of scored.steps) steps.push(unchanged ? { ...old } : { ...old, stale: true });
      changed = !unchanged;
    } else {
      for (const step of now.steps) {
        const key = stepKey(now.index, step.text);
        const same = scored.steps[step.index];
        if (!changed && same?.key === key) {
          steps.push({ ...same, index: step.index, range: wireRange(step.range), textRange: wireRange(step.textRange), text: step.text });
          continue;
        }
        changed = true;
        // Its own text unchanged, its prefix not: the old score, marked. New or edited text: none.
        const old = scored.steps.find((s) => s.key === key);
        if (old) steps.push({ ...old, index: step.index, range: wireRange(step.range), textRange: wireRange(step.textRange), text: step.text, stale: true });
      }
      if (now.steps.length !== scored.steps.length) changed = true;
    }
    const solution: WireSolutionScore = { ...scored, range: wireRange(now.range), steps };
    if (now.finalAnswer) solution.finalAnswer = now.finalAnswer.value;
    else delete solution.finalAnswer;
    if (now.title) solution.title = now.title;
    if (changed) solution.stale = true;
    else delete solution.stale;
    solutions.push(solution);
  }
  const view: DocumentScores = { ...base, version, problem: doc.problem, solutions };
  applyIgnored(view, ignored);
  return view;
}

/**
 * What the editor would draw differently: which steps are shown, stale or not, on which lines. Two
 * views with the same signature need not both be sent (typing inside one step changes nothing).
 */
export function viewSignature(scores: DocumentScores): string {
  return JSON.stringify(
    scores.solutions.map((s) => [s.index, s.stale ?? false, s.firstError, s.steps.map((st) => [st.index, st.key, st.stale ?? false, st.ignored ?? false, st.textRange.start.line, st.textRange.end.line, st.textRange.end.character === 0])]),
  );
}

/**
 * Per document: the last check's scores (what every stale view is computed from) and the signature
 * of what the editor was last sent, so a keystroke that changes nothing on screen sends nothing.
 */
export class ShownScores {
  private readonly checks = new Map<string, { scores: DocumentScores; exact: boolean }>();
  private readonly shown = new Map<string, string>();

  /**
   * A check finished. `exact`: its steps came from the plain parse (not entropy segmentation), so
   * an edited text's steps can be matched to them; kept with the check because settings are read per
   * document when the check runs, and an edit must not wait for them.
   */
  checked(uri: string, scores: DocumentScores, exact: boolean): void {
    this.checks.set(uri, { scores, exact });
    this.sent(uri, scores);
  }

  /** What the editor was sent last (after a check, an ignore, a clear). */
  sent(uri: string, scores: DocumentScores | undefined): void {
    if (scores) this.shown.set(uri, viewSignature(scores));
    else this.shown.delete(uri);
  }

  /** The view of the last check on the edited text, or undefined when the editor already shows it (or nothing was checked). */
  edited(uri: string, parse: () => ParsedDocument | undefined, version: number, ignored: ReadonlySet<string>): DocumentScores | undefined {
    const base = this.checks.get(uri);
    const doc = base && parse();
    if (!base || !doc) return undefined;
    const view = staleView(base.scores, doc, version, ignored, base.exact);
    const signature = viewSignature(view);
    if (signature === this.shown.get(uri)) return undefined;
    this.shown.set(uri, signature);
    return view;
  }

  forget(uri: string): void {
    this.checks.delete(uri);
    this.shown.delete(uri);
  }
}
