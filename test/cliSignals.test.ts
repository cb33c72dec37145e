// `steplens score` ends at once on SIGTERM or SIGINT while it scores (issue 10 item 2: "the CLI
// ignored SIGTERM"). The test waits on a state, not on time: the first file's JSON line is out, so
// the second, long file is being scored; a CLI that ignored the signal would finish it and exit 0.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CLI, DEMO_MODEL, REPO } from "./helpers.js";

function longSolution(file: string): void {
  const steps = Array.from({ length: 60 }, (_, i) => `Step ${i + 1}: After day ${i + 1} he has 3 + 4 * ${i + 1} = ${3 + 4 * (i + 1)} apples.`);
  writeFileSync(file, ["---", "answer: 243", "---", "Question: Tom has 3 apples and gets 4 more each day. How many apples does he have after 60 days?", ...steps, "The answer is 243."].join("\n") + "\n");
}

async function interrupt(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-signal-"));
  try {
    const long = path.join(tmp, "long.md");
    longSolution(long);
    const child = spawn(process.execPath, [CLI, "score", "examples/shopping.md", long, "--json", "--model", DEMO_MODEL, "--gpu", "off", "--threads", "1"], {
      cwd: REPO,
      env: { ...process.env, STEPLENS_TOKEN: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (!sent && stdout.includes("\n")) {
        sent = true;
        child.kill(signal);
      }
    });
    const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on("exit", (c, s) => r([c, s])));
    assert.ok(sent, `the first file was never printed: ${stderr}`);
    return { code, signal: sig, stdout, stderr };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe("score stops at once on a signal", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} while the second file is scored: the process ends by the signal, the first file's result stays`, { timeout: 600_000 }, async () => {
      const r = await interrupt(signal);
      assert.equal(r.signal, signal, `ended by ${signal}, not by finishing (exit ${r.code}): ${r.stderr}`);
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines.length, 1, "the long file was not finished");
      assert.equal((JSON.parse(lines[0]!) as { file: string }).file, "examples/shopping.md");
    });
  }
});
