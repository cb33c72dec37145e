// Answer-cue templates. CPMI reads the model's belief about the final answer by appending an answer
// cue to a partial solution and scoring answer continuations after it (paper, Section 4 and Appendix A:
// several phrasings, averaged, to cut prompt-specific variance). A template must look like the
// documents the model was trained on, so that "prefix + cue" is a place where an answer naturally follows.

export interface AnswerTemplate {
  name: string;
  description: string;
  /** Text before the first step. */
  head: (problem: string) => string;
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
    head: (p) => `Question: ${p}\nAnswer: Let's think step by step.\n`,
    step: bare,
    cue: "The answer is",
    continuation: (a) => ` ${a}.`,
  },
  {
    name: "problem-final-answer",
    description: 'Problem: / Solution: / cue "Final answer:"',
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
    head: (p) => `Q: ${p}\nA:\n`,
    step: (t, i) => `${i + 1}. ${t}\n`,
    cue: "####",
    continuation: (a) => ` ${a}\n`,
  },
  {
    name: "markdown-boxed",
    description: '## Problem / ## Solution / Step N: / cue "Therefore, the answer is \\boxed{"',
    head: (p) => `## Problem\n${p}\n## Solution\n`,
    step: (t, i) => `Step ${i + 1}: ${t}\n`,
    cue: "Therefore, the answer is \\boxed{",
    continuation: (a) => `${a}}.`,
  },
  {
    name: "bold-answer",
    description: 'Question: / Solution: / - steps / cue "**Answer:**"',
    head: (p) => `Question: ${p}\nSolution:\n`,
    step: (t) => `- ${t}\n`,
    cue: "**Answer:**",
    continuation: (a) => ` ${a}\n`,
  },
];

export const BUILTIN_TEMPLATES: readonly AnswerTemplate[] = [...REFERENCE, ...EXTRA];

/** Named sets; `reference` reproduces the reference implementation exactly. */
export const TEMPLATE_SETS: Readonly<Record<string, readonly string[]>> = {
  reference: REFERENCE.map((t) => t.name),
  default: ["question-answer-is", "problem-final-answer", "markdown-boxed"],
  all: BUILTIN_TEMPLATES.map((t) => t.name),
};

export class UnknownTemplateError extends Error {
  constructor(name: string) {
    super(
      `unknown template "${name}". Known template sets: ${Object.keys(TEMPLATE_SETS).join(", ")}; ` +
        `known templates: ${BUILTIN_TEMPLATES.map((t) => t.name).join(", ")}.`,
    );
    this.name = "UnknownTemplateError";
  }
}

/** Resolves "reference", "default", or a comma-separated list of template names. */
export function resolveTemplates(spec: string | readonly string[]): AnswerTemplate[] {
  const names = typeof spec === "string" ? spec.split(",").map((s) => s.trim()).filter(Boolean) : [...spec];
  const out: AnswerTemplate[] = [];
  for (const name of names) {
    const set = TEMPLATE_SETS[name];
    const expanded = set ?? [name];
    for (const n of expanded) {
      const t = BUILTIN_TEMPLATES.find((b) => b.name === n);
      if (!t) throw new UnknownTemplateError(n);
      if (!out.includes(t)) out.push(t);
    }
  }
  if (out.length === 0) throw new UnknownTemplateError(String(spec));
  return out;
}

/** Prefix i of a template: the head and the first i steps. */
export function prefixText(template: AnswerTemplate, problem: string, steps: readonly string[], i: number): string {
  let s = template.head(problem);
  for (let k = 0; k < i; k++) s += template.step(steps[k]!, k);
  return s;
}
