// The hover's "what the model reads" (issue 11 item 1): the exact prompt of a step under the check's
// first template, the scored answer between ⟦ ⟧, and how the local model cuts it into tokens; the
// same text `steplens score --explain-prompt N` prints (engine/cpmi/explainPrompt.ts). A prompt holds
// the problem and every step before, so a long one is shown from its end: the step and the cue are
// what a reader looks for.

import type { DocumentScores, WireSolutionScore, WireStepScore } from "../../protocol/index.js";
import type { Engine } from "../engine/engineOptions.js";
import type { ParsedDocument } from "../engine/parse/types.js";
import { explainPrompt } from "../engine/cpmi/explainPrompt.js";
import { isQuality, scorerForQuality } from "../engine/quality.js";

/** Characters of a prompt a hover shows; the rest is left to --explain-prompt. */
export const PROMPT_HOVER_CHARS = 1200;

function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const mark = "`".repeat(longest + 1);
  return `${mark}text\n${text}\n${mark}`;
}

/** Lines for the hover, or none where there is no CPMI prompt to show (another method, a stale step, the text changed). */
export function promptHoverLines(engine: Engine, parsed: ParsedDocument, solution: WireSolutionScore, step: WireStepScore, scores: DocumentScores): string[] {
  if (step.terms.length === 0 || step.stale) return [];
  const steps = parsed.solutions.find((s) => s.index === solution.index)?.steps.map((s) => s.text);
  if (!steps || step.index >= steps.length) return [];
  const quality = scores.quality != null && isQuality(scores.quality) ? scores.quality : "full";
  const templates = scorerForQuality(engine, quality).config.templates;
  const first = templates.find((t) => t.name === step.terms[0]!.template) ?? templates[0];
  if (!first) return [];
  const e = explainPrompt(engine.backend, [first], parsed.problem, steps, step.index + 1, scores.gold?.value ?? "{answer}");
  const p = e.prompts[0]!;
  const whole = `${p.prompt}⟦${p.answer}⟧`;
  const cut = whole.length > PROMPT_HOVER_CHARS;
  const shown = cut ? `…${whole.slice(whole.length - PROMPT_HOVER_CHARS)}` : whole;
  const lines = [
    "",
    `What the model reads (template ${p.template}, ${p.format === "chat" ? `the model's chat template${e.chatSource ? `: ${e.chatSource}` : ""}` : "raw text"}), the scored answer between ⟦ ⟧${cut ? `; its last ${PROMPT_HOVER_CHARS} of ${whole.length} characters` : ""}:`,
    "",
    fence(shown),
    "",
  ];
  const t = p.tokens;
  if (t) {
    lines.push(
      `${t.bos ? `BOS ${t.bos} first` : "No BOS token first"} · ${t.promptTokens} prompt tokens · answer tokens ${t.answerTokens.map((x) => `\`${JSON.stringify(x)}\``).join(" ")}` +
        (t.mergedTail != null ? ` · the prompt's \`${JSON.stringify(t.mergedTail)}\` merged into the first answer token, scored healed` : "") +
        "  ",
    );
  }
  lines.push(`All templates: \`steplens score FILE --explain-prompt ${step.index + 1}\``, "");
  return lines;
}
