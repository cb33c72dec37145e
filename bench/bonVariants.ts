// Best-of-N variants side by side on ../shared/data/arith-bon-dev.jsonl, with the gold answers
// removed from what the methods see (they are used only to grade the picks), plus random pick,
// majority vote and the best possible pick. Usage:
//   node --import tsx bench/bonVariants.ts [--records N] [--variants a,b] [--threads N] [--json]
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { CpmiScorer } from "../server/engine/cpmi/scorer.js";
import { cpmiConfigFrom } from "../server/engine/engineOptions.js";
import { BestOfN, BON_VARIANTS, bonBaselines, bonVariant, needsPair, type BonInputRecord } from "../server/engine/bon/bestOfN.js";
import { defaultModelPath } from "../server/engine/backend/modelPath.js";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "200" },
    data: { type: "string", default: path.resolve(import.meta.dirname, "../../shared/data/arith-bon-dev.jsonl") },
    variants: { type: "string" },
    threads: { type: "string", default: "1" },
    samples: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

interface Item extends BonInputRecord {
  gold_answer: string;
  candidates: { text: string; answer: string; is_correct: boolean }[];
}
const items = readFileSync(values.data, "utf8").split("\n").filter((l) => l.trim()).slice(0, Number(values.records)).map((l) => JSON.parse(l) as Item);
// Implicit PRM's variants need the model pair: bench/implicit.sh measures them (results-implicit/).
const variants = values.variants ? values.variants.split(",").map(bonVariant) : BON_VARIANTS.filter((v) => !needsPair(v));
const modelPath = defaultModelPath();
const config = cpmiConfigFrom({ samples: values.samples ? Number(values.samples) : undefined }, modelPath);
const backend = await LlamaCppBackend.load({ modelPath, gpu: "off", threads: Number(values.threads), branches: Math.max(config.samplesPerPrefix, config.goldRollouts, config.negatives + 1), walkers: config.templates.length });
const bon = new BestOfN(new CpmiScorer(backend, config));
const acc: Record<string, number> = {};
const secs: Record<string, number> = {};
let random = 0, majority = 0, best = 0;
for (const it of items) {
  const b = bonBaselines(it.candidates.map((c) => ({ answer: c.answer, correct: c.is_correct })));
  random += b.random; majority += b.majority; best += b.best;
}
for (const v of variants) {
  const t0 = performance.now();
  let right = 0;
  for (const it of items) {
    // The methods never see the gold answer unless the variant is a "gold" one.
    const input: BonInputRecord = { id: it.id, problem: it.problem, candidates: it.candidates.map((c) => ({ text: c.text })) };
    if (v.target === "gold") input.gold_answer = it.gold_answer;
    const out = await bon.pick(input, v);
    if (it.candidates[out.pick]!.is_correct) right++;
  }
  acc[v.name] = right / items.length;
  secs[v.name] = (performance.now() - t0) / 1000;
  if (!values.json) console.log(`${v.name.padEnd(26)} ${acc[v.name]!.toFixed(3)}  (${secs[v.name]!.toFixed(1)} s)`);
}
const n = items.length;
if (values.json) console.log(JSON.stringify({ records: n, random: random / n, majority: majority / n, best: best / n, accuracy: acc, seconds: secs }, null, 2));
else console.log(`random ${(random / n).toFixed(3)}  majority ${(majority / n).toFixed(3)}  best ${(best / n).toFixed(3)}  (${n} items)`);
await backend.dispose();
