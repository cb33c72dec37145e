// The shape of every request body `steplens serve` takes, as zod schemas: one place that says what
// each field is, and one message format for a field that is wrong (400 naming the field). Limits
// that depend on the server's flags (--max-chars, --max-steps, ...) are 413s with their own codes and
// stay in the handlers; what is here is only the shape.

import { z } from "zod";
import { ALL_STEP_METHODS } from "../engine/methods/stepMethods.js";
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
    /** How steps are scored (default cpmi); implicit and cpmi_implicit need a server started with --reference-model. */
    method: optional(z.enum(ALL_STEP_METHODS)),
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

/** Which model of Implicit PRM's pair a backend request is for; absent: the server's main model. */
const model = optional(z.enum(["policy", "reference"]));

/** Token ids as a client sends them; the handler checks them against the model's vocabulary. */
const tokenIds = z.array(z.int("must be an array of whole-number token ids").min(0, "must be an array of token ids from 0 up"));

export const TokenizeRequest = z.object({ text: z.string(), model });

export const DetokenizeRequest = z.object({ tokens: tokenIds, model });

export const TokenOffsetsRequest = z.object({ text: z.string(), tokens: tokenIds, model });

export const TokenLogprobsRequest = z.object({
  tokens: tokenIds.min(1, "must be a non-empty array of token ids"),
  from: z.int("must be a whole number").min(0, "must be a whole number from 0 up"),
  model,
});

export const ContinuationsRequest = z.object({
  prefix: z.string(),
  continuations: z.array(z.string()).min(1, "must be a non-empty array of strings"),
  model,
});

export const EntropiesRequest = z.object({ prefix: z.string(), text: z.string(), model });

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
    model,
  });
}

// /v1/label reads its records from the body and streams the labels back: it opens no file a client
// names, so no request can make it write over its own input (issue 10 item 1). A body that names
// files expects them read or written; it is refused by name rather than labeled with the names dropped.
const NO_FILES = "is not taken: /v1/label reads the records from the request body and streams the labeled records back, it reads and writes no file a client names (to label a file into another, run `steplens label IN -o OUT` where the files are)";
const fileFields = { input: z.never(NO_FILES).optional(), output: z.never(NO_FILES).optional() };

export const LabelOptions = z.object({
  format: optional(z.enum(["jsonl", "trl"])),
  use_negatives: optional(z.string()),
  // Gone, and refused by name rather than dropped in silence: a client that sets it expects soft labels calibrated on its batch.
  calibration_records: z
    .never("is no longer taken: soft labels use the model's fixed calibration (named in each record's `calibration`), not the batch's own rewards")
    .optional(),
  ...fileFields,
});

/** The JSON form of a /v1/label batch. The records themselves are checked line by line by the engine's dataset reader, as `steplens label` checks a file: a malformed one is reported and skipped. */
export const LabelBatch = z.object({
  records: z.array(z.unknown(), 'must be an array of records in the format of `steplens label` input ({id, problem, steps, gold_answer})'),
  options: optional(LabelOptions),
  ...fileFields,
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
