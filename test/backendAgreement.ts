// Scores the same records with two backends and measures how far apart they land: the check that a
// server backend (llama-server, an OpenAI-compatible server) computes what the local backend computes.
// Negatives come from the deterministic fill-up (no sampling), so only teacher-forced
// log-probabilities can make the two disagree.

import path from "node:path";
import type { Backend } from "../server/engine/backend/types.js";
import { cpmiConfigFrom } from "../server/engine/engineOptions.js";
import { CpmiScorer, type CpmiConfig, type SolutionScore } from "../server/engine/cpmi/scorer.js";
import { DATA, DEMO_MODEL, readJsonlFile, stripPrefix } from "./helpers.js";

export interface DevRecord {
  id: string;
  problem: string;
  steps: string[];
  gold_answer: string;
}

export function devRecords(count: number, offset = 0): DevRecord[] {
  return readJsonlFile<DevRecord>(path.join(DATA, "arith-processbench-dev.jsonl")).slice(offset, offset + count);
}

/** The default CPMI configuration of the demo model with sampling off: negatives from the fill-up only. */
export function agreementConfig(templates = "reference"): CpmiConfig {
  return cpmiConfigFrom({ templates, samples: 0 }, DEMO_MODEL);
}

export async function scoreAll(backend: Backend, config: CpmiConfig, records: readonly DevRecord[]): Promise<SolutionScore[]> {
  const scorer = new CpmiScorer(backend, config);
  const out: SolutionScore[] = [];
  for (const r of records) {
    out.push(await scorer.score({ problem: r.problem, steps: r.steps.map(stripPrefix), gold: { value: r.gold_answer, source: "record" } }));
  }
  return out;
}

export interface Agreement {
  steps: number;
  maxReward: number;
  maxSoftLabel: number;
  maxGoldLp: number;
  /** Records whose negatives differ (would make the rest meaningless). */
  negativeMismatches: number;
}

export function agreement(a: readonly SolutionScore[], b: readonly SolutionScore[]): Agreement {
  const out: Agreement = { steps: 0, maxReward: 0, maxSoftLabel: 0, maxGoldLp: 0, negativeMismatches: 0 };
  a.forEach((x, r) => {
    const y = b[r]!;
    if (x.negatives.map((n) => n.value).join() !== y.negatives.map((n) => n.value).join()) out.negativeMismatches++;
    x.steps.forEach((s, i) => {
      const t = y.steps[i]!;
      out.steps++;
      out.maxReward = Math.max(out.maxReward, gap(s.reward, t.reward));
      out.maxSoftLabel = Math.max(out.maxSoftLabel, gap(s.softLabel, t.softLabel));
    });
    x.goldLogprobs.forEach((row, t) => row.forEach((lp, i) => (out.maxGoldLp = Math.max(out.maxGoldLp, gap(lp, y.goldLogprobs[t]![i]!)))));
  });
  return out;
}

/** |a - b|, 0 when both are NaN (a step cut off by the context in both runs), Infinity when one is. */
function gap(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  return Math.abs(a - b);
}
