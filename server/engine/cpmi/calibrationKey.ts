// What a calibration belongs to. The reward's scale depends on the model and on how the reward is
// computed (templates, where the negatives come from, how many, how they are weighed), so a
// calibration measured for one pair must never be applied to another: `label`'s lean preset
// (1 template, M = 1 from the solution) and the editor's (3 templates, M = 4 sampled) give the same
// step different rewards.

import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import path from "node:path";
import type { CpmiConfig } from "./scorer.js";

export interface ModelIdentity {
  /** The file name (or, for a model server, the name it reports). */
  name: string;
  /** Set for a model file on this machine. */
  bytes?: number;
  /** sha256 over the size, the first and the last MiB of the file (see modelIdentity). */
  fingerprint?: string;
}

const SLICE = 1 << 20;

/**
 * A model file's identity without reading it all: a 40 GB model would take a minute to hash at
 * every start. The head holds the GGUF metadata (architecture, tokenizer, name), the tail the last
 * tensor's weights, so a fine-tune, another quantization or a re-download of a different revision
 * differs even under the same name; a renamed copy of the same file does not.
 * A name that is no file here (a model server's model) gets an identity by name alone.
 */
export function modelIdentity(modelPathOrName: string): ModelIdentity {
  const name = path.basename(modelPathOrName);
  let fd: number;
  try {
    fd = openSync(modelPathOrName, "r");
  } catch {
    return { name };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { name };
    const hash = createHash("sha256").update(`${stat.size}\n`);
    const read = (position: number, length: number): void => {
      const buf = Buffer.alloc(length);
      const got = readSync(fd, buf, 0, length, position);
      hash.update(buf.subarray(0, got));
    };
    if (stat.size <= 2 * SLICE) read(0, stat.size);
    else {
      read(0, SLICE);
      read(stat.size - SLICE, SLICE);
    }
    return { name, bytes: stat.size, fingerprint: hash.digest("hex") };
  } finally {
    closeSync(fd);
  }
}

/** What of a CPMI configuration changes the reward's scale; the seed and the threshold do not. */
export type ScaleSettings = Pick<CpmiConfig, "templates" | "negatives" | "negativesFrom" | "samplesPerPrefix" | "temperature" | "sampleMaxTokens" | "negativeWeights" | "fill">;

/**
 * A readable key of the settings that set the reward's scale. Templates enter by name and a short
 * hash of their text, so that editing a template's wording invalidates the calibrations measured
 * with it. `givenNegatives` names the dataset field the negatives were read from (label
 * --use-negatives): then the configuration's own negative settings do not apply.
 */
export function calibrationConfigKey(config: ScaleSettings, givenNegatives?: string): string {
  const templates = config.templates
    .map((t) => {
      const text = [t.head("{problem}"), t.step("{step}", 0), t.cue, t.continuation("{answer}")].join("\u0000");
      return `${t.name}#${createHash("sha256").update(text).digest("hex").slice(0, 6)}`;
    })
    .join(",");
  const negatives = givenNegatives
    ? `given:${givenNegatives}`
    : config.negativesFrom === "samples"
      ? `samples(m=${config.negatives},k=${config.samplesPerPrefix},T=${config.temperature},max=${config.sampleMaxTokens},fill=${config.fill})`
      : `${config.negativesFrom}(m=${config.negatives})`;
  return `templates=${templates};negatives=${negatives};weights=${config.negativeWeights}`;
}

/**
 * The short identity a labeled record carries: which model, which settings, which numbers (two
 * measurements for one model and settings, e.g. on different reference data, are different scales).
 */
export function calibrationId(model: ModelIdentity, configKey: string, scale: { median: number; mad: number }): string {
  const short = (s: string, n: number): string => createHash("sha256").update(s).digest("hex").slice(0, n);
  return `${model.name}@${model.fingerprint ? model.fingerprint.slice(0, 12) : "name"}/${short(configKey, 8)}.${short(`${scale.median}/${scale.mad}`, 6)}`;
}
