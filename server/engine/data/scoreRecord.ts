// One dataset record scored as if it were the only one: what `label` writes for a record must not
// depend on which records came before it in this process. Two things carried history: the scorer's
// memo (a problem shared by several records reused log-probabilities computed among another
// record's answers) and the lane's KV cache (a walker kept the problem's tokens, evaluated in other
// batches). A resumed run starts with neither, so an interrupted-and-resumed dataset differed from an
// uninterrupted one (by up to 6.2e-4 in a reward: bench/results/label-history/). Each record therefore gets its own scorer and fresh
// sessions; records of one problem pay for its prefix once each. Implicit PRM keeps nothing between
// solutions (each model reads the whole text in one pass from an empty sequence), so its scorer is
// the engine's.

import type { Engine } from "../engineOptions.js";
import type { Backend } from "../backend/types.js";
import { BestOfN } from "../bon/bestOfN.js";
import { CpmiScorer, type GoldAnswer, type SolutionScore } from "../cpmi/scorer.js";
import type { Calibration } from "../cpmi/softLabels.js";
import { implicitSolutionScore } from "../implicit/asSolutionScore.js";
import { combineWithImplicit } from "../implicit/combined.js";
import { writtenFromRecord } from "../implicit/written.js";
import { MonteCarloScorer } from "../mc/monteCarlo.js";
import { withMethod } from "../methods/stepMethods.js";
import { cleanStepText, stripStepPrefix } from "../parse/index.js";
import type { ProcessBenchRecord } from "./processBenchRecord.js";

export interface RecordScoring {
  /** Hard negatives read from the record instead of chosen by the scorer. */
  negatives?: string[];
  signal?: AbortSignal;
  /** Told when the record has no gold answer and the model's own answer stands in. */
  onFallbackGold?: (gold: GoldAnswer) => void;
  /** CPMI's soft-label scale when it is not the engine's (label --use-negatives: methods/softLabelScale.ts). */
  calibration?: Calibration;
}

/** The same backend, except that every session starts from an empty cache (SessionOptions.fresh). */
export function freshSessions(backend: Backend): Backend {
  return {
    get info() {
      return backend.info;
    },
    get counters() {
      return backend.counters;
    },
    get parallel() {
      return backend.parallel;
    },
    tokenize: (text) => backend.tokenize(text),
    openSession: () => backend.openSession({ fresh: true }),
    dispose: () => backend.dispose(),
  };
}

export async function scoreRecord(engine: Engine, record: ProcessBenchRecord, options: RecordScoring = {}): Promise<SolutionScore> {
  // Implicit PRM reads the record as written (steps with their prefixes, the answer line) and needs
  // no gold answer, so no pseudo-gold is drawn for it.
  if (engine.method === "implicit" && engine.implicit) {
    const imp = await engine.implicit.score(writtenFromRecord(record), options.signal);
    return implicitSolutionScore(imp, record.gold_answer != null ? { value: String(record.gold_answer), source: "record" } : undefined);
  }
  const backend = freshSessions(engine.backend);
  const config = options.calibration ? { ...engine.scorer.config, calibration: options.calibration } : engine.scorer.config;
  const scorer = new CpmiScorer(backend, config);
  const mc = engine.mc ? new MonteCarloScorer(backend, engine.mc.config) : undefined;
  const steps = record.steps.map((s) => cleanStepText(stripStepPrefix(s).text));
  const gold = await goldOf(scorer, record, options.signal);
  if (gold?.source === "fallback") options.onFallbackGold?.(gold);
  const result = await scorer.score({ problem: record.problem, steps, gold, negatives: options.negatives, signal: options.signal });
  if (engine.method === "cpmi_implicit" && engine.implicit) {
    return combineWithImplicit(result, await engine.implicit.score(writtenFromRecord(record), options.signal), config.threshold);
  }
  // With another method than CPMI (`label --method mc`, ...), its values become the soft labels.
  return await withMethod(engine.method, { cpmi: scorer, mc }, record.problem, steps, result, options.signal);
}

/**
 * A record's gold answer, or for a record without one the model's own: the majority answer of
 * solutions it writes to the problem, as files without a gold answer get (scoreDocument.ts). On the
 * Best-of-N dev set this named a wrong answer never, the scorer's own fallback (answers sampled right
 * after the answer cue) 7.5% of the time. When the model writes no readable answer, undefined lets
 * the scorer fall back.
 */
async function goldOf(scorer: CpmiScorer, record: ProcessBenchRecord, signal?: AbortSignal): Promise<GoldAnswer | undefined> {
  if (record.gold_answer != null) return { value: String(record.gold_answer), source: "record" };
  const gold = await BestOfN.of(scorer).pseudoGoldOf(record.problem, [], { signal });
  return (gold.agreement ?? 0) > 0 ? gold : undefined;
}
