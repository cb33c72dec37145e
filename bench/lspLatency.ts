// Editor latency of the language server on the demo model, measured through the protocol as an
// editor sees it (the real server in-process, a scripted client; every wait ends on a message):
//   1. first diagnostics for a 6-step file once the model is loaded;
//   2. re-scoring after an edit of the last step;
//   3. typing 50 characters at 20 per second with check-on-edit: stale diagnostics left at the end
//      (must be none) and how much scoring work was started and then cancelled.
// Usage: node --import tsx bench/lspLatency.ts [--debounce MS] [--json]

import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { PublishDiagnosticsParams } from "vscode-languageserver/node";
import type { DocumentScores, ServerStatus } from "../protocol/index.js";
import { DEMO_MODEL } from "../test/helpers.js";
import { fileUri, TestClient } from "../test/lsp-client.js";

const { values } = parseArgs({ options: { debounce: { type: "string", default: "600" }, json: { type: "boolean", default: false } } });
const debounceMs = Number(values.debounce);
const FILE = path.resolve(import.meta.dirname, "fixtures/six-steps.md");
const text = readFileSync(FILE, "utf8");
const uri = fileUri(FILE);

const client = await TestClient.inProcess({ configuration: { modelPath: DEMO_MODEL, gpu: "off", check: { frequency: "edit", debounceMs } } });
const t0 = performance.now();
await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "ready");
const loadMs = performance.now() - t0;

// 1. First diagnostics. The debounce applies to edits, not to opening a file.
let t = performance.now();
client.open(uri, text, "markdown", 1);
await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => p.uri === uri && p.version === 1);
const firstMs = performance.now() - t;
const first = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.version === 1 && p.solutions.length > 0);

// 2. Edit the last step (the debounce is part of what a user waits for, so it is reported apart).
const edited = text.replace("so 34 - 17 = 17 eggs are left.", "so 34 - 17 = 17 eggs remain.");
t = performance.now();
client.change(uri, 2, edited);
const second = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.version === 2 && p.solutions.length > 0);
const editMs = performance.now() - t;

// 3. Type 50 characters at 20 per second at the end of step 3.
const anchor = "Together she has 36 + 12 = 48 eggs.";
const typed = " She counts them all again to be sure of it, twice.".slice(0, 50);
const beganBefore = client.notifications<{ value: { kind: string } }>("$/progress", (p) => p.value.kind === "begin").length;
const scoresBefore = client.notifications<DocumentScores>("steplens/scores", (p) => p.uri === uri).length;
let version = 2;
const typingStart = performance.now();
for (let i = 1; i <= typed.length; i++) {
  client.change(uri, ++version, edited.replace(anchor, anchor + typed.slice(0, i)));
  await new Promise((r) => setTimeout(r, 50));
}
const typingMs = performance.now() - typingStart;
t = performance.now();
const last = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.version === version && p.solutions.length > 0);
const settleMs = performance.now() - t;
const finalDiags = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => p.uri === uri && p.version === version);
const started = client.notifications<{ value: { kind: string } }>("$/progress", (p) => p.value.kind === "begin").length - beganBefore;
const completed = client.notifications<DocumentScores>("steplens/scores", (p) => p.uri === uri).length - scoresBefore;
// After the last scores no publish for an older version may follow.
const staleAfter = client.log.slice(client.log.findIndex((e) => e.params === last)).filter((e) => e.method === "textDocument/publishDiagnostics" && (e.params as PublishDiagnosticsParams).uri === uri && (e.params as PublishDiagnosticsParams).version !== version).length;
await client.close();

const result = {
  model_load_ms: Math.round(loadMs),
  first_diagnostics_ms: Math.round(firstMs),
  first_tokens: first.tokens,
  edit_last_step_ms: Math.round(editMs),
  edit_debounce_ms: debounceMs,
  edit_tokens: second.tokens,
  typing: {
    characters: typed.length,
    seconds: +(typingMs / 1000).toFixed(2),
    checks_started: started,
    checks_completed: completed,
    checks_cancelled: started - completed,
    settle_after_last_key_ms: Math.round(settleMs),
    final_version: version,
    final_diagnostics_version: finalDiags.version,
    stale_publishes_after_final: staleAfter,
  },
};
if (values.json) process.stdout.write(JSON.stringify(result) + "\n");
else {
  console.log(`language-server latency on ${path.basename(FILE)} (6 steps), debounce ${debounceMs} ms, demo model on CPU`);
  console.log(`  model load (to ready)               ${result.model_load_ms} ms`);
  console.log(`  first diagnostics after open        ${result.first_diagnostics_ms} ms (tokens evaluated ${first.tokens?.evaluated}, generated ${first.tokens?.generated})`);
  console.log(`  re-score after editing the last step ${result.edit_last_step_ms} ms incl. the ${debounceMs} ms debounce (tokens evaluated ${second.tokens?.evaluated}, generated ${second.tokens?.generated})`);
  console.log(`  typing ${typed.length} chars at 20/s (${result.typing.seconds} s): checks started ${started}, completed ${completed}, cancelled ${started - completed}`);
  console.log(`  final scores ${result.typing.settle_after_last_key_ms} ms after the last key; final diagnostics for version ${finalDiags.version} of ${version}; stale publishes after it: ${staleAfter}`);
}
