// Answer-cue templates. CPMI reads the model's belief about the final answer by appending an answer
// cue to a partial solution and scoring answer continuations after it (paper, Section 4 and Appendix A:
// several phrasings, averaged, to cut prompt-specific variance). A template must look like the
// documents the model was trained on, so that "prefix + cue" is a place where an answer naturally follows.

import type { ChatPrompt } from "../backend/chatPrompt.js";

/**
 * "raw": completion text, as a base model reads documents. "chat": the model's own chat template,
 * the problem as the user turn and the solution so far as the start of the assistant's reply.
 */
export type PromptFormat = "raw" | "chat";
export const PROMPT_FORMATS = ["auto", "chat", "raw"] as const;
export type PromptFormatSetting = (typeof PROMPT_FORMATS)[number];

export interface AnswerTemplate {
  name: string;
  description: string;
  format: PromptFormat;
  /** Text before the first step. */
  head: (problem: string) => string;
  /** Chat templates: the user turn they write for a problem (head renders it through the chat template). */
  user?: (problem: string) => string;
  /** How one step is written into the prefix (the reference writes the bare step text and a newline). */
  step: (text: string, index: number) => string;
  cue: string;
  /** The answer continuation after the cue; its trailing delimiter makes "4" a different answer from "46". */
  continuation: (answer: string) => string;
}

const bare = (text: string): string => `${text}\n`;

/** The two templates of the independent reference implementation (../shared/data/README.md). */
const REFERENCE: AnswerTemplate[] = [
  {
    name: "question-answer-is",
    description: 'Question: / Answer: Let\'s think step by step. / cue "The answer is"',
    format: "raw",
    head: (p) => `Question: ${p}\nAnswer: Let's think step by step.\n`,
    step: bare,
    cue: "The answer is",
    continuation: (a) => ` ${a}.`,
  },
  {
    name: "problem-final-answer",
    description: 'Problem: / Solution: / cue "Final answer:"',
    format: "raw",
    head: (p) => `Problem: ${p}\nSolution:\n`,
    step: bare,
    cue: "Final answer:",
    continuation: (a) => ` ${a}\n`,
  },
];

/** More phrasings the demo model was trained on (its card lists the headers and answer lines). */
const EXTRA: AnswerTemplate[] = [
  {
    name: "q-a-hashes",
    description: 'Q: / A: / numbered steps / cue "####"',
    format: "raw",
    head: (p) => `Q: ${p}\nA:\n`,
    step: (t, i) => `${i + 1}. ${t}\n`,
    cue: "####",
    continuation: (a) => ` ${a}\n`,
  },
  {
    name: "markdown-boxed",
    description: '## Problem / ## Solution / Step N: / cue "Therefore, the answer is \\boxed{"',
    format: "raw",
    head: (p) => `## Problem\n${p}\n## Solution\n`,
    step: (t, i) => `Step ${i + 1}: ${t}\n`,
    cue: "Therefore, the answer is \\boxed{",
    continuation: (a) => `${a}}.`,
  },
  {
    name: "bold-answer",
    description: 'Question: / Solution: / - steps / cue "**Answer:**"',
    format: "raw",
    head: (p) => `Question: ${p}\nSolution:\n`,
    step: (t) => `- ${t}\n`,
    cue: "**Answer:**",
    continuation: (a) => ` ${a}\n`,
  },
];

/**
 * GSM8K's own layout: the question, "Answer:", the steps, and `#### N` (what GSM8K-tuned base models write).
 */
const CUES: AnswerTemplate[] = [
  {
    name: "gsm8k-hashes",
    description: 'Question: / Answer: / steps / cue "####" (GSM8K\'s answer line)',
    format: "raw",
    head: (p) => `Question: ${p}\nAnswer:\n`,
    step: bare,
    cue: "####",
    continuation: (a) => ` ${a}\n`,
  },
];

/** The instruction Qwen2.5-Math-Instruct's model card gives for chain-of-thought answers. */
const BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}.";

interface ChatTemplateSpec {
  name: string;
  description: string;
  user: (problem: string) => string;
  cue: string;
  continuation: (answer: string) => string;
}

/**
 * Instruct models: the GGUF's chat template wraps the problem as the user turn; the steps so far are
 * the start of the assistant's reply, the cue follows the last step inside that reply. The cues are
 * the answer lines instruct math models are trained to write.
 */
const CHAT: ChatTemplateSpec[] = [
  {
    name: "chat-boxed",
    description: 'chat template; user: problem + "put your final answer within \\boxed{}" (Qwen2.5-Math); cue "Therefore, the final answer is $\\boxed{"',
    user: (p) => `${p}\n${BOXED_INSTRUCTION}`,
    cue: "Therefore, the final answer is $\\boxed{",
    continuation: (a) => `${a}}$.`,
  },
  {
    name: "chat-answer-is",
    description: 'chat template; user: problem; cue "The answer is"',
    user: (p) => `${p}\nLet's think step by step. At the end, write "The answer is" and the answer.`,
    cue: "The answer is",
    continuation: (a) => ` ${a}.`,
  },
  {
    name: "chat-hashes",
    description: 'chat template; user: problem; cue "####" (GSM8K-tuned models)',
    user: (p) => `${p}\nSolve it step by step, then write the final answer after "####".`,
    cue: "####",
    continuation: (a) => ` ${a}\n`,
  },
];

export class PromptFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PromptFormatError";
  }
}

/** Chat templates bound to a model's chat prompt; without one, using them says why they cannot run. */
export function chatTemplates(chat?: ChatPrompt): AnswerTemplate[] {
  return CHAT.map((spec) => ({
    name: spec.name,
    description: spec.description,
    format: "chat" as const,
    user: spec.user,
    head: (p: string): string => {
      if (!chat) {
        throw new PromptFormatError(`template ${spec.name} uses the model's chat template, and this model has none; use --prompt-format raw or a raw template`);
      }
      return chat.assistantStart(spec.user(p));
    },
    step: bare,
    cue: spec.cue,
    continuation: spec.continuation,
  }));
}

/** The completion-text templates (the chat ones depend on the model, see chatTemplates). */
export const BUILTIN_TEMPLATES: readonly AnswerTemplate[] = [...REFERENCE, ...EXTRA, ...CUES];
const CHAT_NAMES = CHAT.map((c) => c.name);

/** Named sets; `reference` reproduces the reference implementation exactly. `default` and `all` follow the prompt format. */
export const TEMPLATE_SETS: Readonly<Record<string, readonly string[]>> = {
  reference: REFERENCE.map((t) => t.name),
  default: ["question-answer-is", "problem-final-answer", "markdown-boxed"],
  all: BUILTIN_TEMPLATES.map((t) => t.name),
  chat: CHAT_NAMES,
};

/** What `default` and `all` mean in the chat format. */
const CHAT_SETS: Readonly<Record<string, readonly string[]>> = { default: CHAT_NAMES, all: CHAT_NAMES, chat: CHAT_NAMES };

export class UnknownTemplateError extends Error {
  constructor(name: string) {
    super(
      `unknown template "${name}". Known template sets: ${Object.keys(TEMPLATE_SETS).join(", ")}; ` +
        `known templates: ${[...BUILTIN_TEMPLATES.map((t) => t.name), ...CHAT_NAMES].join(", ")}.`,
    );
    this.name = "UnknownTemplateError";
  }
}

export interface ResolveOptions {
  /** Which format the sets `default` and `all` stand for (default raw). */
  format?: PromptFormat;
  /** The model's chat template, for chat templates. */
  chat?: ChatPrompt;
}

/** Resolves "reference", "default", "chat", or a comma-separated list of template names. */
export function resolveTemplates(spec: string | readonly string[], options: ResolveOptions = {}): AnswerTemplate[] {
  const names = typeof spec === "string" ? spec.split(",").map((s) => s.trim()).filter(Boolean) : [...spec];
  const format = options.format ?? "raw";
  const chat = chatTemplates(options.chat);
  const known = [...BUILTIN_TEMPLATES, ...chat];
  const out: AnswerTemplate[] = [];
  for (const name of names) {
    if (name === "reference" && format === "chat") {
      throw new PromptFormatError('the "reference" templates are the reference implementation\'s raw prompts; use --prompt-format raw with them');
    }
    const set = (format === "chat" ? CHAT_SETS[name] : undefined) ?? TEMPLATE_SETS[name];
    for (const n of set ?? [name]) {
      const t = known.find((b) => b.name === n);
      if (!t) throw new UnknownTemplateError(n);
      if (!out.includes(t)) out.push(t);
    }
  }
  if (out.length === 0) throw new UnknownTemplateError(String(spec));
  return out;
}

/**
 * auto = chat when the model has a chat template (instruct models), raw otherwise (base models,
 * servers that give no template). Asking for chat without a template is the user's error to see.
 */
export function resolvePromptFormat(setting: string | undefined, chat: ChatPrompt | undefined): PromptFormat {
  const s = setting ?? "auto";
  if (s === "raw") return "raw";
  if (s === "chat") {
    if (!chat) throw new PromptFormatError("--prompt-format chat needs a model with a chat template (tokenizer.chat_template in the GGUF); this one has none: use --prompt-format raw or auto");
    return "chat";
  }
  if (s === "auto") return chat ? "chat" : "raw";
  throw new PromptFormatError(`unknown prompt format "${s}": use ${PROMPT_FORMATS.join(", ")}`);
}

/** Prefix i of a template: the head and the first i steps. */
export function prefixText(template: AnswerTemplate, problem: string, steps: readonly string[], i: number): string {
  let s = template.head(problem);
  for (let k = 0; k < i; k++) s += template.step(steps[k]!, k);
  return s;
}
