// Does a labeled record depend on the records scored before it in the same process? A resumed
// `label` run starts with empty caches, so any such dependence makes an interrupted-and-resumed
// output differ from an uninterrupted one. Data: the first N dev records, each followed by a second
// solution of the same problem (its last step dropped), as ProcessBench has several per problem.
// Each second solution is scored (a) after its first solution in one process, (b) alone in a fresh
// backend, both with the engine's shared scorer and cache (how `label` scored before) and with
// scoreRecord (a fresh scorer and fresh sessions per record, how it scores now).
// Usage: node --import tsx bench/labelHistory.ts [--records N] [--preset labeling|scoring]
// Prints, per way of scoring, how many second solutions differ and the largest reward difference.

import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createEngine, type Engine } from "../server/engine/engineOptions.js";
import { scoreRecord } from "../server/engine/data/scoreRecord.js";
import { cleanStepText, stripStepPrefix } from "../server/engine/parse/index.js";
import type { ProcessBenchRecord } from "../server/engine/data/processBenchRecord.js";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "30" },
    preset: { type: "string", default: "labeling" },
    data: { type: "string", default: path.resolve(import.meta.dirname, "../../shared/data/arith-processbench-dev.jsonl") },
  },
});

const PRESETS: Record<string, { templates: string; negatives: number; negativesFrom: string }> = {
  labeling: { templates: "question-answer-is", negatives: 1, negativesFrom: "solution" },
  scoring: { templates: "default", negatives: 4, negativesFrom: "samples" },
};
const preset = PRESETS[values.preset];
if (!preset) throw new Error(`--preset labeling or scoring, got ${values.preset}`);

const firsts = readFileSync(values.data, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .slice(0, Number(values.records))
  .map((l) => JSON.parse(l) as ProcessBenchRecord);
const seconds = firsts.map((r) => ({ ...r, id: `${r.id}-b`, steps: r.steps.length > 1 ? r.steps.slice(0, -1) : [...r.steps, "So that is the answer."] }));

const open = (): Promise<Engine> => createEngine({ gpu: "off", threads: 1, ...preset });

type Way = (engine: Engine, r: ProcessBenchRecord) => Promise<number[]>;
const shared: Way = async (engine, r) =>
  (await engine.scorer.score({ problem: r.problem, steps: r.steps.map((s) => cleanStepText(stripStepPrefix(s).text)), gold: { value: String(r.gold_answer), source: "record" } })).steps.map((s) => s.reward);
const isolated: Way = async (engine, r) => (await scoreRecord(engine, r)).steps.map((s) => s.reward);

async function compare(name: string, way: Way): Promise<void> {
  const inSequence = new Map<string, number[]>();
  let engine = await open();
  for (let k = 0; k < firsts.length; k++) {
    await way(engine, firsts[k]!);
    inSequence.set(seconds[k]!.id, await way(engine, seconds[k]!));
  }
  await engine.dispose();
  let differ = 0;
  let max = 0;
  for (const r of seconds) {
    // Alone, as a run resumed right before it scores it: a newly loaded model, nothing cached.
    engine = await open();
    const alone = await way(engine, r);
    await engine.dispose();
    const before = inSequence.get(r.id)!;
    const d = Math.max(...alone.map((x, i) => Math.abs(x - before[i]!)));
    if (alone.some((x, i) => x !== before[i])) differ++;
    max = Math.max(max, d);
  }
  console.log(`${name.padEnd(44)} ${String(differ).padStart(3)} of ${seconds.length} differ, max |Δ reward| ${max.toExponential(2)}`);
}

console.log(`preset ${values.preset} (${JSON.stringify(preset)}), ${firsts.length} problems with two solutions each`);
await compare("shared scorer and cache (label before)", shared);
await compare("scoreRecord: fresh scorer and sessions (now)", isolated);
