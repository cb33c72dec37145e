// steplens bench as a user runs it: every method on the same few real records, one JSON object.

import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CLI, REPO } from "./helpers.js";

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});

describe("steplens bench", () => {
  test("--json on 3 records: every method with finite numbers, CPMI generating fewer tokens than MC; the report is written", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "steplens-bench-"));
    const r = spawnSync(
      process.execPath,
      [CLI, "bench", "--records", "3", "--naive-records", "2", "--bon-records", "0", "--json", "--report-dir", dir, "--threads", "1", "--parallel", "3"],
      { cwd: REPO, encoding: "utf8", timeout: 400_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1, "one JSON object");
    const out = JSON.parse(lines[0]!) as { records: number; methods: Record<string, Record<string, number>>; bon?: { accuracy: Record<string, number> } };
    assert.equal(out.records, 3);
    for (const name of ["cpmi", "cpmi_naive", "mc", "cpmi_merge", "rand_merge", "cpmi_sampled"]) {
      const m = out.methods[name];
      assert.ok(m, `method ${name} missing`);
      for (const key of ["auc", "f1", "wasserstein", "seconds", "tokens_evaluated", "tokens_generated"]) {
        assert.ok(Number.isFinite(m[key]), `${name}.${key} = ${m[key]}`);
      }
    }
    // bench's default CPMI reads its negatives from the solutions: no token generated; the sampled
    // setting generates some, far fewer than MC's rollouts.
    assert.equal(out.methods.cpmi!.tokens_generated, 0);
    assert.ok(out.methods.cpmi_sampled!.tokens_generated! > 0);
    assert.ok(out.methods.cpmi_sampled!.tokens_generated! < out.methods.mc!.tokens_generated!);
    // Prefix reuse: the naive baseline evaluates far more tokens for the same scores.
    assert.ok(out.methods.cpmi_naive!.tokens_evaluated! > 2 * out.methods.cpmi!.tokens_evaluated!);
    assert.equal(out.bon, undefined, "--bon-records 0 skips Best-of-N");
    const md = readFileSync(path.join(dir, "report.md"), "utf8");
    assert.match(md, /\| cpmi \|/);
    assert.match(md, /time \/ mc/);
    for (const svg of ["distributions.svg", "quality-cost.svg"]) assert.match(readFileSync(path.join(dir, svg), "utf8"), /^<svg[\s\S]*<\/svg>$/);
  });
});
