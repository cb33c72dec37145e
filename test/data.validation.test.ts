import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { validateProcessBenchRecord, type ProcessBenchRecord } from "../server/engine/data/jsonl.js";

function errorOf(value: unknown): string {
  const r = validateProcessBenchRecord(value);
  assert.equal(r.ok, false, `expected a rejection of ${JSON.stringify(value)}`);
  return r.ok ? "" : r.error;
}

function recordOf(value: unknown): ProcessBenchRecord {
  const r = validateProcessBenchRecord(value);
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.record;
}

const good = { id: "r1", problem: "What is 2 + 3?", steps: ["2 + 3 = 5."], gold_answer: "5", label: -1 };

describe("validateProcessBenchRecord", () => {
  test("accepts a ProcessBench record and keeps extra fields", () => {
    const rec = recordOf({ ...good, negatives: ["4", "6"], family: "sums" });
    assert.deepEqual(rec, { ...good, negatives: ["4", "6"], family: "sums" });
  });

  test("coerces a numeric gold answer and id to strings", () => {
    const rec = recordOf({ ...good, id: 17, gold_answer: 42.5 });
    assert.equal(rec.id, "17");
    assert.equal(rec.gold_answer, "42.5");
  });

  test("gold_answer and label are optional; null means absent", () => {
    const rec = recordOf({ id: "x", problem: "p", steps: ["a"], gold_answer: null, label: null });
    assert.equal("gold_answer" in rec, false);
    assert.equal("label" in rec, false);
  });

  test("messages name the field", () => {
    assert.match(errorOf([1, 2]), /a record must be a JSON object, got an array/);
    assert.match(errorOf("text"), /a record must be a JSON object, got a string/);
    assert.match(errorOf({ problem: "p", steps: ["a"] }), /field `id` is missing/);
    assert.match(errorOf({ ...good, id: "" }), /field `id` must be a non-empty string or a number/);
    assert.match(errorOf({ ...good, id: { a: 1 } }), /field `id` .* got an object/);
    assert.match(errorOf({ id: "x", steps: ["a"] }), /record "x": field `problem` must be a non-empty string \(it is missing\)/);
    assert.match(errorOf({ id: "x", problem: "p" }), /record "x": field `steps` must be a non-empty array of strings \(it is missing\)/);
    assert.match(errorOf({ ...good, steps: [] }), /field `steps` must be a non-empty array of strings \(got an empty array\)/);
    assert.match(errorOf({ ...good, steps: "one step" }), /field `steps` must be a non-empty array of strings \(got a string\)/);
    assert.match(errorOf({ ...good, steps: ["a", 2] }), /field `steps` must be a non-empty array of strings \(steps\[1\] is a number\)/);
    assert.match(errorOf({ ...good, steps: ["a", "  "] }), /steps\[1\] is empty/);
    assert.match(errorOf({ ...good, gold_answer: ["5"] }), /field `gold_answer` must be a string or a number, got an array/);
    assert.match(errorOf({ ...good, gold_answer: "" }), /field `gold_answer` is empty/);
    assert.match(errorOf({ ...good, label: 0.5 }), /field `label` must be -1 .* got 0\.5/);
    assert.match(errorOf({ ...good, label: -2 }), /field `label` must be -1/);
    assert.match(errorOf({ ...good, label: "1" }), /field `label` must be -1 .* got "1"/);
    assert.match(errorOf({ ...good, label: 1 }), /field `label` is 1 but there are only 1 steps/);
  });
});
