// Memory of Implicit PRM's pair, measured in one process: resident set size (RSS) before any model,
// with the policy loaded (the reference not yet: it loads on first use), after the first score
// (both loaded), and after scoring more records. Each model is its own GGUF mapping and its own
// llama.cpp context; what grows with the models is their weights (file size, memory-mapped) plus,
// per context, the KV cache and llama.cpp's compute and output buffers.
// Usage: node --import tsx bench/implicitMemory.ts POLICY.gguf REFERENCE.gguf [--records N] [--data FILE]

import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createEngine } from "../server/engine/engineOptions.js";
import { writtenFromRecord } from "../server/engine/implicit/written.js";
import type { ImplicitPrmScorer } from "../server/engine/implicit/implicitPrm.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    records: { type: "string", default: "20" },
    data: { type: "string", default: path.resolve(import.meta.dirname, "../../shared/data/arith-processbench-dev.jsonl") },
    threads: { type: "string", default: "1" },
  },
});
const [policyPath, referencePath] = positionals;
if (!policyPath || !referencePath) throw new Error("usage: implicitMemory.ts POLICY.gguf REFERENCE.gguf [--records N]");

const MB = 2 ** 20;
const rss = (): number => process.memoryUsage().rss / MB;
const fileMb = (f: string): number => statSync(f).size / MB;
const rows: [string, number][] = [];
const note = (what: string): void => void rows.push([what, rss()]);

const records = readFileSync(values.data, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .slice(0, Number(values.records))
  .map((l) => JSON.parse(l) as { problem: string; steps: string[]; final_answer_line?: string });

await import("node-llama-cpp");
note("node + node-llama-cpp, no model");
const engine = await createEngine({ modelPath: policyPath, referenceModelPath: referencePath, method: "implicit", gpu: "off", threads: Number(values.threads) });
note("policy loaded (reference not yet)");
const implicit: ImplicitPrmScorer = engine.implicit!;
const t0 = performance.now();
await implicit.score(writtenFromRecord(records[0]!));
note("after the first score (reference loaded on use)");
let tokens = 0;
for (const r of records) tokens += (await implicit.score(writtenFromRecord(r))).tokens.text;
const seconds = (performance.now() - t0) / 1000;
note(`after scoring ${records.length} more records`);
const ctx = engine.backend.info.contextSize;
await engine.dispose();
note("after dispose");

console.log(`policy    ${policyPath} (${fileMb(policyPath).toFixed(1)} MB)`);
console.log(`reference ${referencePath} (${fileMb(referencePath).toFixed(1)} MB)`);
console.log(`context ${ctx} tokens per model, one sequence each; ${records.length} records, ${tokens} tokens per model, ${seconds.toFixed(1)} s`);
console.log("");
console.log("| stage | RSS MB | change MB |");
console.log("| --- | --- | --- |");
rows.forEach(([what, mb], i) => console.log(`| ${what} | ${mb.toFixed(1)} | ${i === 0 ? "" : (mb - rows[i - 1]![1]).toFixed(1)} |`));
const both = rows[3]![1] - rows[0]![1];
console.log("");
console.log(`both models in use: ${both.toFixed(1)} MB over the no-model baseline, ` + `for ${(fileMb(policyPath) + fileMb(referencePath)).toFixed(1)} MB of weights (files)`);
