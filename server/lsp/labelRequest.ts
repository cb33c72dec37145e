// steplens/labelDataset: the CLI's `label` run inside the server, on the model already loaded,
// with LSP work-done progress and the request's cancellation in place of the progress bar and Ctrl-C.
// The soft labels use the engine's calibration, the same scale as the diagnostics and hovers of the
// open files: a step the editor calls wrong is labeled wrong in a dataset too.

import path from "node:path";
import { ErrorCodes, ResponseError, type CancellationToken, type WorkDoneProgressReporter } from "vscode-languageserver";
import type { LabelDatasetParams, LabelDatasetResult } from "../../protocol/index.js";
import type { Engine } from "../engine/engineOptions.js";
import { DatasetError } from "../engine/data/datasetError.js";
import { evaluateLabeledFile, labelDataset } from "../engine/data/labelDataset.js";
import type { EvalReport } from "../engine/eval/metrics.js";

const MAX_MESSAGES = 200;

/** The report's numbers, flat, leaving out what is undefined for this data (NaN), as JSON cannot carry it. */
export function flatMetrics(r: EvalReport): Record<string, number> {
  const all: Record<string, number | undefined> = {
    records: r.records,
    steps: r.steps,
    unscoredSteps: r.unscoredSteps,
    auc: r.auc,
    f1Best: r.f1Best.f1,
    f1BestThreshold: r.f1Best.threshold,
    accErroneous: r.f1Best.accErroneous,
    accCorrect: r.f1Best.accCorrect,
    f1AtThreshold: r.f1AtThreshold?.f1,
    wasserstein: r.wasserstein,
  };
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(all)) if (v != null && Number.isFinite(v)) out[k] = v;
  return out;
}

export interface LabelRequestContext {
  engine: Engine;
  /** Relative paths resolve against the workspace folder. */
  baseDir: string;
  reporter: WorkDoneProgressReporter;
  token: CancellationToken;
  /** Aborted by the server itself, e.g. on shutdown or reload. */
  signal: AbortSignal;
}

export async function runLabelRequest(params: LabelDatasetParams, ctx: LabelRequestContext): Promise<LabelDatasetResult> {
  const input = path.resolve(ctx.baseDir, params.input);
  const output = path.resolve(ctx.baseDir, params.output);
  const stop = new AbortController();
  const abort = (): void => stop.abort();
  const sub = ctx.token.onCancellationRequested(abort);
  ctx.signal.addEventListener("abort", abort);
  const messages: string[] = [];
  // The title names the file once; the reports say only how far it is (the client shows both).
  ctx.reporter.begin(`StepLens: labeling ${path.basename(input)}`, 0, undefined, true);
  try {
    const run = await labelDataset(
      ctx.engine,
      input,
      output,
      { limit: params.limit, overwrite: params.overwrite, lockOwner: "the StepLens language server (Label Dataset)" },
      {
        signal: stop.signal,
        onMessage: (m) => {
          if (messages.length < MAX_MESSAGES) messages.push(m);
        },
        onProgress: (p) => {
          const limit = params.limit != null ? Math.min(p.total, params.limit) : p.total;
          const pct = limit > 0 ? Math.min(100, Math.round((100 * p.done) / limit)) : 0;
          ctx.reporter.report(pct, `${p.done} of ${limit} records · ${p.rate.toFixed(1)} records/s`);
        },
      },
    );
    const threshold = ctx.engine.scorer.config.threshold;
    const report = await evaluateLabeledFile(output, threshold);
    const result: LabelDatasetResult = {
      records: run.stats.records,
      resumed: run.stats.resumed,
      malformed: run.stats.malformed,
      steps: run.stats.steps,
      seconds: run.stats.seconds,
      cancelled: run.interrupted,
      messages,
      calibration: { id: run.calibration.id, description: run.calibration.source, neutral: run.calibration.origin === "neutral" },
      threshold,
    };
    if (report) result.metrics = flatMetrics(report);
    return result;
  } catch (err) {
    // A problem with the user's files (output is the input, output locked by another run, records of
    // another scale): its message says what to do, so it goes back as a request error, not a crash.
    if (err instanceof DatasetError) throw new ResponseError(ErrorCodes.InvalidParams, err.message);
    throw err;
  } finally {
    sub.dispose();
    ctx.signal.removeEventListener("abort", abort);
    ctx.reporter.done();
  }
}
