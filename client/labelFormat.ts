// Label Dataset's paths and messages, vscode-free for the tests.

import { createReadStream, existsSync } from "node:fs";
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

// The server flattens the engine's EvalReport into a name → number map; these are its names there
// (and a few spellings a server might choose), anything else is shown under its own key.
const METRIC_NAMES: Record<string, string> = {
  auc: "step ROC-AUC",
  stepRocAuc: "step ROC-AUC",
  f1Best: "ProcessBench F1 (best threshold)",
  f1: "ProcessBench F1",
  f1AtThreshold: "ProcessBench F1 at threshold",
  processBenchF1: "ProcessBench F1",
  wasserstein: "Wasserstein",
};

export function formatMetrics(metrics: Record<string, number> | undefined): string {
  if (!metrics) return "";
  return Object.entries(metrics)
    .filter(([, v]) => typeof v === "number" && Number.isFinite(v))
    .map(([k, v]) => `${METRIC_NAMES[k] ?? k} ${Number.isInteger(v) ? v : v.toFixed(3)}`)
    .join(", ");
}

export function labelSummary(result: LabelDatasetResult, outputName: string): string {
  const head = result.cancelled
    ? `StepLens stopped labeling after ${result.records} records; run Label Dataset again with the same output to resume.`
    : `StepLens labeled ${result.records} records (${result.steps} steps) into ${outputName} in ${result.seconds.toFixed(1)} s.`;
  const notes: string[] = [];
  if (result.resumed > 0) notes.push(`resumed after ${result.resumed} records`);
  if (result.malformed > 0) notes.push(`${result.malformed} malformed input lines skipped (see the output)`);
  const metrics = formatMetrics(result.metrics);
  return [head, notes.length ? `${notes.join("; ")}.` : "", metrics ? `Metrics: ${metrics}.` : ""].filter(Boolean).join(" ");
}
