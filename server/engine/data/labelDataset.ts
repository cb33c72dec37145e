// The labeling loop of `steplens label`, the language server's steplens/labelDataset and serve's
// /v1/label: stream a ProcessBench-style JSONL, score each record's steps, and append labeled
// records to a resumable output. Front ends differ only in how they show progress and messages and
// how they stop it, so those come in as callbacks and an AbortSignal.
//
// A record's output depends on the record, the model and the settings alone: soft labels use the
// fixed calibration of the model and reward settings (cpmi/calibrations.ts), never statistics of the
// records labeled so far, and each record is scored from an empty cache (scoreRecord.ts). So an
// interrupted run resumed later writes the same bytes as an uninterrupted one, and each record can
// be written the moment it and the ones before it are done.

import path from "node:path";
import { existsSync } from "node:fs";
import type { Engine } from "../engineOptions.js";
import type { Calibration } from "../cpmi/softLabels.js";
import { cpmiCalibration, softLabelScale } from "../methods/softLabelScale.js";
import { predictFirstError } from "../cpmi/aggregate.js";
import type { SolutionScore } from "../cpmi/scorer.js";
import { BackendError } from "../backend/types.js";
import { evaluateLabeled, type EvalReport } from "../eval/metrics.js";
import { countLines, DatasetError, readJsonl, ResumableJsonlWriter, validateProcessBenchRecord, type ProcessBenchRecord } from "./jsonl.js";
import { checkWritablePlace } from "./resumableWriter.js";
import { refuseSameFile } from "./sameFile.js";
import { OutputLock } from "./outputLock.js";
import { scoreRecord } from "./scoreRecord.js";

export type LabelFormat = "jsonl" | "trl";

export interface LabelDatasetOptions {
  format?: LabelFormat;
  /** Take each record's hard negatives from this field instead of sampling them. */
  useNegatives?: string;
  /** Stop at the first malformed line instead of skipping it. */
  strict?: boolean;
  limit?: number;
  /** Start the output afresh instead of resuming after the records already in it. */
  overwrite?: boolean;
  /** Records scored at the same time (default: the backend's parallel sessions, e.g. the sum over
   * several endpoints). Output order stays the input order. */
  concurrency?: number;
  /** Who runs this, named in the lock file for a second run's message (default: this command line). */
  lockOwner?: string;
  /** The output's lock, already taken by the caller (the CLI takes it before loading the model, so a
   * second run is refused in milliseconds); the caller releases it. */
  lock?: OutputLock;
}

export interface LabelProgress {
  /** Records in the output so far, resumed ones included (what a progress bar shows). */
  done: number;
  /** Lines in the input. */
  total: number;
  /** Records labeled by this run. */
  labeled: number;
  /** Records per second in this run. */
  rate: number;
}

export interface LabelHooks {
  /** Called once before the first record (labeled 0) and after every record written. */
  onProgress?: (progress: LabelProgress) => void;
  /** Something the user should read: a malformed line, a record's warning. */
  onMessage?: (message: string) => void;
  /** Stops after the record in flight; what was labeled stays in the output, so a rerun resumes. */
  signal?: AbortSignal;
}

/** Field names are those of `label --stats-json`, which users already parse. */
export interface LabelStats {
  records: number;
  steps: number;
  tokens_evaluated: number;
  tokens_generated: number;
  naive_tokens: number;
  seconds: number;
  malformed: number;
  resumed: number;
  truncated_records: number;
  /** The id of the calibration the soft labels use (also in every record). */
  calibration: string;
}

export interface LabelRunResult {
  stats: LabelStats;
  /** The soft labels' scale: which model and settings it was measured for, and on what. */
  calibration: Calibration;
  /** Stopped through the signal before the input (or the limit) was exhausted. */
  interrupted: boolean;
  /** Stopped at a malformed line because of `strict`. */
  stoppedAtMalformed: boolean;
}

interface Scored {
  record: ProcessBenchRecord;
  result: SolutionScore;
}

/** A record being scored, kept in input order until it and everything before it are done. */
interface InFlight {
  record: ProcessBenchRecord;
  lineNumber: number;
  settled: Promise<void>;
  result?: SolutionScore;
  error?: unknown;
  done: boolean;
}

export async function labelDataset(engine: Engine, input: string, output: string, options: LabelDatasetOptions = {}, hooks: LabelHooks = {}): Promise<LabelRunResult> {
  const started = Date.now();
  const format = options.format ?? "jsonl";
  const say = hooks.onMessage ?? (() => {});
  // What the records name (for cpmi_implicit: both parts) and CPMI's part, which the scorer applies.
  const calibration = softLabelScale(engine, options.useNegatives);
  const cpmiScale = cpmiCalibration(engine, options.useNegatives);
  const stats: LabelStats = {
    records: 0,
    steps: 0,
    tokens_evaluated: 0,
    tokens_generated: 0,
    naive_tokens: 0,
    seconds: 0,
    malformed: 0,
    resumed: 0,
    truncated_records: 0,
    calibration: calibration.id,
  };
  let interrupted = false;
  let stoppedAtMalformed = false;
  // Before anything is opened for writing: `-o` naming the input (or a link to it) would truncate it.
  await refuseSameFile(input, output);
  await checkWritablePlace(output);
  const total = await countLines(input);
  const lock = options.lock ?? OutputLock.acquire(output, options.lockOwner ?? commandLine(), say);
  try {
    // Monte Carlo rollouts run in sessions of their own: with another method than CPMI the run's token
    // cost is read from the backend's counters instead of the CPMI results.
    const countersBefore = { ...engine.backend.counters };
    const writer = await ResumableJsonlWriter.open(output, { resume: !options.overwrite, tally: "calibration" });
    try {
      refuseMixedScales(output, writer.tally, calibration);
      stats.resumed = writer.doneIds.size;
      const threshold = engine.scorer.config.threshold;
      hooks.onProgress?.({ done: writer.doneIds.size, total, labeled: 0, rate: 0 });
      let seen = 0;
      const concurrency = Math.max(1, options.concurrency ?? engine.backend.parallel);
      // Records are scored `concurrency` at a time (so several lanes or endpoints are busy) but written
      // in input order, each as soon as it and the ones before it are done.
      const window: InFlight[] = [];
      let failure: { error: unknown } | undefined;
      const accept = (slot: InFlight): void => {
        const { record, result } = slot as Required<InFlight>;
        for (const w of result.warnings) say(`${input}:${slot.lineNumber}: record ${record.id}: ${w}`);
        if (result.steps.some((s) => s.truncated)) stats.truncated_records++;
        stats.tokens_evaluated += result.tokens.evaluated;
        stats.tokens_generated += result.tokens.generated;
        stats.naive_tokens += result.tokens.naive;
        writer.write(outputRecord({ record, result }, calibration, threshold, format));
        stats.records++;
        stats.steps += result.steps.length;
        hooks.onProgress?.({ done: writer.doneIds.size + stats.records, total, labeled: stats.records, rate: stats.records / ((Date.now() - started) / 1000) });
      };
      // Writes the finished records at the head of the window. After a failure every finished record
      // is written, in order, skipping the failed ones: a rerun finds them by id and labels only the rest.
      const drain = (all: boolean): void => {
        while (window.length > 0 && window[0]!.done) {
          const slot = window.shift()!;
          if (slot.error === undefined) accept(slot);
          else failure ??= { error: slot.error };
          if (failure && !all) break;
        }
        if (all && failure) {
          for (const slot of window.splice(0)) if (slot.done && slot.error === undefined) accept(slot);
        }
      };
      const running = (): number => window.filter((w) => !w.done).length;
      const waitForRoom = async (): Promise<void> => {
        while (!failure && (running() >= concurrency || window.length >= 4 * concurrency)) {
          await Promise.race(window.filter((w) => !w.done).map((w) => w.settled));
          drain(false);
        }
      };
      for await (const item of readJsonl(input)) {
        if (failure) break;
        if (hooks.signal?.aborted) {
          interrupted = true;
          break;
        }
        if (options.limit != null && seen >= options.limit) break;
        const checked = item.error != null ? ({ ok: false, error: item.error } as const) : validateProcessBenchRecord(item.value);
        if (!checked.ok) {
          stats.malformed++;
          say(`${input}:${item.lineNumber}: ${checked.error}${options.strict ? "" : " (skipped)"}`);
          if (options.strict) {
            stoppedAtMalformed = true;
            break;
          }
          continue;
        }
        const record = checked.record;
        seen++;
        if (writer.doneIds.has(String(record.id))) continue;
        let negatives: string[] | undefined;
        if (options.useNegatives) {
          const v = record[options.useNegatives];
          if (!Array.isArray(v)) {
            stats.malformed++;
            say(`${input}:${item.lineNumber}: record ${record.id} has no array field "${options.useNegatives}" for --use-negatives (skipped)`);
            continue;
          }
          negatives = v.map(String);
        }
        await waitForRoom();
        if (failure) break;
        const slot: InFlight = { record, lineNumber: item.lineNumber, done: false, settled: Promise.resolve() };
        slot.settled = scoreRecord(engine, record, {
          negatives,
          calibration: cpmiScale,
          signal: hooks.signal,
          onFallbackGold: (gold) =>
            say(
              `${input}:${item.lineNumber}: record ${record.id} has no gold_answer: using the model's own answer ${gold.value} ` +
                `(${Math.round((gold.agreement ?? 0) * 100)}% of the solutions it wrote to the problem); written as gold_answer_source "fallback"`,
            ),
        })
          .then(
            (result) => void (slot.result = result),
            (error: unknown) => void (slot.error = error),
          )
          .finally(() => void (slot.done = true));
        window.push(slot);
        drain(false);
      }
      await Promise.all(window.map((w) => w.settled));
      drain(true);
      if (failure) {
        // A record cut off mid-way is simply not written; the next run labels it again.
        if (failure.error instanceof BackendError && failure.error.code === "cancelled") interrupted = true;
        else throw failure.error;
      }
    } finally {
      await writer.close();
    }
    stats.seconds = (Date.now() - started) / 1000;
    // Implicit PRM's results count both models' passes; the policy backend's counters alone would miss the reference's.
    if (engine.method !== "cpmi" && engine.method !== "implicit" && engine.method !== "cpmi_implicit") {
      stats.tokens_evaluated = engine.backend.counters.evaluated - countersBefore.evaluated;
      stats.tokens_generated = engine.backend.counters.generated - countersBefore.generated;
    }
  } finally {
    if (!options.lock) lock.release();
  }
  return { stats, calibration, interrupted, stoppedAtMalformed };
}

function commandLine(): string {
  return ["steplens", ...process.argv.slice(2)].join(" ");
}

/**
 * One output, one scale: records resumed from an earlier run must carry the calibration this run
 * uses, or the file would hold soft labels that mean different things. Records without the field
 * come from a StepLens that calibrated on the input itself (and saved OUT.calibration.json).
 */
function refuseMixedScales(output: string, tally: ReadonlyMap<string | undefined, number>, calibration: Calibration): void {
  const others = [...tally].filter(([id]) => id !== calibration.id);
  if (others.length === 0) return;
  const count = others.reduce((n, [, c]) => n + c, 0);
  const old = others.some(([id]) => id === undefined);
  const leftover = `${output}.calibration.json`;
  const what = old
    ? `${count} of its records were labeled by an earlier StepLens, whose soft labels were calibrated on the input itself` +
      (existsSync(leftover) ? ` (${path.basename(leftover)}, no longer used)` : "")
    : `${count} of its records were labeled on another soft-label scale (${others.map(([id]) => id).join(", ")}; this run uses ${calibration.id}: ${calibration.source})`;
  throw new DatasetError(
    `cannot resume ${output}: ${what}. One file must hold one scale: label into a new file, start afresh with --overwrite ` +
      `(the editor: Start over), or resume with the model and settings that wrote them.`,
  );
}

function outputRecord(s: Scored, calibration: Calibration, threshold: number, format: LabelFormat): Record<string, unknown> {
  const rewards = s.result.steps.map((x) => (Number.isFinite(x.reward) ? x.reward : null));
  const byMethod = s.result.method != null && s.result.method !== "cpmi";
  // CPMI's soft labels were put on the run's scale by the scorer (scoreRecord), other methods' by their own rule.
  const soft = s.result.steps.map((x) => (Number.isFinite(x.softLabel) ? x.softLabel : null));
  const firstError = predictFirstError(soft.map((x) => x ?? NaN), threshold);
  if (format === "trl") {
    // TRL's stepwise-supervision format: a step is labeled good until the predicted first error.
    return {
      id: s.record.id,
      prompt: s.record.problem,
      completions: s.record.steps,
      labels: s.record.steps.map((_, i) => firstError < 0 || i < firstError),
      soft_labels: soft,
      calibration: calibration.id,
    };
  }
  const imp = s.result.implicit;
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
  // Implicit PRM's own fields: its step rewards, the cumulative q and the outcome r.
  const implicitFields = imp
    ? { implicit: imp.steps.map((x) => finite(x.reward)), q: imp.steps.map((x) => finite(x.q)), implicit_outcome: finite(imp.outcome), beta: imp.beta }
    : {};
  if (s.result.method === "implicit") {
    // No CPMI ran: no CPMI rewards or negatives to write.
    return { ...s.record, ...implicitFields, soft_label: soft, method: "implicit", first_error: firstError, calibration: calibration.id };
  }
  const out: Record<string, unknown> = {
    ...s.record,
    cpmi: rewards,
    soft_label: soft,
    ...(byMethod ? { method: s.result.method } : {}),
    ...implicitFields,
    negatives: s.result.negatives.map((n) => n.value),
    first_error: firstError,
    calibration: calibration.id,
  };
  if (s.result.gold.source === "fallback") {
    out.gold_answer = s.result.gold.value;
    out.gold_answer_source = "fallback";
  }
  return out;
}

/**
 * `steplens eval` on a labeled output: undefined when no record carries both scores and a gold
 * `label` (an unlabeled dataset, or the TRL format).
 */
export async function evaluateLabeledFile(
  file: string,
  threshold: number,
  scoreField = "cpmi",
  onSkip?: (lineNumber: number, reason: string) => void,
): Promise<EvalReport | undefined> {
  const records: { scores: number[]; label: number }[] = [];
  const soft: number[][] = [];
  for await (const item of readJsonl(file)) {
    const v = item.value as Record<string, unknown> | undefined;
    const scores = v?.[scoreField];
    if (item.error != null || !v || !Array.isArray(scores) || typeof v.label !== "number") {
      onSkip?.(item.lineNumber, item.error ?? `no \`${scoreField}\` array or numeric \`label\`; skipped`);
      continue;
    }
    records.push({ scores: scores.map((x) => (typeof x === "number" ? x : NaN)), label: v.label });
    soft.push(Array.isArray(v.soft_label) ? v.soft_label.map((x) => (typeof x === "number" ? x : NaN)) : []);
  }
  if (records.length === 0) return undefined;
  return evaluateLabeled(records, { threshold, probabilityScores: soft });
}
