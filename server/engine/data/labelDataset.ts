// The labeling loop of `steplens label` and the language server's steplens/labelDataset: stream a
// ProcessBench-style JSONL, score each record's steps, and append labeled records to a resumable
// output. Front ends differ only in how they show progress and messages and how they stop it, so
// those come in as callbacks and an AbortSignal.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Engine } from "../engineOptions.js";
import { calibrate, softLabel, type Calibration } from "../cpmi/softLabels.js";
import { predictFirstError } from "../cpmi/aggregate.js";
import { withMethod } from "../methods/stepMethods.js";
import { BestOfN } from "../bon/bestOfN.js";
import type { GoldAnswer, SolutionScore } from "../cpmi/scorer.js";
import { BackendError } from "../backend/types.js";
import { cleanStepText, stripStepPrefix } from "../parse/index.js";
import { evaluateLabeled, type EvalReport } from "../eval/metrics.js";
import { implicitSolutionScore } from "../implicit/asSolutionScore.js";
import { writtenFromRecord } from "../implicit/written.js";
import { combineWithImplicit } from "../implicit/combined.js";
import { countLines, readJsonl, ResumableJsonlWriter, validateProcessBenchRecord, type ProcessBenchRecord } from "./jsonl.js";

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
  /** Records whose rewards set the soft-label median/MAD (default 64). */
  calibrationRecords?: number;
  /** Records scored at the same time (default: the backend's parallel sessions, e.g. the sum over
   * several endpoints). Output order stays the input order. */
  concurrency?: number;
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
  /** Called once before the first record (labeled 0) and after every record scored. */
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
}

export interface LabelRunResult {
  stats: LabelStats;
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
  const calibrationRecords = options.calibrationRecords ?? 64;
  const say = hooks.onMessage ?? (() => {});
  const calibrationFile = `${output}.calibration.json`;
  const stats: LabelStats = { records: 0, steps: 0, tokens_evaluated: 0, tokens_generated: 0, naive_tokens: 0, seconds: 0, malformed: 0, resumed: 0, truncated_records: 0 };
  let interrupted = false;
  let stoppedAtMalformed = false;
  const total = await countLines(input);
  // Monte Carlo rollouts run in sessions of their own: with another method than CPMI the run's token
  // cost is read from the backend's counters instead of the CPMI results.
  const countersBefore = { ...engine.backend.counters };
  const writer = await ResumableJsonlWriter.open(output, { resume: !options.overwrite });
  try {
    stats.resumed = writer.doneIds.size;
    let calibration: Calibration | undefined =
      !options.overwrite && existsSync(calibrationFile) ? (JSON.parse(readFileSync(calibrationFile, "utf8")) as Calibration) : undefined;
    const threshold = engine.scorer.config.threshold;
    hooks.onProgress?.({ done: writer.doneIds.size, total, labeled: 0, rate: 0 });
    // Soft labels are normalised against the dataset's own rewards (paper, Eq. 8). The median/MAD
    // come from the first records and are saved beside the output, so a resumed run uses the same.
    const pending: Scored[] = [];
    const emit = (s: Scored): void => {
      writer.write(outputRecord(s, calibration!, threshold, format));
      stats.records++;
      stats.steps += s.result.steps.length;
    };
    const flushPending = (): void => {
      if (!calibration) {
        calibration = calibrate(
          pending.flatMap((p) => p.result.steps.map((s) => s.reward)),
          `first ${pending.length} records of ${input}`,
        );
        writeFileSync(calibrationFile, JSON.stringify(calibration, null, 2) + "\n");
      }
      for (const p of pending.splice(0)) emit(p);
    };
    let seen = 0;
    const concurrency = Math.max(1, options.concurrency ?? engine.backend.parallel);
    // Records are scored `concurrency` at a time (so several lanes or endpoints are busy) but written
    // in input order; a finished record waits for the ones before it, up to a bounded backlog.
    const window: InFlight[] = [];
    let failure: { error: unknown } | undefined;
    const accept = (slot: InFlight): void => {
      const { record, result } = slot as Required<InFlight>;
      for (const w of result.warnings) say(`${input}:${slot.lineNumber}: record ${record.id}: ${w}`);
      if (result.steps.some((s) => s.truncated)) stats.truncated_records++;
      stats.tokens_evaluated += result.tokens.evaluated;
      stats.tokens_generated += result.tokens.generated;
      stats.naive_tokens += result.tokens.naive;
      if (calibration) emit({ record, result });
      else {
        pending.push({ record, result });
        if (pending.length >= calibrationRecords) flushPending();
      }
      const labeled = stats.records + pending.length;
      hooks.onProgress?.({ done: writer.doneIds.size + labeled, total, labeled, rate: labeled / ((Date.now() - started) / 1000) });
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
      const steps = record.steps.map((s) => cleanStepText(stripStepPrefix(s).text));
      const implicit = engine.method === "implicit" ? engine.implicit : undefined;
      // Implicit PRM reads the record as written (steps with their prefixes, the answer line) and
      // needs no gold answer, so no pseudo-gold is drawn for it.
      const scored: Promise<SolutionScore> = implicit
        ? implicit.score(writtenFromRecord(record), hooks.signal).then((imp) => implicitSolutionScore(imp, record.gold_answer != null ? { value: record.gold_answer, source: "record" } : undefined))
        : goldOf(engine, record, hooks.signal)
            .then((gold) => {
              if (gold?.source === "fallback") {
                say(`${input}:${item.lineNumber}: record ${record.id} has no gold_answer: using the model's own answer ${gold.value} (${Math.round((gold.agreement ?? 0) * 100)}% of the solutions it wrote to the problem); written as gold_answer_source "fallback"`);
              }
              return engine.scorer.score({ problem: record.problem, steps, gold, negatives, signal: hooks.signal });
            })
            // With another method than CPMI (`label --method mc`, ...), its values become the soft labels.
            .then(async (result) =>
              engine.method === "cpmi_implicit" && engine.implicit
                ? combineWithImplicit(result, await engine.implicit.score(writtenFromRecord(record), hooks.signal), threshold)
                : await withMethod(engine.method, { cpmi: engine.scorer, mc: engine.mc }, record.problem, steps, result, hooks.signal),
            );
      slot.settled = scored
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
    if (pending.length > 0) flushPending();
  } finally {
    await writer.close();
  }
  stats.seconds = (Date.now() - started) / 1000;
  // Implicit PRM's results count both models' passes; the policy backend's counters alone would miss the reference's.
  if (engine.method !== "cpmi" && engine.method !== "implicit" && engine.method !== "cpmi_implicit") {
    stats.tokens_evaluated = engine.backend.counters.evaluated - countersBefore.evaluated;
    stats.tokens_generated = engine.backend.counters.generated - countersBefore.generated;
  }
  return { stats, interrupted, stoppedAtMalformed };
}

/**
 * A record's gold answer, or for a record without one the model's own: the majority answer of
 * solutions it writes to the problem, as files without a gold answer get (scoreDocument.ts). On the
 * Best-of-N dev set this named a wrong answer never, the scorer's own fallback (answers sampled right
 * after the answer cue) 7.5% of the time. When the model writes no readable answer, undefined lets
 * the scorer fall back.
 */
async function goldOf(engine: Engine, record: ProcessBenchRecord, signal?: AbortSignal): Promise<GoldAnswer | undefined> {
  if (record.gold_answer != null) return { value: String(record.gold_answer), source: "record" };
  const gold = await BestOfN.of(engine.scorer).pseudoGoldOf(record.problem, [], { signal });
  return (gold.agreement ?? 0) > 0 ? gold : undefined;
}


function outputRecord(s: Scored, calibration: Calibration, threshold: number, format: LabelFormat): Record<string, unknown> {
  const rewards = s.result.steps.map((x) => (Number.isFinite(x.reward) ? x.reward : null));
  const byMethod = s.result.method != null && s.result.method !== "cpmi";
  const soft = s.result.steps.map((x) => (byMethod ? (Number.isFinite(x.softLabel) ? x.softLabel : null) : Number.isFinite(x.reward) ? softLabel(x.reward, calibration) : null));
  const firstError = predictFirstError(soft.map((x) => x ?? NaN), threshold);
  if (format === "trl") {
    // TRL's stepwise-supervision format: a step is labeled good until the predicted first error.
    return {
      id: s.record.id,
      prompt: s.record.problem,
      completions: s.record.steps,
      labels: s.record.steps.map((_, i) => firstError < 0 || i < firstError),
      soft_labels: soft,
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
    return { ...s.record, ...implicitFields, soft_label: soft, method: "implicit", first_error: firstError };
  }
  const out: Record<string, unknown> = {
    ...s.record,
    cpmi: rewards,
    soft_label: soft,
    ...(byMethod ? { method: s.result.method } : {}),
    ...implicitFields,
    negatives: s.result.negatives.map((n) => n.value),
    first_error: firstError,
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
