// Two qualities of one scoring configuration. The editor scores while the user types with the cheap
// one and upgrades to the full one when the file is idle or saved (issue 11, item 3); the CLI and
// the language server pick one per call. Both share the model and the memo of log-probabilities.

import { CpmiScorer, type CpmiConfig } from "./cpmi/scorer.js";

export const QUALITIES = ["fast", "full"] as const;
export type Quality = (typeof QUALITIES)[number];

export function isQuality(s: string): s is Quality {
  return (QUALITIES as readonly string[]).includes(s);
}

/**
 * full: the configuration as given (the scoring default: three templates, M = 4 negatives sampled
 * after every prefix). fast: its first template only, and hard negatives read from the results the
 * solution's own steps compute (methods/trajectoryNegatives.ts): no token generated, one walk over
 * the prefixes. The template the two share keeps its memo entries, so a full pass after a fast one
 * recomputes nothing for that template.
 */
export function configForQuality(full: CpmiConfig, quality: Quality): CpmiConfig {
  if (quality === "full") return full;
  return { ...full, templates: full.templates.slice(0, 1), negativesFrom: "solution", samplesPerPrefix: 0 };
}

const fastScorers = new WeakMap<CpmiScorer, CpmiScorer>();

/**
 * The scorer of an engine (`engine.scorer` is the full one) for a quality: the fast one is made once
 * per full scorer, on the same backend and memo.
 */
export function scorerForQuality(engine: { scorer: CpmiScorer }, quality: Quality): CpmiScorer {
  if (!isQuality(quality)) throw new Error(`unknown quality "${String(quality)}": use ${QUALITIES.join(", ")}`);
  const full = engine.scorer;
  if (quality === "full") return full;
  let fast = fastScorers.get(full);
  if (!fast) fastScorers.set(full, (fast = new CpmiScorer(full.backend, configForQuality(full.config, quality), full.memo)));
  return fast;
}
