import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { CpmiScorer, DEFAULT_CPMI } from "../server/engine/cpmi/scorer.js";
import { resolveTemplates, UnknownTemplateError } from "../server/engine/cpmi/templates.js";
import { perturbations, poolSampledNegatives, referenceFill } from "../server/engine/cpmi/negatives.js";
import { calibrate, softLabel } from "../server/engine/cpmi/softLabels.js";
import { aggregate, predictFirstError } from "../server/engine/cpmi/aggregate.js";
import { DATA, loadDemo, readJsonlFile, stripPrefix } from "./helpers.js";

interface ReferenceRecord {
  id: string;
  problem: string;
  steps: string[];
  gold_answer: string;
  label: number;
  negatives: string[];
  cpmi: number[];
  gold_lp: number[][];
}

const reference = readJsonlFile<ReferenceRecord>(path.join(DATA, "arith-processbench-dev.reference.jsonl"));

describe("CPMI on the demo model", () => {
  let backend: LlamaCppBackend;
  before(async () => {
    backend = await loadDemo({ walkers: 5 });
  });
  after(async () => {
    await backend.dispose();
  });

  test("reproduces the reference implementation on a 20-record slice (reference templates, its negatives)", async () => {
    const scorer = new CpmiScorer(backend, { ...DEFAULT_CPMI, templates: resolveTemplates("reference"), fill: "reference" });
    const diffs: number[] = [];
    const lpDiffs: number[] = [];
    for (const r of reference.slice(0, 20)) {
      const out = await scorer.score({
        problem: r.problem,
        steps: r.steps.map(stripPrefix),
        gold: { value: r.gold_answer, source: "record" },
        negatives: r.negatives,
      });
      assert.deepEqual(out.negatives.map((n) => n.value), r.negatives);
      out.steps.forEach((s, i) => diffs.push(Math.abs(s.reward - r.cpmi[i]!)));
      out.goldLogprobs.forEach((row, t) => row.forEach((lp, i) => lpDiffs.push(Math.abs(lp - r.gold_lp[t]![i]!))));
    }
    const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    assert.ok(mean <= 0.01, `mean |Δcpmi| ${mean}`);
    assert.ok(Math.max(...diffs) <= 0.05, `max |Δcpmi| ${Math.max(...diffs)}`);
    assert.ok(Math.max(...lpDiffs) <= 0.01, `max |Δgold_lp| ${Math.max(...lpDiffs)}`);
  });

  test("a wrong step gets a lower reward than the right steps, and the terms add up", async () => {
    const scorer = new CpmiScorer(backend, { ...DEFAULT_CPMI, templates: resolveTemplates("default") });
    const r = reference.find((x) => x.label === 1 && x.steps.length >= 3)!;
    const out = await scorer.score({ problem: r.problem, steps: r.steps.map(stripPrefix), gold: { value: r.gold_answer, source: "record" } });
    assert.equal(out.steps.length, r.steps.length);
    assert.equal(out.negatives.length, 4);
    assert.ok(out.negatives.every((n) => n.value !== r.gold_answer));
    assert.ok(out.steps[1]!.reward < out.steps[0]!.reward, `wrong step ${out.steps[1]!.reward} vs right step ${out.steps[0]!.reward}`);
    for (const s of out.steps) {
      assert.equal(s.terms.length, out.templates.length);
      for (const t of s.terms) {
        assert.equal(t.negativeGains.length, out.negatives.length);
        assert.ok(Math.abs(t.reward - (t.goldGain - t.negativeMean)) < 1e-12);
      }
      const mean = s.terms.reduce((a, t) => a + t.reward, 0) / s.terms.length;
      assert.ok(Math.abs(s.reward - mean) < 1e-12);
    }
    assert.deepEqual(
      [...out.steps].sort((a, b) => a.rank - b.rank).map((s) => s.reward),
      [...out.steps].map((s) => s.reward).sort((a, b) => b - a),
    );
    assert.ok(out.tokens.evaluated < out.tokens.naive / 4, `evaluated ${out.tokens.evaluated} vs naive ${out.tokens.naive}`);
  });

  test("re-scoring after an edit of the last step evaluates only what changed", async () => {
    const scorer = new CpmiScorer(backend, { ...DEFAULT_CPMI, templates: resolveTemplates("reference"), fill: "reference" });
    const r = reference.find((x) => x.steps.length >= 4)!;
    const steps = r.steps.map(stripPrefix);
    const gold = { value: r.gold_answer, source: "record" as const };
    const first = await scorer.score({ problem: r.problem, steps, gold, negatives: r.negatives });
    const again = await scorer.score({ problem: r.problem, steps, gold, negatives: r.negatives });
    assert.equal(again.tokens.evaluated, 0, "an unchanged solution is served from the cache");
    const edited = [...steps.slice(0, -1), steps[steps.length - 1]!.replace(/\d+(?=\D*$)/, "999")];
    const after = await scorer.score({ problem: r.problem, steps: edited, gold, negatives: r.negatives });
    assert.ok(after.tokens.evaluated > 0 && after.tokens.evaluated < first.tokens.evaluated / 4, `${after.tokens.evaluated} vs ${first.tokens.evaluated}`);
    for (let i = 0; i < steps.length - 1; i++) assert.equal(after.steps[i]!.reward, first.steps[i]!.reward);
    assert.notEqual(after.steps[steps.length - 1]!.reward, first.steps[steps.length - 1]!.reward);
  });

  test("without a gold answer, the model's majority answer is used and marked as a fallback", async () => {
    const scorer = new CpmiScorer(backend, { ...DEFAULT_CPMI, templates: resolveTemplates("reference") });
    const r = reference.find((x) => x.label === -1)!;
    const out = await scorer.score({ problem: r.problem, steps: r.steps.map(stripPrefix) });
    assert.equal(out.gold.source, "fallback");
    assert.match(out.warnings.join("\n"), /no gold answer given/);
    assert.ok(out.gold.agreement! > 0 && out.gold.agreement! <= 1);
  });

  test("a solution longer than the context is scored up to the limit and the rest is reported", async () => {
    const scorer = new CpmiScorer(backend, { ...DEFAULT_CPMI, templates: resolveTemplates("reference"), fill: "reference" });
    const r = reference[0]!;
    const steps = Array.from({ length: 60 }, (_, i) => `The count is ${i} + 1 = ${i + 1} apples.`);
    const out = await scorer.score({ problem: r.problem, steps, gold: { value: "60", source: "flag" }, negatives: ["59", "61"] });
    const scored = out.steps.filter((s) => !s.truncated);
    assert.ok(scored.length > 0 && scored.length < 60, `${scored.length} steps scored`);
    assert.ok(out.steps.slice(scored.length).every((s) => s.truncated && Number.isNaN(s.reward)));
    assert.match(out.warnings.join("\n"), /longer than the model's context \(512 tokens\): steps \d+-60 were not scored/);
  });
});

describe("CPMI pieces", () => {
  test("unknown template names are refused with the known ones listed", () => {
    assert.throws(() => resolveTemplates("reference,nonsense"), (err: unknown) => {
      assert.ok(err instanceof UnknownTemplateError);
      assert.match(err.message, /"nonsense"/);
      assert.match(err.message, /question-answer-is/);
      return true;
    });
    assert.equal(resolveTemplates("reference").length, 2);
  });

  test("sampled negatives are pooled most frequent first, the gold answer excluded", () => {
    const pooled = poolSampledNegatives([" 46.", " 44.", " 46.", " 31.", " 44.", " 44.", "x", " 46.0"], "46");
    assert.deepEqual(pooled.map((n) => [n.value, n.count]), [["44", 3], ["31", 1]]);
  });

  test("perturbations start with operator swaps of the step that produced the answer", () => {
    const p = perturbations("46", ["The mother is 9 × 3 = 27 years old.", "The grandfather is 27 + 19 = 46 years old."]);
    assert.deepEqual(p.slice(0, 3).map((n) => n.value), ["8", "513", String(27 / 19).slice(0, 8)].map((v, i) => (i === 2 ? p[2]!.value : v)));
    assert.equal(p[0]!.edit, "operator swap +→-");
    assert.ok(p.some((n) => n.value === "45") && p.some((n) => n.value === "460") && p.some((n) => n.value === "-46"));
    assert.deepEqual(referenceFill("3").map((n) => n.value), ["4", "2", "13", "6", "5", "1"]);
  });

  test("soft labels are a robust z-score through a sigmoid", () => {
    const c = calibrate([0, 1, 2, 3, 100], "test");
    assert.equal(c.median, 2);
    assert.equal(c.mad, 1);
    assert.equal(softLabel(2, c), 0.5);
    assert.ok(Math.abs(softLabel(3, c) - 1 / (1 + Math.exp(-1))) < 1e-12);
    assert.ok(softLabel(-50, c) < 1e-10);
  });

  test("aggregations and the predicted first error", () => {
    assert.equal(aggregate([0.9, 0.2, 0.8], "min"), 0.2);
    assert.ok(Math.abs(aggregate([0.9, 0.2, 0.8], "mean") - 19 / 30) < 1e-12);
    assert.equal(aggregate([0.9, 0.2, 0.8], "last"), 0.8);
    assert.ok(Math.abs(aggregate([0.5, 0.5], "product") - 0.25) < 1e-12);
    assert.equal(predictFirstError([0.9, 0.4, 0.1], 0.5), 1);
    assert.equal(predictFirstError([0.9, 0.8], 0.5), -1);
  });
});
