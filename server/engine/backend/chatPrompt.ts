// An instruct model reads its prompts through its chat template. StepLens renders that template with
// node-llama-cpp's own Jinja chat wrapper (the GGUF's `tokenizer.chat_template`), so the text of a
// chat-format prompt is exactly what node-llama-cpp's LlamaChat would put in front of the model for
// the same turns: the problem as the user turn, the solution so far as the start of the reply.

import type { LlamaModel } from "node-llama-cpp";

export interface ChatPrompt {
  /** For people: where the template came from. */
  readonly source: string;
  /**
   * The text the model sees before its reply to `user`: any system turn the template adds, the user
   * turn and the assistant header. Special tokens are written as their text (`<|im_start|>`), and
   * the backend tokenizes prompts with special tokens parsed, so they become the special tokens again.
   * A reply R then continues it as `assistantStart(user) + R` (checked against the wrapper by the tests).
   */
  assistantStart(user: string): string;
}

/**
 * Fixed render parameters: Llama 3.x templates print today's date into the system turn
 * (`strftime_now`), which would make every score depend on the day it was computed; the template's
 * own fallback date is used instead.
 */
export const CHAT_RENDER_PARAMETERS: Readonly<Record<string, string>> = { date_string: "26 Jul 2024" };

/** The GGUF's chat template, or undefined when it has none (base models, the demo model). */
export function chatTemplateOf(model: LlamaModel): string | undefined {
  const tokenizer = model.fileInfo.metadata?.tokenizer as { chat_template?: unknown } | undefined;
  const template = tokenizer?.chat_template;
  return typeof template === "string" && template.trim() !== "" ? template : undefined;
}

/** Builds the chat prompt of a loaded model; undefined without a usable chat template. */
export async function chatPromptOf(model: LlamaModel): Promise<ChatPrompt | undefined> {
  const template = chatTemplateOf(model);
  if (!template) return undefined;
  const { JinjaTemplateChatWrapper, SpecialToken, SpecialTokensText } = await import("node-llama-cpp");
  let wrapper: InstanceType<typeof JinjaTemplateChatWrapper>;
  try {
    wrapper = new JinjaTemplateChatWrapper({
      template,
      tokenizer: model.tokenizer,
      // A solution being checked is the visible answer, not a hidden chain of thought: templates
      // with a thinking switch (Qwen3) render their non-thinking reply header.
      reasoning: false,
      additionalRenderParameters: { ...CHAT_RENDER_PARAMETERS },
    });
  } catch {
    // A template node-llama-cpp's Jinja engine cannot run counts as no template: raw prompts then.
    return undefined;
  }
  const special: Record<string, string | null> = {
    BOS: model.tokens.bosString,
    EOS: model.tokens.eosString,
    EOT: model.tokens.eotString,
    NL: "\n",
  };
  const cache = new Map<string, string>();
  return {
    source: "the GGUF's chat template (tokenizer.chat_template, rendered by node-llama-cpp's JinjaTemplateChatWrapper)",
    assistantStart(user: string): string {
      const hit = cache.get(user);
      if (hit != null) return hit;
      const { contextText } = wrapper.generateContextState({
        chatHistory: [
          { type: "user", text: user },
          { type: "model", response: [""] },
        ],
      });
      let text = "";
      for (const value of contextText.values) {
        if (typeof value === "string") text += value;
        else if (value instanceof SpecialTokensText) text += value.value;
        else if (value instanceof SpecialToken) text += special[value.value] ?? "";
      }
      // Problems repeat across the prefixes of a solution; a few hundred renders are plenty to keep.
      if (cache.size >= 256) cache.delete(cache.keys().next().value as string);
      cache.set(user, text);
      return text;
    },
  };
}
