// The shape of every request body `steplens serve` takes, as zod schemas: one place that says what
// each field is, and one message format for a field that is wrong (400 naming the field). Limits
// that depend on the server's flags (--max-chars, --max-steps, ...) are 413s with their own codes and
// stay in the handlers; what is here is only the shape.

import { z } from "zod";
import { HttpError } from "./http.js";
import type { ServeLimits } from "./limits.js";

/** Optional fields may be left out or sent as null (what many JSON encoders write for "none"). */
const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined).optional();

/** Gold answers come as numbers from many datasets ("answer": 24); they are compared as text. */
const answer = z.union([z.string(), z.number().transform(String)]);

const wholeNumber = (lo: number, hi: number) => z.int(`must be a whole number from ${lo} to ${hi}`).min(lo, `must be a whole number from ${lo} to ${hi}`).max(hi, `must be a whole number from ${lo} to ${hi}`);

export const ScoreRequest = z
  .object({
    text: optional(z.string()),
    steps: optional(z.array(z.string())),
    problem: optional(z.string()),
    gold_answer: optional(answer),
    format: optional(z.enum(["markdown", "latex", "plain"])),
    file_name: optional(z.string()),
  })
  .refine((b) => (b.text === undefined) !== (b.steps === undefined), {
    message: 'send either "text" (a Markdown/LaTeX/plain solution) or "steps" (an array of step texts), not both or neither',
  });

export const BonRequest = z.object({
  problem: optional(z.string()),
  candidates: z.array(z.object({ text: z.string() })).min(1, "must be a non-empty array of {text} objects"),
  gold_answer: optional(answer),
  method: optional(z.string()),
});

export const TokenizeRequest = z.object({ text: z.string() });

export const ContinuationsRequest = z.object({
  prefix: z.string(),
  continuations: z.array(z.string()).min(1, "must be a non-empty array of strings"),
});

export const EntropiesRequest = z.object({ prefix: z.string(), text: z.string() });

export function sampleRequest(limits: ServeLimits) {
  return z.object({
    prefix: z.string(),
    options: z.object({
      n: wholeNumber(1, limits.maxBatch),
      maxTokens: wholeNumber(1, limits.maxSampleTokens),
      temperature: z.number().min(0, "must be a number from 0 to 10").max(10, "must be a number from 0 to 10"),
      seed: wholeNumber(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      stopAt: optional(z.enum(["number", "line", "answer"])),
    }),
  });
}

export const LabelOptions = z.object({
  format: optional(z.enum(["jsonl", "trl"])),
  use_negatives: optional(z.string()),
  calibration_records: optional(z.int().min(1)),
});

/** The JSON form of a /v1/label batch. The records themselves are checked line by line by the engine's dataset reader, as `steplens label` checks a file: a malformed one is reported and skipped. */
export const LabelBatch = z.object({
  records: z.array(z.unknown(), 'must be an array of records in the format of `steplens label` input ({id, problem, steps, gold_answer})'),
  options: optional(LabelOptions),
});

/** `steps[2]`, `options.n`, `candidates[1].text`; "the body" for the whole. */
function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "the body";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

/** The body as `schema` types it, or a 400 naming each wrong field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((i) => (i.path.length === 0 && i.code === "custom" ? i.message : `"${fieldName(i.path)}": ${i.message}`));
  const more = result.error.issues.length > 5 ? ` (and ${result.error.issues.length - 5} more)` : "";
  throw new HttpError(400, "invalid-request", `invalid request: ${problems.join("; ")}${more} (see docs/serve.md)`);
}
