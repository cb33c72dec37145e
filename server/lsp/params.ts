// The shapes of every custom request's params and every command's arguments, as zod schemas: a
// client (or anything that can write to the server's stdin) gets InvalidParams naming the field
// instead of a TypeError, a publish to `uri: 42`, or a string iterated by character.

import { ErrorCodes, ResponseError } from "vscode-languageserver";
import { z } from "zod";

/** Longer than any real URI or path; a cap keeps a hostile client from making the server hold megabytes per call. */
const MAX_URI = 8192;
const uri = z.string().min(1).max(MAX_URI);

export const ScoreDocumentParamsSchema = z.object({ uri });
/** No params, `{}` or `{uri: null}` clear every document. */
export const ClearScoresParamsSchema = z.object({ uri: uri.nullish() }).nullish();
export const BestOfNParamsSchema = z.object({ uris: z.array(uri).min(1).max(64) });
export const LabelDatasetParamsSchema = z.object({
  input: z.string().min(1).max(MAX_URI),
  output: z.string().min(1).max(MAX_URI),
  overwrite: z.boolean().optional(),
  limit: z.number().int().min(0).optional(),
  workDoneToken: z.union([z.string(), z.number()]).optional(),
});
export const SetTokenParamsSchema = z.object({ token: z.string().max(4096).nullable() });

export const DiagnosticDataSchema = z.object({
  uri,
  solutionIndex: z.number().int().min(0),
  stepIndex: z.number().int().min(0),
  stepKey: z.string().min(1).max(256),
});
export const StepReportArgsSchema = z.object({ uri, solutionIndex: z.number().int().min(0), stepIndex: z.number().int().min(0).optional() });

/** Where each problem is and what was expected, in one line. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "params"}: ${i.message}`)
    .join("; ");
}

/** `value` checked against `schema`, or InvalidParams naming the method and the field. */
export function parseParams<T extends z.ZodType>(schema: T, value: unknown, method: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ResponseError(ErrorCodes.InvalidParams, `${method}: invalid params: ${describeIssues(result.error)}`);
}
