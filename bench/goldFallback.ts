// The gold answer StepLens uses when none is given, measured against the records' real gold answers:
// the model's own written solutions (rollouts, the one path since cpmi/modelAnswer.ts) and the
// answers sampled right after the answer cue (the scorer's own fallback before). Prints one JSON line.
// Usage: node --import tsx bench/goldFallback.ts [--records 60] [--data ../shared/data/arith-processbench-dev.jsonl] [--threads 1]

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createEngine } from "../server/engine/engineOptions.js";
import type { ModelAnswerMethod } from "../server/engine/cpmi/modelAnswer.js";
import { DATA, DEMO_MODEL } from "../test/helpers.js";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "60" },
    data: { type: "string", default: `${DATA}/arith-processbench-dev.jsonl` },
    threads: { type: "string", default: "1" },
  },
});
const records = readFileSync(values.data, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .slice(0, Number(values.records))
  .map((l) => JSON.parse(l) as { problem: string; gold_answer: string | number });
const engine = await createEngine({ modelPath: DEMO_MODEL, gpu: "off", threads: Number(values.threads) });
const result: Record<string, { named_none: number; wrong: number }> = {};
const started = performance.now();
for (const method of ["rollouts", "cue-samples"] as ModelAnswerMethod[]) {
  const tally = { named_none: 0, wrong: 0 };
  for (const r of records) {
    const gold = await engine.scorer.goldFor(r.problem, [], { method }).catch(() => undefined);
    if (!gold) tally.named_none++;
    else if (Number(gold.value) !== Number(r.gold_answer)) tally.wrong++;
  }
  result[method] = tally;
}
console.log(JSON.stringify({ data: values.data, records: records.length, ...result, seconds: Math.round((performance.now() - started) / 1000) }));
await engine.dispose();
