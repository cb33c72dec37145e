import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createEngine, type Engine } from "../server/engine/engineOptions.js";
import { parseDocument } from "../server/engine/parse/index.js";
import { scoreDocument } from "../server/engine/scoreDocument.js";
import { DATA, DEMO_MODEL } from "./helpers.js";

interface Item { problem: string; gold_answer: string; candidates: { text: string; is_correct: boolean }[] }

// bon-00002: the answers sampled right after the answer cue (the scorer's own fallback) vote for a
// wrong 130 or 110 here, so the file-level fallback must come from the model's written solutions.
const item = JSON.parse(readFileSync(path.join(DATA, "arith-bon-dev.jsonl"), "utf8").split("\n")[2]!) as Item;

function candidatesFile(it: Item): string {
  const parts = [`Question: ${it.problem}`, ""];
  it.candidates.forEach((c, i) => {
    const sol = parseDocument(c.text, { format: "plain" }).solutions[0]!;
    parts.push(`## Candidate ${i + 1}`, "", ...sol.steps.map((s, k) => `Step ${k + 1}: ${s.text}`), `The answer is ${sol.finalAnswer!.value}.`, "");
  });
  return parts.join("\n");
}

describe("scoreDocument without a gold answer", () => {
  let engine: Engine;
  before(async () => {
    engine = await createEngine({ modelPath: DEMO_MODEL, gpu: "off" });
  });
  after(async () => {
    await engine.dispose();
  });

  test("several candidates: the model's own solutions vote among their answers, and the best-scored candidate is a correct one", async () => {
    const doc = parseDocument(candidatesFile(item), { fileName: "bon.md" });
    assert.equal(doc.solutions.length, item.candidates.length);
    const scored = await scoreDocument(engine.scorer, doc);
    assert.equal(scored.gold?.source, "fallback");
    assert.equal(scored.gold?.value, item.gold_answer);
    assert.ok(scored.warnings.some((w) => w.startsWith(`no gold answer given: using the model's majority answer ${item.gold_answer}`)));
    const best = scored.solutions.reduce((a, b) => (b.result.score > a.result.score ? b : a));
    assert.ok(item.candidates[best.solution.index]!.is_correct, `picked candidate ${best.solution.index + 1}`);
  });

  test("the scorer alone, given no gold answer, takes the same answer as scoreDocument: one path, not answers sampled after the cue", async () => {
    const wrong = item.candidates.find((c) => !c.is_correct)!;
    const doc = parseDocument(wrong.text, { format: "plain" });
    const steps = doc.solutions[0]!.steps.map((s) => s.text);
    const alone = await engine.scorer.score({ problem: doc.problem, steps });
    assert.equal(alone.gold.source, "fallback");
    assert.equal(alone.gold.value, item.gold_answer, "the model's written solutions' answer, not the cue samples' 130 or 110");
    assert.equal(alone.gold.value, (await scoreDocument(engine.scorer, doc)).gold?.value);
    assert.ok(alone.warnings.some((w) => w.includes("of the solutions it wrote to the question")), alone.warnings.join("\n"));
  });

  test("one wrong solution is not judged against its own answer", async () => {
    const wrong = item.candidates.find((c) => !c.is_correct)!;
    const doc = parseDocument(wrong.text, { format: "plain" });
    const scored = await scoreDocument(engine.scorer, doc);
    assert.equal(scored.gold?.value, item.gold_answer);
    assert.notEqual(scored.gold?.value, doc.solutions[0]!.finalAnswer?.value);
    assert.ok(scored.solutions[0]!.steps.some((s) => s.verdict === "weak" || s.verdict === "wrong"));
  });
});
