import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  bestProcessBenchF1,
  evaluateLabeled,
  firstErrorAt,
  formatEvalReport,
  processBenchF1,
  rocAuc,
  stepLabels,
  wasserstein1,
  type LabeledRecord,
} from "../server/engine/eval/metrics.js";
import { seededRandom } from "../server/engine/merge/merge.js";

/** Deterministic PRNG (the engine's mulberry32), so a failing random case can be replayed. */
const rng = seededRandom;

function bruteAuc(scores: number[], labels: (0 | 1)[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

describe("rocAuc", () => {
  test("perfect separation is 1, inverted is 0, all tied is 0.5", () => {
    assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]), 0);
    assert.equal(rocAuc([3, 3, 3, 3, 3], [1, 0, 1, 0, 0]), 0.5);
  });

  test("ties count half (hand-computed)", () => {
    // Positives {2, 3} vs negatives {1, 2}: 2>1, 2=2 (½), 3>1, 3>2 → 3.5 of 4 pairs.
    assert.equal(rocAuc([1, 2, 2, 3], [0, 1, 0, 1]), 0.875);
    // Positives {1, 1} vs negatives {1, 0}: ½ + 1 + ½ + 1 → 3 of 4.
    assert.equal(rocAuc([1, 1, 1, 0], [1, 1, 0, 0]), 0.75);
  });

  test("an empty class gives NaN; NaN scores are left out; ±Infinity are ordinary", () => {
    assert.ok(Number.isNaN(rocAuc([0.1, 0.5], [1, 1])));
    assert.ok(Number.isNaN(rocAuc([0.1, 0.5], [0, 0])));
    assert.ok(Number.isNaN(rocAuc([], [])));
    assert.ok(Number.isNaN(rocAuc([NaN, 0.5], [0, 1])), "the only negative is unscored");
    assert.equal(rocAuc([NaN, 0.2, 0.9, NaN], [1, 0, 1, 0]), 1);
    assert.equal(rocAuc([-Infinity, Infinity, 0, -Infinity], [0, 1, 1, 0]), 1);
    assert.equal(rocAuc([Infinity, Infinity], [0, 1]), 0.5);
  });

  test("mismatched lengths throw", () => {
    assert.throws(() => rocAuc([1, 2], [1]), RangeError);
  });

  test("matches a brute-force pair count on random data with many ties", () => {
    const rand = rng(7);
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + Math.floor(rand() * 60);
      const levels = 1 + Math.floor(rand() * 8); // few levels: many ties
      const scores = Array.from({ length: n }, () => Math.floor(rand() * levels) / levels);
      const labels = Array.from({ length: n }, () => (rand() < 0.6 ? 1 : 0));
      const expected = labels.includes(0) && labels.includes(1) ? bruteAuc(scores, labels) : NaN;
      const got = rocAuc(scores, labels);
      if (Number.isNaN(expected)) assert.ok(Number.isNaN(got));
      else assert.ok(Math.abs(got - expected) < 1e-12, `trial ${trial}: ${got} vs ${expected}`);
    }
  });
});

describe("stepLabels and firstErrorAt", () => {
  test("ProcessBench convention", () => {
    assert.deepEqual(stepLabels(2, 4), [1, 1, 0, 0]);
    assert.deepEqual(stepLabels(0, 2), [0, 0]);
    assert.deepEqual(stepLabels(-1, 3), [1, 1, 1]);
    assert.deepEqual(stepLabels(-1, 0), []);
  });

  test("the first score strictly below the threshold; unscored steps are never flagged", () => {
    assert.equal(firstErrorAt([0.9, 0.4, 0.2], 0.5), 1);
    assert.equal(firstErrorAt([0.9, 0.5, 0.2], 0.5), 2, "equal to the threshold is not below it");
    assert.equal(firstErrorAt([0.9, 0.8], 0.5), -1);
    assert.equal(firstErrorAt([NaN, 0.1], 0.5), 1);
    assert.equal(firstErrorAt([], 0.5), -1);
    assert.equal(firstErrorAt([-Infinity], -Infinity), -1);
  });
});

describe("ProcessBench F1", () => {
  const records: LabeledRecord[] = [
    { scores: [0.9, 0.2, 0.8], label: 1 }, // at 0.5: flags step 1, right
    { scores: [0.9, 0.8, 0.1], label: 1 }, // at 0.5: flags step 2, wrong
    { scores: [0.9, 0.9], label: -1 }, // at 0.5: nothing flagged, right
    { scores: [0.3, 0.9], label: -1 }, // at 0.5: flags step 0, wrong
  ];

  test("at a fixed threshold (hand-computed)", () => {
    assert.deepEqual(processBenchF1(records, 0.5), { f1: 0.5, accErroneous: 0.5, accCorrect: 0.5, nErroneous: 2, nCorrect: 2 });
    // Flag nothing: every correct record right, every erroneous one missed → F1 0, not NaN.
    assert.deepEqual(processBenchF1(records, -Infinity), { f1: 0, accErroneous: 0, accCorrect: 1, nErroneous: 2, nCorrect: 2 });
  });

  test("an empty class makes F1 NaN", () => {
    const r = processBenchF1(records.slice(0, 2), 0.5);
    assert.ok(Number.isNaN(r.f1) && Number.isNaN(r.accCorrect));
    assert.equal(r.accErroneous, 0.5);
    assert.ok(Number.isNaN(processBenchF1([], 0.5).f1));
  });

  test("the best threshold (hand-computed; ties go to the lower one)", () => {
    // (0.2, 0.3] and (0.8, 0.9] both give F1 2/3; the first is reported by its midpoint.
    const best = bestProcessBenchF1(records);
    assert.equal(best.threshold, 0.25);
    assert.ok(Math.abs(best.f1 - 2 / 3) < 1e-12);
    assert.equal(best.accErroneous, 0.5);
    assert.equal(best.accCorrect, 1);
  });

  test("perfectly separable records reach F1 1", () => {
    const best = bestProcessBenchF1([
      { scores: [0.9, 0.1, 0.05], label: 1 },
      { scores: [0.2], label: 0 },
      { scores: [0.7, 0.8], label: -1 },
    ]);
    assert.equal(best.f1, 1);
    assert.ok(best.threshold > 0.2 && best.threshold <= 0.7, String(best.threshold));
  });

  test("one class only: F1 is NaN and the threshold suits the class present", () => {
    const onlyCorrect = bestProcessBenchF1([{ scores: [0.1, 0.9], label: -1 }]);
    assert.ok(Number.isNaN(onlyCorrect.f1));
    assert.equal(onlyCorrect.accCorrect, 1);
    assert.equal(onlyCorrect.threshold, -Infinity);
    const onlyWrong = bestProcessBenchF1([{ scores: [0.9, 0.1], label: 1 }]);
    assert.equal(onlyWrong.accErroneous, 1);
    assert.ok(Number.isNaN(bestProcessBenchF1([]).f1));
  });

  test("flagging every step can be best, reported as +Infinity", () => {
    const best = bestProcessBenchF1([
      { scores: [5, 6], label: 0 },
      { scores: [7], label: 0 },
    ]);
    assert.equal(best.threshold, Infinity);
    assert.equal(best.accErroneous, 1);
  });

  test("matches a brute-force search on random data, and its threshold reproduces its report", () => {
    const rand = rng(11);
    for (let trial = 0; trial < 150; trial++) {
      const recs: LabeledRecord[] = Array.from({ length: 1 + Math.floor(rand() * 25) }, () => {
        const n = 1 + Math.floor(rand() * 6);
        const scores = Array.from({ length: n }, () => (rand() < 0.05 ? NaN : Math.round(rand() * 10) / 10));
        return { scores, label: rand() < 0.4 ? -1 : Math.floor(rand() * n) };
      });
      const values = [...new Set(recs.flatMap((r) => r.scores).filter((x) => !Number.isNaN(x)))].sort((a, b) => a - b);
      const candidates = [-Infinity, Infinity, ...values, ...values.map((v) => v + 1e-9)];
      const both = recs.some((r) => r.label < 0) && recs.some((r) => r.label >= 0);
      const best = bestProcessBenchF1(recs);
      assert.deepEqual(best, { ...processBenchF1(recs, best.threshold), threshold: best.threshold }, `trial ${trial}`);
      if (!both) continue;
      const bruteBest = Math.max(...candidates.map((t) => processBenchF1(recs, t).f1));
      assert.ok(Math.abs(best.f1 - bruteBest) < 1e-12, `trial ${trial}: ${best.f1} vs ${bruteBest}`);
    }
  });

  test("infinite scores are handled", () => {
    const best = bestProcessBenchF1([
      { scores: [Infinity, -Infinity], label: 1 },
      { scores: [Infinity, Infinity], label: -1 },
    ]);
    assert.equal(best.f1, 1);
    assert.equal(firstErrorAt([Infinity, -Infinity], best.threshold), 1);
  });
  // Its speed on 20,000 records is measured in bench/timings.ts (a wall-clock bound here fails under load).
});

describe("wasserstein1", () => {
  test("hand-computed cases", () => {
    assert.equal(wasserstein1([1, 2, 3], [3, 2, 1]), 0);
    assert.equal(wasserstein1([0], [1]), 1);
    assert.equal(wasserstein1([0, 1], [0.5]), 0.5);
    assert.ok(Math.abs(wasserstein1([0, 0, 1], [0, 1, 1]) - 1 / 3) < 1e-12);
    assert.ok(Math.abs(wasserstein1([0.1, 0.4, 0.7], [0.3, 0.6, 0.9]) - 0.2) < 1e-12, "a shift by c costs c");
    assert.equal(wasserstein1([2, 2, 2, 2], [2]), 0);
  });

  test("NaN for an empty sample; non-finite values are left out", () => {
    assert.ok(Number.isNaN(wasserstein1([], [1])));
    assert.ok(Number.isNaN(wasserstein1([NaN], [1])));
    assert.equal(wasserstein1([0, NaN, Infinity], [1]), 1);
  });

  test("equals the mean gap of sorted samples when sizes match (random data)", () => {
    const rand = rng(5);
    for (let trial = 0; trial < 100; trial++) {
      const n = 1 + Math.floor(rand() * 40);
      const a = Array.from({ length: n }, () => Math.round(rand() * 20) / 20);
      const b = Array.from({ length: n }, () => rand() * 2 - 0.5);
      const sa = [...a].sort((x, y) => x - y);
      const sb = [...b].sort((x, y) => x - y);
      const expected = sa.reduce((acc, x, i) => acc + Math.abs(x - sb[i]!), 0) / n;
      assert.ok(Math.abs(wasserstein1(a, b) - expected) < 1e-9, `trial ${trial}`);
      assert.ok(Math.abs(wasserstein1(a, b) - wasserstein1(b, a)) < 1e-12, "symmetric");
    }
  });
});

describe("evaluateLabeled and formatEvalReport", () => {
  const records: LabeledRecord[] = [
    { scores: [2, -1, 1], label: 1 },
    { scores: [3, NaN], label: -1 },
    { scores: [-2], label: 0 },
  ];
  const soft = [
    [0.9, 0.2, 0.7],
    [0.95, 0.5],
    [0.1],
  ];

  test("uses the probability scores for Wasserstein and the fixed-threshold F1", () => {
    const r = evaluateLabeled(records, { threshold: 0.5, probabilityScores: soft });
    assert.equal(r.records, 3);
    assert.equal(r.steps, 6);
    assert.equal(r.unscoredSteps, 1);
    // Right steps {2, 3} (NaN left out) vs wrong {-1, 1, -2}: every right step scores higher.
    assert.equal(r.auc, 1);
    assert.equal(r.wassersteinOn, "soft labels");
    // Right {0.9, 0.95, 0.5} vs wrong {0.2, 0.7, 0.1}: sorted gaps 0.4, 0.7, 0.25 → mean 0.45.
    assert.ok(Math.abs(r.wasserstein - 0.45) < 1e-12, String(r.wasserstein));
    assert.equal(r.f1Best.f1, 1);
    assert.equal(r.f1AtThreshold?.threshold, 0.5);
    assert.equal(r.f1AtThreshold?.f1, 1, "0.5 is not below 0.5, so the correct record stays unflagged");
  });

  test("falls back to the scores when the probability scores do not fit", () => {
    const r = evaluateLabeled(records, { threshold: 0.5, probabilityScores: [soft[0]!, [], soft[2]!] });
    assert.equal(r.wassersteinOn, "scores");
    assert.equal(r.f1AtThreshold, undefined, "a soft-label threshold means nothing on raw scores");
    const plain = evaluateLabeled(records);
    assert.equal(plain.wassersteinOn, "scores");
    assert.equal(plain.wasserstein, r.wasserstein);
  });

  test("an empty set gives NaN metrics, not a crash", () => {
    const r = evaluateLabeled([]);
    assert.equal(r.records, 0);
    assert.ok(Number.isNaN(r.auc) && Number.isNaN(r.f1Best.f1) && Number.isNaN(r.wasserstein));
    assert.match(formatEvalReport(r), /step ROC-AUC\s+n\/a/);
  });

  test("the text table has one aligned row per metric", () => {
    const text = formatEvalReport(evaluateLabeled(records, { threshold: 0.5, probabilityScores: soft }));
    const lines = text.split("\n");
    assert.match(lines[0]!, /^3 records, 6 steps, 1 unscored$/);
    assert.match(text, /step ROC-AUC\s+1\.000/);
    assert.match(text, /ProcessBench F1 \(best\)\s+1\.000\s+flag score < /);
    assert.match(text, /ProcessBench F1 \(soft < 0\.50\)\s+1\.000\s+flag soft label < 0\.500; erroneous 100\.0% of 2, correct 100\.0% of 1/);
    assert.match(text, /Wasserstein-1\s+0\.450\s+right vs wrong steps, on soft labels/);
    // Names have single spaces, columns are two or more apart: every value ends in one column.
    const valueEnds = lines.slice(1).map((l) => /^(.+?) {2,}(\S+)/.exec(l)![0].length);
    assert.equal(new Set(valueEnds).size, 1, text);
  });
});
