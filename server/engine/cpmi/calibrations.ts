// Soft labels need the median and MAD of a model's rewards over many steps. For models we have
// measured, that population is known in advance, so a single file in the editor gets the same soft
// labels as the same steps inside a labeled dataset. Other models use a dataset's own statistics
// (`steplens label` computes them) or the neutral calibration.

import path from "node:path";
import type { Calibration } from "./softLabels.js";

const KNOWN: Record<string, Calibration> = {
  // Default settings (3 templates, M = 4 frequency-weighted sampled negatives) on the 1,300 steps of
  // ../shared/data/arith-processbench-dev.jsonl.
  "arith-demo-15m-f16.gguf": { median: 0.0904, mad: 0.7255, n: 1300, source: "demo model on arith-processbench-dev (default settings)" },
};

export function knownCalibration(modelPath: string): Calibration | undefined {
  return KNOWN[path.basename(modelPath)];
}
