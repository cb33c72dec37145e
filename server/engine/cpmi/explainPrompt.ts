// The exact text the model reads for one step: what `steplens score --explain-prompt N` prints and
// what the editor's hover shows (lsp/promptHover.ts). A step's reward compares the answers' log-probabilities
// after this prompt with those after the same prompt without the step.

import type { Backend } from "../backend/types.js";
import type { PromptDescription } from "../backend/llamaCpp.js";
import { prefixText, type AnswerTemplate, type PromptFormat } from "./templates.js";

export interface ExplainedPrompt {
  template: string;
  format: PromptFormat;
  /** Everything before the answer: the head (chat turns or raw header), steps 1..N, the cue. */
  prompt: string;
  /** The answer continuation scored after it (the gold answer's). */
  answer: string;
  /** How the local model cuts it into tokens; absent for server backends. */
  tokens?: PromptDescription;
}

export interface PromptExplanation {
  /** 1-based step number. */
  step: number;
  steps: number;
  /** The model's chat template's origin, when a chat template is used. */
  chatSource?: string;
  prompts: ExplainedPrompt[];
}

/** A backend that can say how it tokenizes a prompt (the local llama.cpp one). */
interface Describing {
  describePrompt(prefix: string, continuation: string): PromptDescription;
}

function describes(backend: Backend): backend is Backend & Describing {
  return typeof (backend as Partial<Describing>).describePrompt === "function";
}

export function explainPrompt(
  backend: Backend,
  templates: readonly AnswerTemplate[],
  problem: string,
  steps: readonly string[],
  step: number,
  answer: string,
): PromptExplanation {
  if (!Number.isInteger(step) || step < 1 || step > steps.length) {
    throw new RangeError(`there is no step ${step}: the solution has ${steps.length} step${steps.length === 1 ? "" : "s"}`);
  }
  const prompts = templates.map((t): ExplainedPrompt => {
    const prompt = prefixText(t, problem, steps, step) + t.cue;
    const continuation = t.continuation(answer);
    return {
      template: t.name,
      format: t.format,
      prompt,
      answer: continuation,
      ...(describes(backend) ? { tokens: backend.describePrompt(prompt, continuation) } : {}),
    };
  });
  return { step, steps: steps.length, ...(templates.some((t) => t.format === "chat") && backend.chat ? { chatSource: backend.chat.source } : {}), prompts };
}

/** For a terminal: each prompt verbatim, the scored answer between ⟦ ⟧, then its tokens. */
export function formatExplanation(e: PromptExplanation): string {
  const lines: string[] = [`step ${e.step} of ${e.steps}: the text the model reads, then the answer whose log-probability it scores (between ⟦ ⟧)`];
  if (e.chatSource) lines.push(`chat prompts are rendered by ${e.chatSource}`);
  for (const p of e.prompts) {
    lines.push("", `── template ${p.template} (${p.format}) ──`);
    lines.push(`${p.prompt}⟦${p.answer}⟧`);
    if (p.tokens) {
      const t = p.tokens;
      lines.push(
        `── ${t.bos ? `starts with the BOS token ${t.bos}` : "no BOS token first (the model's metadata: add_bos_token false)"}; ` +
          `${t.promptTokens} prompt tokens; answer tokens: ${t.answerTokens.map((x) => JSON.stringify(x)).join(" ")}` +
          (t.mergedTail != null ? `; the tokenizer merged the prompt's ${JSON.stringify(t.mergedTail)} into the first answer token, which is scored healed (divided by P(${JSON.stringify(t.mergedTail)}))` : ""),
      );
    }
  }
  return lines.join("\n") + "\n";
}
