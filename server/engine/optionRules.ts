// What a user may set, in one place: each option's rule as a zod schema and the words that say
// what it expects. The engine (engineOptions.ts), the editor's settings (lsp/settings.ts) and the
// CLI's flags (cli/engineFlags.ts) check values against these rules and differ only in how they
// name the option ("--negatives", "steplens.negatives") and what they do with a bad value (stop,
// or fall back to the default with a message).

import { z } from "zod";
import { BACKEND_KINDS } from "./backend/create.js";
import { AGGREGATIONS } from "./cpmi/aggregate.js";
import { PROMPT_FORMATS, resolveTemplates } from "./cpmi/templates.js";
import { QUALITIES } from "./quality.js";
import { ALL_STEP_METHODS } from "./methods/stepMethods.js";

export const GPU_MODES = ["auto", "off", "cuda", "vulkan", "metal"] as const;

interface Rule<T> {
  schema: z.ZodType<T>;
  /** Completes "… must be …". */
  expected: string;
  /** Numbers typed as text (a CLI flag, "8" in settings.json) are read as numbers first. */
  numeric?: boolean;
}

const oneOf = <T extends string>(values: readonly [T, ...T[]]): Rule<T> => ({ schema: z.enum(values), expected: `one of ${values.join(", ")}` });
const wholeNumber = (min: number, max: number, expected: string): Rule<number> => ({ schema: z.number().int().min(min).max(max), expected, numeric: true });

export const OPTION_RULES = {
  negatives: wholeNumber(1, 64, "a whole number from 1 to 64"),
  samples: wholeNumber(0, 64, "a whole number from 0 to 64"),
  threshold: { schema: z.number().min(0).max(1), expected: "a soft-label cut between 0 and 1", numeric: true } as Rule<number>,
  aggregation: oneOf(AGGREGATIONS),
  method: oneOf(ALL_STEP_METHODS),
  /** Several methods scored side by side (the editor's steplens.methods): the first decides the verdicts, the others are compared with it. */
  methods: {
    schema: z
      .array(z.enum(ALL_STEP_METHODS))
      .min(1)
      .max(ALL_STEP_METHODS.length)
      .refine((list) => new Set(list).size === list.length),
    expected: `a list of different methods from ${ALL_STEP_METHODS.join(", ")}, the one that decides the verdicts first (e.g. ["cpmi", "implicit"])`,
  } as Rule<(typeof ALL_STEP_METHODS)[number][]>,
  /** Implicit PRM's β: a reward is β × Σ log-ratio, so β ≤ 0 would flip or erase every reward. */
  beta: { schema: z.number().positive().finite(), expected: "a number above 0 (the β the pair was trained with; 0.05 for the demo pair)", numeric: true } as Rule<number>,
  backend: oneOf(BACKEND_KINDS),
  gpu: oneOf(GPU_MODES),
  gpuLayers: { schema: z.union([z.literal("auto"), z.number().int().min(0)]), expected: '"auto" or a whole number of layers (0 = CPU only)', numeric: true } as Rule<"auto" | number>,
  negativeWeights: oneOf(["frequency", "uniform"] as const),
  negativesFrom: oneOf(["samples", "solution"] as const),
  /** auto: the GGUF's chat template when it has one, else raw completion text. */
  promptFormat: oneOf(PROMPT_FORMATS),
  /** fast: one template, negatives from the solution; full: the configured set (quality.ts). */
  quality: oneOf(QUALITIES),
  timeoutMs: wholeNumber(100, 3_600_000, "a whole number of milliseconds from 100 to 3600000"),
  maxInFlight: wholeNumber(1, 1024, "a whole number from 1 to 1024"),
  debounceMs: { schema: z.number().min(0).max(60_000), expected: "a delay in milliseconds from 0 to 60000", numeric: true } as Rule<number>,
  templates: {
    schema: z.string().refine((s) => {
      try {
        resolveTemplates(s);
        return true;
      } catch {
        return false;
      }
    }),
    expected: '"default", "reference", "chat" or template names separated by commas (see `steplens templates`)',
  } as Rule<string>,
} satisfies Record<string, Rule<unknown>>;

export type OptionName = keyof typeof OPTION_RULES;
export type OptionValue<K extends OptionName> = (typeof OPTION_RULES)[K] extends Rule<infer T> ? T : never;

/** `value` read by the option's rule: the value, or why not ("must be …, got …"). */
export function checkOption<K extends OptionName>(name: K, value: unknown): { ok: true; value: OptionValue<K> } | { ok: false; expected: string } {
  const rule = OPTION_RULES[name] as Rule<OptionValue<K>>;
  const input = rule.numeric && typeof value === "string" && value.trim() !== "" && value.trim() !== "auto" ? Number(value) : value;
  const result = rule.schema.safeParse(input);
  return result.success ? { ok: true, value: result.data } : { ok: false, expected: rule.expected };
}

/** The message for a value the rule refuses, with the option named as the front end names it. */
export function optionProblem(label: string, expected: string, value: unknown): string {
  return `${label} must be ${expected}, got ${JSON.stringify(value)}`;
}
