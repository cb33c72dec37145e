// Which scale a method's soft labels are on, so that every output carrying them (label's records,
// score --json, Label Dataset, /v1/label) names the same thing and a resumed labeling run can check
// that it writes on the scale of the records already there. CPMI's scale is the fixed calibration of
// the model and reward settings (cpmi/calibrations.ts); Implicit PRM's is a formula, σ(reward / 2β)
// (implicit/implicitPrm.ts); cpmi_implicit's soft label is the mean of the two, so it is on both.

import type { Engine } from "../engineOptions.js";
import { findCalibration } from "../cpmi/calibrations.js";
import { calibrationConfigKey, modelIdentity } from "../cpmi/calibrationKey.js";
import type { Calibration } from "../cpmi/softLabels.js";

/**
 * CPMI's scale: the engine's (model + reward settings), or with negatives read from the records
 * (label --use-negatives), the calibration measured with those (usually none: the neutral scale).
 */
export function cpmiCalibration(engine: Pick<Engine, "scorer" | "backend">, useNegatives?: string): Calibration {
  if (!useNegatives) return engine.scorer.config.calibration;
  return findCalibration(modelIdentity(engine.backend.info.model), calibrationConfigKey(engine.scorer.config, useNegatives));
}

/**
 * The scale the engine's method puts soft labels on, as outputs name it. For cpmi_implicit the id
 * joins both parts' ids and the origin is CPMI's (its part is the one that may be neutral). Monte
 * Carlo and the merges keep CPMI's: their records carry the CPMI rewards and, for cpmi_merge, CPMI
 * soft labels.
 */
export function softLabelScale(engine: Pick<Engine, "scorer" | "backend" | "method" | "implicit">, useNegatives?: string): Calibration {
  const cpmi = cpmiCalibration(engine, useNegatives);
  const implicit = engine.implicit?.config.calibration;
  if (engine.method === "implicit" && implicit) return implicit;
  if (engine.method === "cpmi_implicit" && implicit) {
    return {
      ...cpmi,
      id: `${cpmi.id}+${implicit.id}`,
      source: `the mean of CPMI's soft label (calibration ${cpmi.id}: ${cpmi.source}) and Implicit PRM's (${implicit.source})`,
    };
  }
  return cpmi;
}
