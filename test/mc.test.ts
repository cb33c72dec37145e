// Monte Carlo step values and CPMI-Merge on the real demo model and real dev records.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { answerLineDone, rolloutAnswer } from "../server/engine/backend/answerStop.js";
import { CpmiScorer, DEFAULT_CPMI } from "../server/engine/cpmi/scorer.js";
import { resolveTemplates } from "../server/engine/cpmi/templates.js";
import { knownCalibration } from "../server/engine/cpmi/calibrations.js";
import { MonteCarloScorer, DEFAULT_MC } from "../server/engine/mc/monteCarlo.js";
import { cpmiMerge, randMerge, seededRandom } from "../server/engine/merge/merge.js";
import { DATA, DEMO_MODEL, loadDemo, readJsonlFile, stripPrefix } from "./helpers.js";

interface Row {
  id: string;
  problem: string;
  steps: string[];
  gold_answer: string;
  label: number;
}

const rows = readJsonlFile<Row>(path.join(DATA, "arith-processbench-dev.jsonl"));

describe("rollouts stop at the answer line", () => {
  test("answerLineDone waits for the newline after an answer line the parser knows", () => {
    assert.equal(answerLineDone("The pens cost 4 * 3 = 12 dollars.\nThe answer is 2"), false);
    assert.equal(answerLineDone("The pens cost 4 * 3 = 12 dollars.\nThe answer is 24.\n"), true);
    assert.equal(answerLineDone("#### 46\n"), true);
    assert.equal(answerLineDone("Step 2: 27 + 19 = 46 years.\n"), false);
    assert.equal(rolloutAnswer("27 + 19 = 46.\nFinal answer: 46\n"), "46");
    assert.equal(rolloutAnswer("27 + 19 = 46.\n"), undefined);
  });
});

describe("Monte Carlo estimation on the demo model", () => {
  let backend: LlamaCppBackend;
  let mc: MonteCarloScorer;
  before(async () => {
    backend = await loadDemo({ threads: 1, walkers: 3, branches: 8 });
    mc = new MonteCarloScorer(backend, DEFAULT_MC);
  });
  after(async () => {
    await backend.dispose();
  });

  test("right steps of right solutions score high, steps from the first error on score low", async () => {
    const correct = rows.filter((r) => r.label === -1).slice(0, 2);
    const wrong = rows.filter((r) => r.label >= 0).slice(0, 3);
    for (const r of [...correct, ...wrong]) {
      const out = await mc.score({ problem: r.problem, steps: r.steps.map(stripPrefix), gold: r.gold_answer });
      assert.equal(out.steps.length, r.steps.length);
      for (const s of out.steps) {
        assert.equal(s.answers.length, DEFAULT_MC.rollouts);
        assert.ok(s.value >= 0 && s.value <= 1);
        assert.equal(s.hard, s.value > 0 ? 1 : 0);
        const right = r.label < 0 || s.index < r.label;
        if (right) assert.ok(s.value >= 0.625, `${r.id} step ${s.index} is right but MC gives ${s.value} (${s.answers.join(",")})`);
        else assert.ok(s.value <= 0.25, `${r.id} step ${s.index} is wrong but MC gives ${s.value} (${s.answers.join(",")})`);
      }
      // Rollouts are sampled tokens; every sampled token is also evaluated.
      assert.ok(out.tokens.generated > 0 && out.tokens.evaluated > out.tokens.generated, JSON.stringify(out.tokens));
    }
  });

  test("limit scores only the first steps (what CPMI-Merge pays for), and costs less", async () => {
    const r = rows.find((x) => x.steps.length >= 3)!;
    const fresh = await loadDemo({ threads: 1, walkers: 3, branches: 8 });
    try {
      const one = await new MonteCarloScorer(fresh, DEFAULT_MC).score({ problem: r.problem, steps: r.steps.map(stripPrefix), gold: r.gold_answer, limit: 1 });
      const all = await mc.score({ problem: r.problem, steps: r.steps.map(stripPrefix), gold: r.gold_answer });
      assert.equal(one.steps.length, 1);
      assert.ok(one.tokens.generated < all.tokens.generated);
    } finally {
      await fresh.dispose();
    }
  });

  test("CPMI-Merge takes step 1 from MC and the rest from CPMI soft labels; Rand_Merge keeps step 1", async () => {
    const r = rows.find((x) => x.label >= 1 && x.steps.length >= 3)!;
    const steps = r.steps.map(stripPrefix);
    const calibration = knownCalibration(DEMO_MODEL)!;
    const cpmi = new CpmiScorer(backend, { ...DEFAULT_CPMI, templates: resolveTemplates("default"), calibration });
    const soft = (await cpmi.score({ problem: r.problem, steps, gold: { value: r.gold_answer, source: "record" } })).steps.map((s) => s.softLabel);
    const first = await mc.score({ problem: r.problem, steps, gold: r.gold_answer, limit: 1 });
    const merged = cpmiMerge({ mcValues: first.steps.map((s) => s.value), cpmiSoftLabels: soft });
    assert.equal(merged.length, steps.length);
    assert.equal(merged[0], first.steps[0]!.value);
    assert.deepEqual(merged.slice(1), soft.slice(1));
    // Both parts live on [0, 1]: MC as a share of rollouts, CPMI through the robust z-score sigmoid.
    for (const v of merged) assert.ok(v >= 0 && v <= 1);
    assert.ok(merged[0] >= 0.625, `step 1 of ${r.id} is right: MC ${merged[0]}`);
    const rand = randMerge(first.steps.map((s) => s.value), steps.length, seededRandom(1));
    assert.equal(rand[0], merged[0]);
    // After step 1 Rand_Merge's values are the seeded uniform stream, in order, not CPMI's.
    const stream = seededRandom(1);
    assert.deepEqual(rand.slice(1), soft.slice(1).map(() => stream()));
  });
});
