import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { SingleBar, Presets } from "cli-progress";
import { createEngine, type Engine } from "../../engine/engineOptions.js";
import { calibrate, softLabel, type Calibration } from "../../engine/cpmi/softLabels.js";
import { predictFirstError } from "../../engine/cpmi/aggregate.js";
import { countLines, readJsonl, ResumableJsonlWriter, validateProcessBenchRecord, type ProcessBenchRecord } from "../../engine/data/jsonl.js";
import { cleanStepText, stripStepPrefix } from "../../engine/parse/index.js";
import type { SolutionScore } from "../../engine/cpmi/scorer.js";
import { addEngineFlags, engineOptionsFrom, parseIntStrict, type EngineFlagValues } from "../engineFlags.js";
import { fail, report } from "../report.js";

interface LabelFlags extends EngineFlagValues {
  output: string;
  useNegatives?: string;
  statsJson?: string;
  format: "jsonl" | "trl";
  strict?: boolean;
  limit?: number;
  overwrite?: boolean;
  calibrationRecords: number;
}

interface Scored {
  record: ProcessBenchRecord;
  result: SolutionScore;
}

export function registerLabel(program: Command): void {
  addEngineFlags(
    program
      .command("label")
      .description("label a ProcessBench-style JSONL dataset with CPMI step rewards and soft labels (resumable)")
      .argument("<input>", "input JSONL: one {id, problem, steps, gold_answer} record per line")
      .requiredOption("-o, --output <file>", "output JSONL; if it exists, the run resumes after the records already in it")
      .option("--use-negatives <field>", "take each record's hard negatives from this field instead of sampling them")
      .option("--stats-json <file>", "write run statistics (records, steps, tokens, seconds) as JSON")
      .option("--format <format>", "jsonl (input record + cpmi, soft_label, negatives, first_error) or trl (TRL stepwise {prompt, completions, labels})", "jsonl")
      .option("--strict", "stop at the first malformed input line instead of skipping it")
      .option("--limit <n>", "label at most this many records", parseIntStrict)
      .option("--overwrite", "start the output afresh instead of resuming")
      .option("--calibration-records <n>", "records whose rewards set the soft-label median/MAD", parseIntStrict, 64),
  ).action(async (input: string, flags: LabelFlags) => {
    if (flags.format !== "jsonl" && flags.format !== "trl") fail(new Error(`unknown --format "${flags.format}": use jsonl or trl`));
    await runLabel(input, flags);
  });
}

async function runLabel(input: string, flags: LabelFlags): Promise<void> {
  const started = Date.now();
  const calibrationFile = `${flags.output}.calibration.json`;
  let engine: Engine | undefined;
  let writer: ResumableJsonlWriter | undefined;
  let bar: SingleBar | undefined;
  const stats = { records: 0, steps: 0, tokens_evaluated: 0, tokens_generated: 0, naive_tokens: 0, seconds: 0, malformed: 0, resumed: 0, truncated_records: 0 };
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
  try {
    const total = await countLines(input);
    writer = await ResumableJsonlWriter.open(flags.output, { resume: !flags.overwrite });
    stats.resumed = writer.doneIds.size;
    let calibration: Calibration | undefined =
      !flags.overwrite && existsSync(calibrationFile) ? (JSON.parse(readFileSync(calibrationFile, "utf8")) as Calibration) : undefined;
    engine = await createEngine(engineOptionsFrom(flags));
    const threshold = engine.scorer.config.threshold;
    if (process.stderr.isTTY) {
      bar = new SingleBar(
        { format: "labeling [{bar}] {value}/{total} records · {rate} rec/s · ETA {eta_formatted}", etaBuffer: 20 },
        Presets.shades_classic,
      );
      bar.start(total, writer.doneIds.size, { rate: "0.0" });
    }
    // Soft labels are normalised against the dataset's own rewards (paper, Eq. 8). The median/MAD
    // come from the first records and are saved beside the output, so a resumed run uses the same.
    const pending: Scored[] = [];
    const emit = (s: Scored): void => {
      writer!.write(outputRecord(s, calibration!, threshold, flags.format));
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
    for await (const item of readJsonl(input)) {
      if (interrupted) break;
      if (flags.limit != null && seen >= flags.limit) break;
      if (item.error != null) {
        stats.malformed++;
        report(`${input}:${item.lineNumber}: ${item.error}${flags.strict ? "" : " (skipped)"}`);
        if (flags.strict) {
          process.exitCode = 1;
          break;
        }
        continue;
      }
      const checked = validateProcessBenchRecord(item.value);
      if (!checked.ok) {
        stats.malformed++;
        report(`${input}:${item.lineNumber}: ${checked.error}${flags.strict ? "" : " (skipped)"}`);
        if (flags.strict) {
          process.exitCode = 1;
          break;
        }
        continue;
      }
      const record = checked.record;
      seen++;
      if (writer.doneIds.has(String(record.id))) continue;
      let negatives: string[] | undefined;
      if (flags.useNegatives) {
        const v = record[flags.useNegatives];
        if (!Array.isArray(v)) {
          stats.malformed++;
          report(`${input}:${item.lineNumber}: record ${record.id} has no array field "${flags.useNegatives}" for --use-negatives (skipped)`);
          continue;
        }
        negatives = v.map(String);
      }
      const result = await engine.scorer.score({
        problem: record.problem,
        steps: record.steps.map((s) => cleanStepText(stripStepPrefix(s).text)),
        gold: record.gold_answer != null ? { value: String(record.gold_answer), source: "record" } : undefined,
        negatives,
      });
      for (const w of result.warnings) report(`${input}:${item.lineNumber}: record ${record.id}: ${w}`);
      if (result.steps.some((s) => s.truncated)) stats.truncated_records++;
      stats.tokens_evaluated += result.tokens.evaluated;
      stats.tokens_generated += result.tokens.generated;
      stats.naive_tokens += result.tokens.naive;
      if (calibration) emit({ record, result });
      else {
        pending.push({ record, result });
        if (pending.length >= flags.calibrationRecords) flushPending();
      }
      const done = writer.doneIds.size + stats.records + pending.length;
      bar?.update(done, { rate: ((stats.records + pending.length) / ((Date.now() - started) / 1000)).toFixed(1) });
    }
    if (pending.length > 0) flushPending();
  } catch (err) {
    bar?.stop();
    await writer?.close();
    await engine?.dispose();
    fail(err);
  } finally {
    process.off("SIGINT", onSigint);
  }
  bar?.stop();
  await writer?.close();
  await engine?.dispose();
  stats.seconds = (Date.now() - started) / 1000;
  if (flags.statsJson) writeFileSync(flags.statsJson, JSON.stringify(stats, null, 2) + "\n");
  const ratio = stats.naive_tokens > 0 ? ` (${(stats.tokens_evaluated / stats.naive_tokens).toFixed(3)} of the naive ${stats.naive_tokens})` : "";
  report(
    `${interrupted ? "interrupted: " : ""}labeled ${stats.records} records (${stats.steps} steps) in ${stats.seconds.toFixed(1)} s` +
      (stats.resumed ? `, ${stats.resumed} already in ${flags.output}` : "") +
      (stats.malformed ? `, ${stats.malformed} malformed lines skipped` : "") +
      ` · tokens evaluated ${stats.tokens_evaluated}${ratio}, generated ${stats.tokens_generated}` +
      (interrupted ? ` · run the same command again to resume` : ""),
  );
  if (interrupted) process.exitCode = 130;
}

function outputRecord(s: Scored, calibration: Calibration, threshold: number, format: "jsonl" | "trl"): Record<string, unknown> {
  const rewards = s.result.steps.map((x) => (Number.isFinite(x.reward) ? x.reward : null));
  const soft = s.result.steps.map((x) => (Number.isFinite(x.reward) ? softLabel(x.reward, calibration) : null));
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
  const out: Record<string, unknown> = {
    ...s.record,
    cpmi: rewards,
    soft_label: soft,
    negatives: s.result.negatives.map((n) => n.value),
    first_error: firstError,
  };
  if (s.result.gold.source === "fallback") {
    out.gold_answer = s.result.gold.value;
    out.gold_answer_source = "fallback";
  }
  return out;
}
