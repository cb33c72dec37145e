// Soft labels for PRM training (paper, Eq. 8): a robust z-score of the reward against a population
// of rewards (median and median absolute deviation), squashed by a sigmoid into (0, 1).

export interface Calibration {
  median: number;
  mad: number;
  /** How many rewards it was computed from. */
  n: number;
  /** For people: which model and settings, measured on what. */
  source: string;
  /** Short and stable: what labeled records carry, so a resumed run can check it uses the same scale. */
  id: string;
  /** shipped with StepLens, cached by `steplens calibrate`, computed just now, a fixed formula (Implicit PRM), or the neutral fallback. */
  origin: "shipped" | "cached" | "computed" | "formula" | "neutral";
}

/** Used when nothing better is known: a reward of 0 (the step changed nothing) maps to 0.5. */
export const NEUTRAL_CALIBRATION: Calibration = { median: 0, mad: 1, n: 0, source: "neutral (no calibration data)", id: "neutral", origin: "neutral" };

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function calibrate(rewards: readonly number[], source: string): Calibration {
  const finite = rewards.filter(Number.isFinite);
  if (finite.length < 2) return { ...NEUTRAL_CALIBRATION, source: `${NEUTRAL_CALIBRATION.source}; too few rewards in ${source}` };
  const m = median(finite);
  const mad = median(finite.map((r) => Math.abs(r - m)));
  // A degenerate population (all rewards equal) would divide by zero; keep the neutral scale then.
  return { median: m, mad: mad > 1e-9 ? mad : 1, n: finite.length, source, id: `computed:${source}`, origin: "computed" };
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** The paper divides by the MAD itself (not 1.4826·MAD, the normal-consistent scale); so do we. */
export function softLabel(reward: number, c: Calibration): number {
  return sigmoid((reward - c.median) / c.mad);
}
