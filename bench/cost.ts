// Cost of CPMI labeling with prefix reuse against the naive mode (every prefix + cue + answer
// evaluated from scratch), measured in one run on the same records with the same settings.
// Usage: node --import tsx bench/cost.ts [--records N] [--data FILE] [--templates SET] [--json]
// Prints CPU seconds, wall seconds and tokens for both modes, and their ratios.

import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createEngine, type EngineOptions } from "../server/engine/engineOptions.js";
import { stripStepPrefix } from "../server/engine/parse/index.js";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "40" },
    data: { type: "string", default: path.resolve(import.meta.dirname, "../../shared/data/arith-processbench-dev.jsonl") },
    templates: { type: "string", default: "default" },
    json: { type: "boolean", default: false },
  },
});

interface Row {
  id: string;
  problem: string;
  steps: string[];
  gold_answer: string;
}

const records = readFileSync(values.data, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .slice(0, Number(values.records))
  .map((l) => JSON.parse(l) as Row);

async function measure(naive: boolean): Promise<{ cpu: number; wall: number; evaluated: number; generated: number; naiveTokens: number }> {
  const options: EngineOptions = { templates: values.templates, naive, gpu: "off" };
  const engine = await createEngine(options);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let evaluated = 0;
  let generated = 0;
  let naiveTokens = 0;
  for (const r of records) {
    const out = await engine.scorer.score({
      problem: r.problem,
      steps: r.steps.map((s) => stripStepPrefix(s).text),
      gold: { value: r.gold_answer, source: "record" },
    });
    evaluated += out.tokens.evaluated;
    generated += out.tokens.generated;
    naiveTokens += out.tokens.naive;
  }
  const cpu = process.cpuUsage(cpu0);
  const result = { cpu: (cpu.user + cpu.system) / 1e6, wall: (performance.now() - t0) / 1000, evaluated, generated, naiveTokens };
  await engine.dispose();
  return result;
}

const reuse = await measure(false);
const naive = await measure(true);
const report = {
  records: records.length,
  templates: values.templates,
  reuse,
  naive,
  ratios: { cpu: reuse.cpu / naive.cpu, wall: reuse.wall / naive.wall, tokens_evaluated: reuse.evaluated / naive.evaluated },
};
if (values.json) console.log(JSON.stringify(report, null, 2));
else {
  const f = (x: number): string => x.toFixed(1);
  console.log(`CPMI labeling cost on ${records.length} records (templates: ${values.templates})`);
  console.log(`mode    cpu s   wall s   tokens evaluated   tokens generated`);
  console.log(`reuse  ${f(reuse.cpu).padStart(6)}  ${f(reuse.wall).padStart(7)}  ${String(reuse.evaluated).padStart(17)}  ${String(reuse.generated).padStart(17)}`);
  console.log(`naive  ${f(naive.cpu).padStart(6)}  ${f(naive.wall).padStart(7)}  ${String(naive.evaluated).padStart(17)}  ${String(naive.generated).padStart(17)}`);
  console.log(`ratio reuse/naive: cpu ${report.ratios.cpu.toFixed(3)}, wall ${report.ratios.wall.toFixed(3)}, tokens evaluated ${report.ratios.tokens_evaluated.toFixed(3)}`);
}
