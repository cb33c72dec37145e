// The first N records of the reference set without the scores to reproduce (cpmi, gold_lp): the input
// of bench/reproduce.sh's reference_parity and of bench/oversubscribed.sh, as test/cli.test.ts builds it.
// Usage: node bench/referenceSlice.mjs OUT.jsonl [N=20]
import { readFileSync, writeFileSync } from "node:fs";

const [out, n = "20"] = process.argv.slice(2);
if (!out) throw new Error("usage: node bench/referenceSlice.mjs OUT.jsonl [N]");
const lines = readFileSync(new URL("../../shared/data/arith-processbench-dev.reference.jsonl", import.meta.url), "utf8").trim().split("\n").slice(0, Number(n));
writeFileSync(out, lines.map((l) => {
  const { cpmi: _cpmi, gold_lp: _goldLp, ...rest } = JSON.parse(l);
  return JSON.stringify(rest);
}).join("\n") + "\n");
