// steplens bon as a user runs it: the built CLI, real Best-of-N records with the gold answer removed.

import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CLI, DATA, REPO, readJsonlFile } from "./helpers.js";
import { bonBaselines, parseCandidates } from "../server/engine/bon/bestOfN.js";

interface Item {
  id: string;
  problem: string;
  gold_answer: string;
  candidates: { text: string; answer: string; is_correct: boolean; label: number }[];
}

const items = readJsonlFile<Item>(path.join(DATA, "arith-bon-dev.jsonl"));
const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-bon-"));

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});

describe("steplens bon", () => {
  test("without gold answers: valid output, a pick in range, and the right candidate in most records", () => {
    const slice = items.slice(0, 4);
    const input = path.join(tmp, "in.jsonl");
    // Only what a person comparing solutions has: no gold, no answers, no correctness flags.
    writeFileSync(input, slice.map((it) => JSON.stringify({ id: it.id, problem: it.problem, candidates: it.candidates.map((c) => ({ text: c.text })) })).join("\n") + "\n");
    const output = path.join(tmp, "out.jsonl");
    const r = spawnSync(process.execPath, [CLI, "bon", input, "-o", output, "--threads", "1"], { cwd: REPO, encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = readJsonlFile<{ id: string; scores: number[]; pick: number; candidates: unknown[]; gold_answer?: unknown; bon: { target_source: string } }>(output);
    assert.equal(out.length, slice.length);
    let right = 0;
    out.forEach((o, k) => {
      assert.equal(o.id, slice[k]!.id);
      assert.equal(o.gold_answer, undefined);
      assert.equal(o.scores.length, slice[k]!.candidates.length);
      assert.ok(o.scores.every(Number.isFinite));
      assert.ok(Number.isInteger(o.pick) && o.pick >= 0 && o.pick < o.scores.length);
      assert.equal(o.scores[o.pick], Math.max(...o.scores));
      assert.equal(o.bon.target_source, "pseudo-gold");
      if (slice[k]!.candidates[o.pick]!.is_correct) right++;
    });
    assert.ok(right >= 3, `picked the right candidate in ${right} of ${slice.length}`);
  });

  test("a malformed line is reported with its line number and skipped", () => {
    const input = path.join(tmp, "bad.jsonl");
    writeFileSync(input, `{"id": "x", "candidates": "nope"}\n`);
    const r = spawnSync(process.execPath, [CLI, "bon", input, "-o", path.join(tmp, "bad.out.jsonl"), "--threads", "1"], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /bad\.jsonl:1: .*candidates/);
  });

  test("candidates parse into steps and answers; the baselines match the data card's definitions", () => {
    const { problem, candidates } = parseCandidates({ candidates: items[0]!.candidates.map((c) => ({ text: c.text })) });
    assert.equal(problem, items[0]!.problem);
    assert.deepEqual(candidates.map((c) => c.answer), items[0]!.candidates.map((c) => c.answer));
    assert.ok(candidates.every((c) => c.steps.length >= 2));
    const b = bonBaselines([
      { answer: "5", correct: false },
      { answer: "5", correct: false },
      { answer: "7", correct: true },
      { answer: "8", correct: false },
    ]);
    assert.deepEqual(b, { random: 0.25, majority: 0, best: 1 });
  });
});
