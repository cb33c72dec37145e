// Label Dataset's paths and messages, vscode-free for the tests.

import { createReadStream, existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import type { LabelDatasetResult } from "../protocol/index.js";

/** `data/gsm8k.jsonl` → `data/gsm8k.labeled.jsonl`. */
export function defaultOutputPath(input: string): string {
  return /\.jsonl$/i.test(input) ? input.replace(/\.jsonl$/i, ".labeled.jsonl") : `${input}.labeled.jsonl`;
}

/**
 * Records already in an output file: its complete, non-blank lines. A last line without its newline
 * is a record cut off by an interruption, which the server writes again, so it does not count.
 */
export async function countCompleteRecords(file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  let count = 0;
  let lineHasText = false;
  for await (const chunk of createReadStream(file)) {
    for (const byte of chunk as Buffer) {
      if (byte === 0x0a) {
        if (lineHasText) count++;
        lineHasText = false;
      } else if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) {
        lineHasText = true;
      }
    }
  }
  return count;
}

// The server flattens the engine's EvalReport into a name → number map (server/lsp/labelRequest.ts
// flatMetrics). People read words, not those keys: each metric gets a phrase, the numbers that only
// qualify another (the best F1's cut and accuracies) go with it, and keys without a phrase stay out
// of the message (they are in the log).

function fixed(v: number, digits = 2): string {
  return v.toFixed(digits);
}

function percent(v: number): string {
  return `${Math.round(100 * v)}%`;
}

/**
 * The metrics as a sentence: "step ROC-AUC 0.812; ProcessBench F1 0.500 with this session's
 * threshold (soft label below 0.25), 0.667 with the best cut; ...". `threshold` is the soft-label
 * threshold the first errors were predicted with.
 */
export function formatMetrics(metrics: Record<string, number> | undefined, threshold?: number): string {
  if (!metrics) return "";
  const m = (k: string): number | undefined => (typeof metrics[k] === "number" && Number.isFinite(metrics[k]) ? metrics[k] : undefined);
  const parts: string[] = [];
  const auc = m("auc");
  if (auc !== undefined) parts.push(`step ROC-AUC ${fixed(auc, 3)} (1 = every right step ranked above every wrong one)`);
  const atThreshold = m("f1AtThreshold");
  const best = m("f1Best");
  if (atThreshold !== undefined) {
    const cut = threshold !== undefined ? ` (a step is wrong below soft label ${fixed(threshold)})` : "";
    parts.push(`ProcessBench F1 ${fixed(atThreshold, 3)} with these settings${cut}` + (best !== undefined ? `, ${fixed(best, 3)} with the best cut for this data` : ""));
  } else if (best !== undefined) {
    parts.push(`ProcessBench F1 ${fixed(best, 3)} with the best cut for this data`);
  }
  const wrongFound = m("accErroneous");
  const rightKept = m("accCorrect");
  if (wrongFound !== undefined && rightKept !== undefined) {
    parts.push(`with the best cut the first error is found exactly in ${percent(wrongFound)} of the wrong solutions, and ${percent(rightKept)} of the right ones pass`);
  }
  const w = m("wasserstein");
  if (w !== undefined) parts.push(`right and wrong steps lie ${fixed(w, 3)} apart in soft label (Wasserstein)`);
  const unscored = m("unscoredSteps");
  if (unscored) parts.push(`${unscored} ${unscored === 1 ? "step was" : "steps were"} not scored (past the model's context)`);
  return parts.join("; ");
}

export function labelSummary(result: LabelDatasetResult, outputName: string): string {
  const head = result.cancelled
    ? `StepLens stopped labeling after ${result.records} records; run Label Dataset again with the same output to resume.`
    : `StepLens labeled ${result.records} records (${result.steps} steps) into ${outputName} in ${result.seconds.toFixed(1)} s.`;
  const notes: string[] = [];
  if (result.resumed > 0) notes.push(`resumed after ${result.resumed} records`);
  if (result.malformed > 0) notes.push(`${result.malformed} malformed input lines skipped (see the output)`);
  const metrics = formatMetrics(result.metrics, result.threshold);
  return [head, notes.length ? `${capitalize(notes.join("; "))}.` : "", metrics ? `Against the records' own labels: ${metrics}.` : "", calibrationSentence(result)]
    .filter(Boolean)
    .join(" ");
}

/** Which scale the soft labels are on, and for the neutral one what to do about it. */
export function calibrationSentence(result: LabelDatasetResult): string {
  const c = result.calibration;
  if (!c) return "";
  if (c.neutral) {
    return "Soft labels use the neutral scale (no calibration is known for this model and these settings): run `steplens calibrate` once for this model, then label again with Start over.";
  }
  return `Soft labels use the model's fixed calibration ${c.id} (${c.description}), the scale of the editor's scores.`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Whether two paths are one file (a link, another spelling); the server refuses it again whatever the client says. */
export async function isSameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a, { bigint: true }).catch(() => undefined), stat(b, { bigint: true }).catch(() => undefined)]);
  return sa != null && sb != null && sa.dev === sb.dev && sa.ino === sb.ino;
}
