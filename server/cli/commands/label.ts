import { writeFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { ALL_STEP_METHODS } from "../../engine/methods/stepMethods.js";
import { SingleBar, Presets } from "cli-progress";
import { createEngine, type Engine } from "../../engine/engineOptions.js";
import { labelDataset, type LabelRunResult } from "../../engine/data/labelDataset.js";
import { describePoolEvent } from "../../engine/backend/pool.js";
import { addEngineFlags, addImplicitFlags, engineOptionsFrom, parseIntStrict, type EngineFlagValues } from "../engineFlags.js";
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
  method: string;
}

export function registerLabel(program: Command): void {
  addImplicitFlags(addEngineFlags(
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
      .option("--calibration-records <n>", "records whose rewards set the soft-label median/MAD", parseIntStrict, 64)
      .addOption(new Option("--method <method>", "how steps are labeled: cpmi, mc (Monte Carlo rollouts, Math-Shepherd: soft label = share reaching the gold answer), cpmi_merge, rand_merge; the CPMI rewards are written beside any of them; implicit (Implicit PRM: fields implicit, q, soft_label; --model is the policy, --reference-model the reference), cpmi_implicit (CPMI on the reference and Implicit PRM, soft label = their mean)").choices([...ALL_STEP_METHODS]).default("cpmi")),
    "labeling",
  )).action(async (input: string, flags: LabelFlags) => {
    if (flags.format !== "jsonl" && flags.format !== "trl") fail(new Error(`unknown --format "${flags.format}": use jsonl or trl`));
    await runLabel(input, flags);
  });
}

async function runLabel(input: string, flags: LabelFlags): Promise<void> {
  let engine: Engine | undefined;
  let bar: SingleBar | undefined;
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.on("SIGINT", onSigint);
  let run: LabelRunResult;
  try {
    // With several --endpoint, retries and endpoints taken out are the user's to know.
    engine = await createEngine({ ...engineOptionsFrom(flags), method: flags.method, onPoolEvent: (e) => report(describePoolEvent(e)) });
    run = await labelDataset(
      engine,
      input,
      flags.output,
      {
        format: flags.format,
        useNegatives: flags.useNegatives,
        strict: flags.strict,
        limit: flags.limit,
        overwrite: flags.overwrite,
        calibrationRecords: flags.calibrationRecords,
      },
      {
        signal: stop.signal,
        onMessage: report,
        onProgress: (p) => {
          if (!process.stderr.isTTY) return;
          if (!bar) {
            bar = new SingleBar(
              { format: "labeling [{bar}] {value}/{total} records · {rate} rec/s · ETA {eta_formatted}", etaBuffer: 20 },
              Presets.shades_classic,
            );
            bar.start(p.total, p.done, { rate: "0.0" });
          } else bar.update(p.done, { rate: p.rate.toFixed(1) });
        },
      },
    );
  } catch (err) {
    bar?.stop();
    await engine?.dispose();
    fail(err);
  } finally {
    process.off("SIGINT", onSigint);
  }
  bar?.stop();
  await engine.dispose();
  const { stats, interrupted } = run;
  if (run.stoppedAtMalformed) process.exitCode = 1;
  if (flags.statsJson) writeFileSync(flags.statsJson, JSON.stringify(stats, null, 2) + "\n");
  // The naive count is CPMI's from-scratch cost; it says nothing about Monte Carlo rollouts.
  const ratio =
    stats.naive_tokens > 0 && flags.method === "cpmi"
      ? ` (${(stats.tokens_evaluated / stats.naive_tokens).toFixed(3)} of the naive ${stats.naive_tokens})`
      : stats.naive_tokens > 0 && flags.method === "implicit"
        ? ` (${(stats.tokens_evaluated / stats.naive_tokens).toFixed(3)} of the floor ${stats.naive_tokens}: every token once per model)`
        : "";
  report(
    `${interrupted ? "interrupted: " : ""}labeled ${stats.records} records (${stats.steps} steps) in ${stats.seconds.toFixed(1)} s` +
      (stats.resumed ? `, ${stats.resumed} already in ${flags.output}` : "") +
      (stats.malformed ? `, ${stats.malformed} malformed lines skipped` : "") +
      ` · tokens evaluated ${stats.tokens_evaluated}${ratio}, generated ${stats.tokens_generated}` +
      (interrupted ? ` · run the same command again to resume` : ""),
  );
  if (interrupted) process.exitCode = 130;
}
