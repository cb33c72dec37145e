// Soft labels need the median and MAD of a model's rewards over many steps (paper, Eq. 8). Taking them
// from whatever is being labeled made one step's soft label depend on its company: five records of
// which four were wrong set a median so low that every wrong step looked fine. So one fixed reference
// population per (model, reward settings) sets the scale everywhere — a file in the editor, a dataset
// of any size, a resumed run — looked up in this order:
//   1. cached: measured once by `steplens calibrate` for any model and settings, kept in the user's
//      cache folder and used by every front end (score, label, editor, serve);
//   2. shipped: measured for the demo model with each shipped preset (bench/results-calibration/);
//   3. neutral: median 0, MAD 1, named as such in every output, with the command that computes a real one.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { steplensCacheDir } from "../cacheDir.js";
import { DatasetError } from "../data/datasetError.js";
import { calibrationId, type ModelIdentity } from "./calibrationKey.js";
import { NEUTRAL_CALIBRATION, type Calibration } from "./softLabels.js";

const StoredCalibrationSchema = z.object({
  version: z.literal(1),
  model: z.object({ name: z.string().min(1), bytes: z.number().int().nonnegative(), fingerprint: z.string().regex(/^[0-9a-f]{64}$/) }),
  /** calibrationConfigKey() of the settings it was measured with. */
  settings: z.string().min(1),
  median: z.number().refine(Number.isFinite, "must be a finite number"),
  mad: z.number().positive(),
  n: z.number().int().positive(),
  /** What it was measured on, for people. */
  reference: z.string(),
  created: z.string().optional(),
});

export type StoredCalibration = z.infer<typeof StoredCalibrationSchema>;

/** A calibration file that cannot be used: named, with what to do, and never a stack trace. */
export class CalibrationError extends DatasetError {
  constructor(message: string) {
    super(message);
    this.name = "CalibrationError";
  }
}

/**
 * Measured by the commands in bench/results-calibration/README.md; test/calibration.test.ts checks
 * that these numbers are the ones stored there and that the keys match the presets' settings today.
 */
const SHIPPED: readonly ShippedCalibration[] = [
  {
    preset: "the editor's and score's defaults",
    measured: "bench/results-calibration/scoring.json",
    version: 1,
    model: { name: "arith-demo-15m-f16.gguf", bytes: 29150688, fingerprint: "aa5b631837d0d3b67bc643ab6b31962f6dd1a317e91aa3ce0a62d977d4f4fac3" },
    settings: "templates=question-answer-is#b76af6,problem-final-answer#d95ea2,markdown-boxed#cf9c1b;negatives=samples(m=4,k=8,T=1,max=6,fill=heuristic);weights=frequency",
    median: 0.09043415617372437,
    mad: 0.7256015881796065,
    n: 1179,
    reference: "1179 steps of 400 records of arith-processbench-dev.jsonl",
  },
  {
    preset: "label's defaults",
    measured: "bench/results-calibration/labeling.json",
    version: 1,
    model: { name: "arith-demo-15m-f16.gguf", bytes: 29150688, fingerprint: "aa5b631837d0d3b67bc643ab6b31962f6dd1a317e91aa3ce0a62d977d4f4fac3" },
    settings: "templates=question-answer-is#b76af6;negatives=solution(m=1);weights=frequency",
    median: 0.08750437324742336,
    mad: 0.9190154062153745,
    n: 1179,
    reference: "1179 steps of 400 records of arith-processbench-dev.jsonl",
  },
];

/** Which shipped preset a settings key is, for people ("label's defaults"); undefined for others. */
export function shippedPresetName(settings: string): string | undefined {
  return SHIPPED.find((e) => e.settings === settings)?.preset;
}

export interface ShippedCalibration extends StoredCalibration {
  /** Whose defaults, for people. */
  preset: string;
  /** The stored output of the command that measured it, relative to the repository. */
  measured: string;
}

export function shippedCalibrations(): readonly ShippedCalibration[] {
  return SHIPPED;
}

export function calibrationsDir(cacheDir = steplensCacheDir()): string {
  return path.join(cacheDir, "calibrations");
}

function cacheFile(dir: string, model: { fingerprint: string }, settings: string): string {
  return path.join(dir, `${model.fingerprint.slice(0, 16)}-${createHash("sha256").update(settings).digest("hex").slice(0, 16)}.json`);
}

function fromStored(e: StoredCalibration, origin: "shipped" | "cached", where: string): Calibration {
  return {
    median: e.median,
    mad: e.mad,
    n: e.n,
    id: calibrationId(e.model, e.settings, e),
    origin,
    source: `${e.model.name}, measured on ${e.reference} (${where})`,
  };
}

/** Reads one cached calibration; a damaged file is an error that says to delete it and how to measure again. */
export function readCalibrationFile(file: string): StoredCalibration {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CalibrationError(`cannot read the calibration file ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw damaged(file, `not valid JSON: ${(err as Error).message}`);
  }
  const parsed = StoredCalibrationSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw damaged(file, `${issue.path.join(".") || "the file"}: ${issue.message}`);
  }
  return parsed.data;
}

function damaged(file: string, why: string): CalibrationError {
  return new CalibrationError(
    `the calibration file ${file} is damaged (${why}). Delete it, then measure the calibration again with ` +
      "`steplens calibrate --model MODEL` and the same reward settings (until then soft labels use the neutral scale)",
  );
}

export interface FindOptions {
  /** Defaults to the user's cache folder (steplensCacheDir). */
  cacheDir?: string;
}

/**
 * The calibration for a model and reward settings: cached, else shipped, else neutral. A model known
 * only by name (a server's) matches shipped and cached entries by file name, the best it can do.
 */
export function findCalibration(model: ModelIdentity, settings: string, options: FindOptions = {}): Calibration {
  const sameModel = (m: StoredCalibration["model"]): boolean => (model.fingerprint ? m.fingerprint === model.fingerprint : m.name === model.name);
  // The user's own measurement first: `steplens calibrate` on their data is a deliberate choice.
  const dir = calibrationsDir(options.cacheDir);
  if (model.fingerprint) {
    const file = cacheFile(dir, { fingerprint: model.fingerprint }, settings);
    const stored = readIfPresent(file);
    if (stored) {
      if (stored.model.fingerprint !== model.fingerprint || stored.settings !== settings) {
        throw damaged(file, "it belongs to another model or other settings than its name says");
      }
      return fromStored(stored, "cached", `steplens calibrate, ${file}`);
    }
  } else {
    for (const name of listJson(dir)) {
      const stored = readCalibrationFile(path.join(dir, name));
      if (stored.settings === settings && stored.model.name === model.name) return fromStored(stored, "cached", "steplens calibrate, matched by model name");
    }
  }
  const shipped = SHIPPED.find((e) => e.settings === settings && sameModel(e.model));
  if (shipped) return fromStored(shipped, "shipped", `shipped with StepLens for ${shipped.preset}`);
  return {
    ...NEUTRAL_CALIBRATION,
    source: `neutral (median 0, MAD 1): no calibration of ${model.name} for these reward settings is known; ` + "`steplens calibrate` measures one once",
  };
}

function readIfPresent(file: string): StoredCalibration | undefined {
  return existsSync(file) ? readCalibrationFile(file) : undefined;
}

function listJson(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
  } catch {
    return [];
  }
}

/**
 * Stores a measured calibration where findCalibration looks, replacing an earlier one for the same
 * model and settings; written to a temporary name and renamed, so a reader never sees half a file.
 * Returns the file and the calibration it replaced, if any.
 */
export function saveCalibration(entry: StoredCalibration, options: FindOptions = {}): { file: string; replaced?: StoredCalibration } {
  const dir = calibrationsDir(options.cacheDir);
  const file = cacheFile(dir, entry.model, entry.settings);
  let replaced: StoredCalibration | undefined;
  try {
    replaced = readIfPresent(file);
  } catch {
    replaced = undefined; // a damaged earlier file is what this run replaces
  }
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(StoredCalibrationSchema.parse(entry), null, 2) + "\n");
    renameSync(tmp, file);
  } catch (err) {
    throw new CalibrationError(`cannot save the calibration in ${dir}: ${(err as Error).message}; set STEPLENS_CACHE_DIR to a folder you can write`);
  }
  return { file, replaced };
}
