// The editor's Label Dataset as it reaches the language server (steplens/labelDataset, what
// client/labelDataset.ts sends): the real server in this process, the real demo model, real files.
// Issue 12 item 3 (one scale for a step in a file and in a dataset; words for people) and issue 10
// items 1 and 5 (the output is not the input; one run per output).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ResponseError } from "vscode-languageserver/node";
import type { DocumentScores, LabelDatasetResult } from "../protocol/index.js";
import { isSameFile, labelSummary } from "../client/labelFormat.js";
import { parseDocument } from "../server/engine/parse/index.js";
import { cleanStepText, stripStepPrefix } from "../server/engine/parse/index.js";
import { DATA, DEMO_MODEL, readJsonlFile } from "./helpers.js";
import { fileUri, TestClient } from "./lsp-client.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-label-lsp-"));
// The in-process server reads calibrations from here, never from the user's cache.
process.env.STEPLENS_CACHE_DIR = path.join(tmp, "cache");

interface DevRecord {
  id: string;
  problem: string;
  steps: string[];
  gold_answer: string;
  label: number;
}
const dev = readFileSync(path.join(DATA, "arith-processbench-dev.jsonl"), "utf8").split("\n").filter(Boolean);

/** The record as a person would write it in a Markdown file the editor scores. */
function asMarkdown(r: DevRecord): string {
  const steps = r.steps.map((s, i) => `Step ${i + 1}: ${cleanStepText(stripStepPrefix(s).text)}`);
  return ["---", `answer: ${r.gold_answer}`, "---", `Question: ${r.problem}`, "Answer: Let's think step by step.", ...steps, ""].join("\n");
}

async function refusal(p: Promise<unknown>): Promise<ResponseError<unknown>> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ResponseError, String(err));
    return err;
  }
  assert.fail("the request was not refused");
}

describe("Label Dataset through the language server", () => {
  let client: TestClient;

  before(async () => {
    client = await TestClient.inProcess({ configuration: { modelPath: DEMO_MODEL, gpu: "off", check: { frequency: "edit", debounceMs: 50 } } });
  });
  after(async () => {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("5 records, 4 of them wrong: each step gets the soft label the editor gives it in a file; progress and summary in words", async () => {
    const input = path.join(tmp, "five.jsonl");
    writeFileSync(input, dev.slice(0, 5).join("\n") + "\n");
    const output = path.join(tmp, "five.labeled.jsonl");
    client.trackProgress("five");
    const result = await client.request<LabelDatasetResult>("steplens/labelDataset", { input, output, workDoneToken: "five" });
    assert.equal(result.records, 5);
    assert.ok(result.calibration, "the result names the calibration");
    assert.equal(result.calibration.neutral, false);
    assert.match(result.calibration.id, /^arith-demo-15m-f16\.gguf@/);
    assert.match(result.calibration.description, /shipped with StepLens for the editor's and score's defaults/);

    const labeled = readJsonlFile<DevRecord & { soft_label: number[]; first_error: number; calibration: string }>(output);
    const threshold = result.threshold!;
    for (const rec of labeled) {
      assert.equal(rec.calibration, result.calibration.id);
      const file = path.join(tmp, `${rec.id}.md`);
      const text = asMarkdown(rec);
      const parsed = parseDocument(text, { fileName: file });
      assert.deepEqual(parsed.solutions[0]!.steps.map((s) => s.text), rec.steps.map((s) => cleanStepText(stripStepPrefix(s).text)), "the file holds the record's steps");
      assert.equal(parsed.problem, rec.problem, "and its problem");
      const uri = fileUri(file);
      client.open(uri, text);
      const scores = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.solutions.length > 0);
      const editor = scores.solutions[0]!;
      editor.steps.forEach((st, i) => {
        // The editor's session reuses its caches across files, so bits may differ; the scale may not.
        assert.ok(Math.abs(st.softLabel! - rec.soft_label[i]!) < 2e-3, `${rec.id} step ${i + 1}: editor ${st.softLabel} vs dataset ${rec.soft_label[i]}`);
      });
      const nearCut = rec.soft_label.some((x) => Math.abs(x - threshold) < 2e-3);
      if (!nearCut) assert.equal(rec.first_error, editor.firstError, `${rec.id}: the same first error in the file and in the dataset`);
    }
    // The symptom: with the scale of the 5 records themselves, no error was predicted at all.
    const wrong = labeled.filter((r) => r.label >= 0);
    assert.equal(wrong.length, 4);
    assert.ok(wrong.some((r) => r.first_error >= 0), JSON.stringify(labeled.map((r) => [r.id, r.label, r.first_error])));

    // Progress names the file once, in the title; the reports say how far.
    const progress = client.notifications<{ token: string; value: { kind: string; title?: string; message?: string } }>("$/progress", (p) => p.token === "five").map((p) => p.value);
    assert.match(progress[0]!.title ?? "", /labeling five\.jsonl$/);
    const reports = progress.filter((v) => v.kind === "report").map((v) => v.message ?? "");
    assert.ok(reports.length > 0 && reports.every((m) => /^\d+ of 5 records/.test(m)), JSON.stringify(reports));

    // What the editor's toast says: words, never the wire's keys, and the scale named.
    const summary = labelSummary(result, "five.labeled.jsonl");
    assert.doesNotMatch(summary, /unscoredSteps|f1BestThreshold|accErroneous|accCorrect|f1AtThreshold|wasserstein\b|F1 at threshold 0\b/);
    assert.match(summary, /labeled 5 records \(\d+ steps\) into five\.labeled\.jsonl/);
    assert.match(summary, /ProcessBench F1 \d\.\d{3} with these settings \(a step is wrong below soft label 0\.25\)/);
    assert.match(summary, new RegExp(`calibration ${result.calibration.id.replace(/[.]/g, "\\.")} \\(arith-demo-15m-f16\\.gguf, measured on`));
  });

  test("an output that is the input (or a link to it) is refused, and the input keeps its bytes", async () => {
    const input = path.join(tmp, "same.jsonl");
    writeFileSync(input, dev.slice(0, 3).join("\n") + "\n");
    const bytes = readFileSync(input);
    const link = path.join(tmp, "same-link.jsonl");
    symlinkSync(input, link);
    for (const [output, overwrite] of [
      [input, true],
      [input, false],
      [link, true],
    ] as const) {
      const err = await refusal(client.request("steplens/labelDataset", { input, output, overwrite }));
      assert.equal(err.code, -32602, "a problem with the files, not a server error");
      assert.match(err.message, /is the input file itself/);
      assert.deepEqual(readFileSync(input), bytes, `-o ${output}${overwrite ? " (start over)" : ""}`);
    }
  });

  // The extension asks "resume or start over?" before it sends the request, counting the output's
  // records: with the input as output it would offer to "resume" after the input's own records.
  test("the editor's own check, before its resume question, sees a symlink and a hard link as the input", async () => {
    const input = path.join(tmp, "editor-in.jsonl");
    writeFileSync(input, dev.slice(0, 2).join("\n") + "\n");
    const soft = path.join(tmp, "editor-soft.jsonl");
    symlinkSync(input, soft);
    const hard = path.join(tmp, "editor-hard.jsonl");
    linkSync(input, hard);
    const other = path.join(tmp, "editor-other.jsonl");
    writeFileSync(other, dev.slice(0, 2).join("\n") + "\n");
    assert.equal(await isSameFile(input, soft), true);
    assert.equal(await isSameFile(input, hard), true);
    assert.equal(await isSameFile(input, path.join(tmp, ".", "editor-in.jsonl")), true);
    assert.equal(await isSameFile(input, other), false, "same bytes, another file");
    assert.equal(await isSameFile(input, path.join(tmp, "editor-new.jsonl")), false, "an output not written yet");
  });

  test("an output another run is writing is refused, naming that run", async () => {
    const input = path.join(tmp, "busy.jsonl");
    writeFileSync(input, dev.slice(0, 2).join("\n") + "\n");
    const output = path.join(tmp, "busy.labeled.jsonl");
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], { stdio: "ignore" });
    try {
      writeFileSync(`${output}.lock`, JSON.stringify({ pid: other.pid, host: os.hostname(), started: new Date().toISOString(), what: "steplens label busy.jsonl -o busy.labeled.jsonl" }) + "\n");
      const err = await refusal(client.request("steplens/labelDataset", { input, output }));
      assert.equal(err.code, -32602);
      assert.match(err.message, new RegExp(`busy\\.labeled\\.jsonl is being written by another labeling run: steplens label busy\\.jsonl .*\\(pid ${other.pid},`));
    } finally {
      other.kill("SIGKILL");
    }
  });
});
