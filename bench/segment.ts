// Entropy-driven segmentation (EDU-PRM) measured on the dev set: each solution's steps are joined
// into one paragraph, the model cuts it at high-entropy tokens, and we count how many cuts fall on
// the original step boundaries (precision) and how many boundaries are found (recall), for a sweep
// of thresholds; then CPMI scores the EDU steps and we report the step ROC-AUC.
// An EDU step's label is the label of the original step its last character lies in: it is right
// when everything it contains is right, i.e. when it ends before the first wrong step.
// Usage: node --import tsx bench/segment.ts [--records N] [--threshold T] [--threads N] [--json]
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { defaultModelPath } from "../server/engine/backend/modelPath.js";
import { CpmiScorer } from "../server/engine/cpmi/scorer.js";
import { cpmiConfigFrom } from "../server/engine/engineOptions.js";
import { rocAuc } from "../server/engine/eval/rocAuc.js";
import { stripStepPrefix } from "../server/engine/parse/index.js";
import { cutsFrom, DEFAULT_SEGMENT, entropyCuts, type SegmentSignal } from "../server/engine/segment/entropySegment.js";
import type { TokenEntropies } from "../server/engine/backend/types.js";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "200" },
    data: { type: "string", default: path.resolve(import.meta.dirname, "../../shared/data/arith-processbench-dev.jsonl") },
    threshold: { type: "string", default: String(DEFAULT_SEGMENT.threshold) },
    sweep: { type: "string", default: "entropy:0.5,entropy:0.75,entropy:1,entropy:1.5,entropy:2,line-break:0.1,line-break:0.3,line-break:0.5,line-break:0.8" },
    signal: { type: "string", default: DEFAULT_SEGMENT.by },
    threads: { type: "string", default: "1" },
    "no-cpmi": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
interface Row { id: string; problem: string; steps: string[]; gold_answer: string; label: number }
const rows = readFileSync(values.data, "utf8").split("\n").filter((l) => l.trim()).slice(0, Number(values.records)).map((l) => JSON.parse(l) as Row);
const modelPath = defaultModelPath();
const config = cpmiConfigFrom({}, modelPath);
const backend = await LlamaCppBackend.load({ modelPath, gpu: "off", threads: Number(values.threads), walkers: config.templates.length });

interface Joined { row: Row; paragraph: string; starts: number[]; tokens: TokenEntropies }
const joined: Joined[] = [];
const session = await backend.openSession();
for (const row of rows) {
  const texts = row.steps.map((s) => stripStepPrefix(s).text);
  const starts: number[] = [];
  let paragraph = "";
  for (const t of texts) {
    if (paragraph) paragraph += " ";
    starts.push(paragraph.length);
    paragraph += t;
  }
  const { tokens } = await entropyCuts(session, row.problem, paragraph);
  joined.push({ row, paragraph, starts, tokens });
}
session.release();

function measure(threshold: number, signal: SegmentSignal): { precision: number; recall: number; cuts: number; boundaries: number; stepsPerSolution: number } {
  let hit = 0, cuts = 0, boundaries = 0, found = 0, steps = 0;
  for (const j of joined) {
    const c = cutsFrom(j.paragraph, j.tokens, threshold, DEFAULT_SEGMENT.minChars, signal);
    const b = j.starts.slice(1);
    cuts += c.length;
    boundaries += b.length;
    hit += c.filter((x) => b.includes(x)).length;
    found += b.filter((x) => c.includes(x)).length;
    steps += c.length + 1;
  }
  return { precision: cuts ? hit / cuts : NaN, recall: boundaries ? found / boundaries : NaN, cuts, boundaries, stepsPerSolution: steps / joined.length };
}
const sweep = Object.fromEntries(
  values.sweep.split(",").map((spec) => {
    const [sig, t] = spec.split(":");
    return [spec, measure(Number(t), sig as SegmentSignal)];
  }),
);
const signal = values.signal as SegmentSignal;
const threshold = Number(values.threshold);
const chosen = measure(threshold, signal);

let auc = NaN;
let eduSteps = 0;
if (!values["no-cpmi"]) {
  const scorer = new CpmiScorer(backend, config);
  const scores: number[] = [];
  const labels: (0 | 1)[] = [];
  for (const j of joined) {
    const c = cutsFrom(j.paragraph, j.tokens, threshold, DEFAULT_SEGMENT.minChars, signal);
    const bounds = [0, ...c, j.paragraph.length];
    const steps: string[] = [];
    const lab: (0 | 1)[] = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const text = j.paragraph.slice(bounds[k], bounds[k + 1]).trim();
      if (!text) continue;
      steps.push(text);
      const lastChar = bounds[k + 1]! - 1;
      let orig = 0;
      while (orig + 1 < j.starts.length && j.starts[orig + 1]! <= lastChar) orig++;
      lab.push(j.row.label < 0 || orig < j.row.label ? 1 : 0);
    }
    const out = await scorer.score({ problem: j.row.problem, steps, gold: { value: j.row.gold_answer, source: "record" } });
    out.steps.forEach((s, i) => {
      scores.push(s.reward);
      labels.push(lab[i]!);
    });
    eduSteps += steps.length;
  }
  auc = rocAuc(scores, labels);
}
const result = { records: joined.length, signal, threshold, minChars: DEFAULT_SEGMENT.minChars, ...chosen, eduSteps, cpmiAucOverEduSteps: auc, sweep };
console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
await backend.dispose();
