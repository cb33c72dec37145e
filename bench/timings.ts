// Speed checks that used to be asserts inside the test suite (issue 12, item 18): on a shared 2-core
// machine a wall-clock bound in a test fails when other work runs, and passes when it should not.
// Here each is measured and printed with the machine's load, never asserted; each also checks its
// result, so a fast wrong answer is not reported as a speed-up.
//   1. countLines on a ~45 MB JSONL file (100,000 lines): was test/data.jsonl.test.ts "is fast on a large file" (< 3 s)
//   2. bestProcessBenchF1 on 20,000 random records (~100k distinct scores): was test/eval.test.ts (< 2 s)
//   3. the remote backend giving up on a server that refuses connections, 2 retries at a 20 ms base:
//      was test/remote.test.ts "nothing listening" (< 5 s)
// Usage: node --import tsx bench/timings.ts [--json]
// Store a run with its commit: node --import tsx bench/record.ts --out bench/results/timings -- node --import tsx bench/timings.ts

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { countLines } from "../server/engine/data/jsonl.js";
import { bestProcessBenchF1, type LabeledRecord } from "../server/engine/eval/metrics.js";
import { seededRandom } from "../server/engine/merge/merge.js";
import { connectRemote } from "../server/engine/backend/remote.js";

const { values } = parseArgs({ options: { json: { type: "boolean", default: false } } });

async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: Math.round((performance.now() - t0) * 10) / 10, value };
}

const results: Record<string, { ms: number; what: string; former_test_bound_ms: number }> = {};

// 1. countLines
const dir = mkdtempSync(path.join(os.tmpdir(), "steplens-timings-"));
try {
  const line = JSON.stringify({ id: "x", problem: "p".repeat(200), steps: ["s".repeat(100), "t".repeat(100)] });
  const file = path.join(dir, "large.jsonl");
  writeFileSync(file, (line + "\n").repeat(100_000));
  const r = await timed(() => countLines(file));
  assert.equal(r.value, 100_000);
  results.count_lines_45mb = { ms: r.ms, what: "countLines, 100,000 lines, ~45 MB", former_test_bound_ms: 3000 };
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// 2. bestProcessBenchF1
{
  const rand = seededRandom(3);
  const big: LabeledRecord[] = Array.from({ length: 20000 }, () => {
    const n = 1 + Math.floor(rand() * 9);
    return { scores: Array.from({ length: n }, () => rand()), label: rand() < 0.5 ? -1 : Math.floor(rand() * n) };
  });
  const r = await timed(() => bestProcessBenchF1(big));
  assert.ok(r.value.f1 > 0 && r.value.f1 <= 1);
  results.best_f1_20k_records = { ms: r.ms, what: "bestProcessBenchF1, 20,000 records", former_test_bound_ms: 2000 };
}

// 3. connection refused, retried twice
{
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const r = await timed(() => connectRemote(url, { retries: 2, retryBaseMs: 20 }).then(() => "connected", (err: Error) => err.message));
  assert.match(r.value, /ECONNREFUSED/);
  results.remote_refused_2_retries = { ms: r.ms, what: "connectRemote to a closed port, retries 2, base 20 ms", former_test_bound_ms: 5000 };
}

const load = Math.round(os.loadavg()[0]! * 100) / 100;
if (values.json) {
  console.log(JSON.stringify({ load_1min: load, cpus: os.cpus().length, results }, null, 2));
} else {
  console.log(`load average ${load} on ${os.cpus().length} CPUs`);
  for (const [name, r] of Object.entries(results)) console.log(`${name.padEnd(26)} ${String(r.ms).padStart(9)} ms   ${r.what} (the test bound was ${r.former_test_bound_ms} ms)`);
}
