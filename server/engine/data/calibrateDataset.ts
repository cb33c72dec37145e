// `steplens calibrate`: the median and MAD of a model's step rewards over a reference dataset, for
// one set of reward settings, measured once and kept (cpmi/calibrations.ts) so that every front end
// puts soft labels on the same scale. Records are scored exactly as `label` scores them (scoreRecord),
// so a calibration measured on a dataset describes the rewards `label` writes for it.

import path from "node:path";
import type { Engine } from "../engineOptions.js";
import { calibrate, type Calibration } from "../cpmi/softLabels.js";
import { calibrationConfigKey, calibrationId, modelIdentity } from "../cpmi/calibrationKey.js";
import { CalibrationError, type StoredCalibration } from "../cpmi/calibrations.js";
import { readJsonl, validateProcessBenchRecord } from "./jsonl.js";
import { scoreRecord } from "./scoreRecord.js";

export interface CalibrateOptions {
  limit?: number;
  /** Negatives read from this field of each record (as `label --use-negatives`). */
  useNegatives?: string;
  signal?: AbortSignal;
  onMessage?: (message: string) => void;
  /** After each record: records scored so far. */
  onProgress?: (records: number) => void;
}

export interface CalibrateResult {
  /** What saveCalibration stores. */
  stored: StoredCalibration;
  calibration: Calibration;
  records: number;
  seconds: number;
}

export async function calibrateOnDataset(engine: Engine, input: string, options: CalibrateOptions = {}): Promise<CalibrateResult> {
  const started = Date.now();
  const say = options.onMessage ?? (() => {});
  // A calibration is CPMI's scale; Implicit PRM's is a formula (implicit/implicitPrm.ts) and Monte
  // Carlo values need none, so their rewards must not be measured under a CPMI settings key.
  if (engine.method !== "cpmi") throw new CalibrationError(`calibrate measures CPMI's reward scale; method ${engine.method} is not CPMI (Implicit PRM's soft labels use σ(reward / 2β), Monte Carlo's are shares of rollouts)`);
  const model = modelIdentity(engine.backend.info.model);
  if (!model.fingerprint || model.bytes == null) {
    throw new CalibrationError(
      `calibrate needs the model file on this machine (a calibration is kept under the file's fingerprint), but ${engine.backend.info.model} is no file here: ` +
        "run `steplens calibrate --model FILE` where the model file is, e.g. on the machine that runs `steplens serve`",
    );
  }
  const settings = calibrationConfigKey(engine.scorer.config, options.useNegatives);
  const rewards: number[] = [];
  let records = 0;
  for await (const item of readJsonl(input)) {
    if (options.signal?.aborted) throw new CalibrationError("calibration stopped before the end of the data; nothing was saved");
    if (options.limit != null && records >= options.limit) break;
    const checked = item.error != null ? ({ ok: false, error: item.error } as const) : validateProcessBenchRecord(item.value);
    if (!checked.ok) {
      say(`${input}:${item.lineNumber}: ${checked.error} (skipped)`);
      continue;
    }
    let negatives: string[] | undefined;
    if (options.useNegatives) {
      const v = checked.record[options.useNegatives];
      if (!Array.isArray(v)) {
        say(`${input}:${item.lineNumber}: record ${checked.record.id} has no array field "${options.useNegatives}" (skipped)`);
        continue;
      }
      negatives = v.map(String);
    }
    const result = await scoreRecord(engine, checked.record, { negatives, signal: options.signal });
    for (const s of result.steps) if (Number.isFinite(s.reward)) rewards.push(s.reward);
    records++;
    options.onProgress?.(records);
  }
  if (rewards.length < 20) {
    throw new CalibrationError(`${input} gave ${rewards.length} step rewards from ${records} records; a calibration needs many more (a few hundred steps): use a larger dataset`);
  }
  const stats = calibrate(rewards, input);
  const stored: StoredCalibration = {
    version: 1,
    model: { name: model.name, bytes: model.bytes, fingerprint: model.fingerprint },
    settings,
    median: stats.median,
    mad: stats.mad,
    n: stats.n,
    reference: `${stats.n} steps of ${records} records of ${path.basename(input)}`,
    created: new Date().toISOString(),
  };
  const calibration: Calibration = { ...stats, id: calibrationId(stored.model, settings, stored), origin: "computed", source: `${model.name}, measured on ${stored.reference}` };
  return { stored, calibration, records, seconds: (Date.now() - started) / 1000 };
}
