import type { Command } from "commander";
import { createEngine, type Engine } from "../../engine/engineOptions.js";
import { calibrateOnDataset } from "../../engine/data/calibrateDataset.js";
import { saveCalibration, shippedPresetName } from "../../engine/cpmi/calibrations.js";
import { addEngineFlags, engineOptionsFrom, parseIntStrict, PRESETS, type EngineFlagValues } from "../engineFlags.js";
import { fail, report } from "../report.js";

interface CalibrateFlags extends EngineFlagValues {
  data: string;
  for: string;
  limit?: number;
  useNegatives?: string;
  json?: boolean;
  save: boolean;
}

export function registerCalibrate(program: Command): void {
  const cmd = addEngineFlags(
    program
      .command("calibrate")
      .description(
        "measure once the soft-label scale (median and MAD of step rewards) of a model with given reward settings, on a reference dataset; " +
          "score, label, the editor and serve use it from then on",
      )
      .requiredOption("--data <file>", "reference dataset: ProcessBench-style JSONL ({id, problem, steps, gold_answer}) of problems and solutions like the ones you will score")
      .option("--for <job>", "whose default reward settings to calibrate: scoring (score, the editor, serve) or labeling (label); --templates/--negatives/--negatives-from override them", "scoring")
      .option("--limit <n>", "use at most this many records", parseIntStrict)
      .option("--use-negatives <field>", "as for label: take each record's hard negatives from this field")
      .option("--json", "print the measured calibration as JSON on stdout")
      .option("--no-save", "measure and print, but do not keep it in the cache"),
  );
  cmd.action(async (flags: CalibrateFlags) => {
    if (flags.for !== "scoring" && flags.for !== "labeling") fail(new Error(`unknown --for "${flags.for}": use scoring or labeling`));
    // The chosen job's preset fills in the reward settings the user did not set on the command line.
    const preset = PRESETS[flags.for];
    const fromPreset = <K extends keyof typeof preset>(key: K, flag: keyof CalibrateFlags): void => {
      if (cmd.getOptionValueSource(flag) === "default") (flags as unknown as Record<string, unknown>)[flag] = preset[key];
    };
    fromPreset("templates", "templates");
    fromPreset("negatives", "negatives");
    fromPreset("negativesFrom", "negativesFrom");
    let engine: Engine | undefined;
    try {
      engine = await createEngine(engineOptionsFrom(flags));
      const shown = process.stderr.isTTY;
      const result = await calibrateOnDataset(engine, flags.data, {
        limit: flags.limit,
        useNegatives: flags.useNegatives,
        onMessage: report,
        onProgress: (n) => {
          if (shown) process.stderr.write(`\rsteplens: calibrating: ${n} records scored`);
        },
      });
      if (shown) process.stderr.write("\n");
      const { stored, calibration } = result;
      if (flags.json) process.stdout.write(JSON.stringify(stored, null, 2) + "\n");
      const preset = shippedPresetName(stored.settings);
      report(
        `calibration of ${stored.model.name} for ${preset ?? "these reward settings"}: median ${stored.median.toFixed(4)}, MAD ${stored.mad.toFixed(4)} ` +
          `over ${stored.reference}, in ${result.seconds.toFixed(1)} s (id ${calibration.id})`,
      );
      if (flags.save) {
        const saved = saveCalibration(stored);
        report(
          `saved to ${saved.file}` +
            (saved.replaced ? ` (replacing the one measured on ${saved.replaced.reference})` : "") +
            `; score, label, the editor and serve use it for this model and these settings from now on`,
        );
      }
    } catch (err) {
      await engine?.dispose();
      fail(err);
    }
    await engine.dispose();
  });
}
