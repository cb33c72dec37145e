// Editor latency of the language server, measured through the protocol as an editor sees it (the
// real server in-process, or spawned as `steplens lsp` with --spawn; a scripted client; every wait
// ends on a message):
//   1. first diagnostics for a 6-step file once the model is loaded;
//   2. re-scoring after an edit of the last step;
//   3. typing 50 characters at 20 per second with check-on-edit: stale diagnostics left at the end
//      (must be none) and how much scoring work was started and then cancelled (--no-typing skips it).
// With --spawn, the server's peak resident memory (VmHWM) is read from /proc at the end.
// With --qualities, the engine behind the server scores the same file in fast and in full quality
// (quality.ts, the engine side of the editor's steplens.check.quality): first score, re-score
// after an edit of the last step. With --label N, `steplens label` labels N GSM8K records.
// Usage: node --import tsx bench/lspLatency.ts [--model GGUF] [--file MD] [--threads N] [--spawn]
//          [--qualities] [--label N] [--no-typing] [--debounce MS] [--json] [--out FILE]

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { PublishDiagnosticsParams } from "vscode-languageserver/node";
import type { DocumentScores, ServerStatus } from "../protocol/index.js";
import { createEngine } from "../server/engine/engineOptions.js";
import { parseDocument } from "../server/engine/parse/index.js";
import { scoreDocument } from "../server/engine/scoreDocument.js";
import { QUALITIES, scorerForQuality } from "../server/engine/quality.js";
import { CLI, DATA, DEMO_MODEL, REPO } from "../test/helpers.js";
import { fileUri, TestClient } from "../test/lsp-client.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: DEMO_MODEL },
    file: { type: "string", default: path.resolve(import.meta.dirname, "fixtures/six-steps.md") },
    threads: { type: "string", default: "2" },
    debounce: { type: "string", default: "600" },
    spawn: { type: "boolean", default: false },
    qualities: { type: "boolean", default: false },
    label: { type: "string", default: "0" },
    "no-typing": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
const debounceMs = Number(values.debounce);
const threads = Number(values.threads);
const MODEL = path.resolve(values.model);
const FILE = path.resolve(values.file);
const text = readFileSync(FILE, "utf8");
const uri = fileUri(FILE);
const lines = text.split("\n");
// The last step is the line before the answer line; the typing happens at the end of the third step.
const isAnswerLine = (l: string): boolean => /^(#### |The answer is|Final answer|\*\*Answer)/.test(l.trim());
const answerLine = lines.length - 1 - [...lines].reverse().findIndex(isAnswerLine);
const lastStep = lines[answerLine - 1]!;
const edited = text.replace(lastStep, `${lastStep.replace(/[.]?$/, "")}, all told.`);
const firstStepLine = lines.findIndex((l, i) => i < answerLine - 1 && /\d/.test(l) && !/^(Question|Answer|---|answer:)/.test(l));
const anchor = lines[firstStepLine + 2]!;
const loadAtStart = os.loadavg();
const started = new Date().toISOString();

const configuration = { modelPath: MODEL, gpu: "off", check: { frequency: "edit", debounceMs } };
const WAIT_LIMIT_MS = 30 * 60_000;

interface Typing {
  characters: number;
  seconds: number;
  checks_started: number;
  checks_completed: number;
  checks_cancelled: number;
  settle_after_last_key_ms: number;
  final_version: number;
  final_diagnostics_version: number | undefined;
  stale_publishes_after_final: number;
}

async function lspRun() {
  let child: ReturnType<typeof spawn> | undefined;
  let client: TestClient;
  if (values.spawn) {
    child = spawn(process.execPath, [CLI, "lsp", "--stdio"], { cwd: REPO, stdio: ["pipe", "pipe", "inherit"] });
    client = await TestClient.onStreams(child.stdout!, child.stdin!, { configuration, waitLimitMs: WAIT_LIMIT_MS });
  } else client = await TestClient.inProcess({ configuration, waitLimitMs: WAIT_LIMIT_MS });
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
  t = performance.now();
  client.change(uri, 2, edited);
  // An edit is answered at once with the last check's scores marked stale (issue 12 item 6): the
  // re-score is the first notification of version 2 with nothing stale. With steplens.check.quality
  // "auto" (the default) that is the fast check, and the full one follows once the text is quiet.
  const fresh = (p: DocumentScores): boolean => !p.solutions.some((s) => s.stale === true);
  const second = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.version === 2 && p.solutions.length > 0 && fresh(p));
  const editMs = performance.now() - t;
  const upgraded = second.quality === "fast" ? await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.version === 2 && p.quality === "full" && fresh(p)) : second;
  const upgradeMs = performance.now() - t;

  // 3. Type 50 characters at 20 per second at the end of step 3.
  let typing: Typing | undefined;
  let version = 2;
  if (!values["no-typing"]) {
    const typed = " She counts them all again to be sure of it, twice.".slice(0, 50);
    const beganBefore = client.notifications<{ value: { kind: string } }>("$/progress", (p) => p.value.kind === "begin").length;
    const scoresBefore = client.notifications<DocumentScores>("steplens/scores", (p) => p.uri === uri).length;
    const typingStart = performance.now();
    for (let i = 1; i <= typed.length; i++) {
      client.change(uri, ++version, edited.replace(anchor, anchor + typed.slice(0, i)));
      await new Promise((r) => setTimeout(r, 50));
    }
    const typingMs = performance.now() - typingStart;
    t = performance.now();
    const last = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.version === version && p.solutions.length > 0 && fresh(p));
    const settleMs = performance.now() - t;
    const finalDiags = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => p.uri === uri && p.version === version);
    const startedChecks = client.notifications<{ value: { kind: string } }>("$/progress", (p) => p.value.kind === "begin").length - beganBefore;
    const completed = client.notifications<DocumentScores>("steplens/scores", (p) => p.uri === uri).length - scoresBefore;
    // After the last scores no publish for an older version may follow.
    const staleAfter = client.log
      .slice(client.log.findIndex((e) => e.params === last))
      .filter((e) => e.method === "textDocument/publishDiagnostics" && (e.params as PublishDiagnosticsParams).uri === uri && (e.params as PublishDiagnosticsParams).version !== version).length;
    typing = {
      characters: typed.length,
      seconds: +(typingMs / 1000).toFixed(2),
      checks_started: startedChecks,
      checks_completed: completed,
      checks_cancelled: startedChecks - completed,
      settle_after_last_key_ms: Math.round(settleMs),
      final_version: version,
      final_diagnostics_version: finalDiags.version,
      stale_publishes_after_final: staleAfter,
    };
  }
  const peakRss = child?.pid != null ? peakRssOf(child.pid) : undefined;
  await client.close();
  child?.kill();
  return {
    server: values.spawn ? "spawned steplens lsp" : "in-process",
    model_load_ms: Math.round(loadMs),
    first_diagnostics_ms: Math.round(firstMs),
    first_tokens: first.tokens,
    edit_last_step_ms: Math.round(editMs),
    edit_quality: second.quality,
    edit_debounce_ms: debounceMs,
    edit_tokens: second.tokens,
    edit_full_ms: Math.round(upgradeMs),
    edit_full_tokens: upgraded.tokens,
    ...(typing ? { typing } : {}),
    ...(peakRss != null ? { peak_rss_mib: Math.round(peakRss / 1024) } : {}),
  };
}

/** Peak resident set size of a process in KiB (Linux). */
function peakRssOf(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The engine behind the server, one fresh engine per quality: first score and re-score after the edit. */
async function qualityRuns() {
  const out = [];
  for (const quality of QUALITIES) {
    const t0 = performance.now();
    const engine = await createEngine({ modelPath: MODEL, gpu: "off", threads });
    const loadMs = performance.now() - t0;
    const scorer = scorerForQuality(engine, quality);
    const before = { ...engine.backend.counters };
    let t = performance.now();
    await scoreDocument(scorer, parseDocument(text, { fileName: FILE }));
    const firstMs = performance.now() - t;
    const mid = { ...engine.backend.counters };
    t = performance.now();
    await scoreDocument(scorer, parseDocument(edited, { fileName: FILE }));
    const editMs = performance.now() - t;
    const end = { ...engine.backend.counters };
    out.push({
      quality,
      prompt_format: engine.promptFormat,
      templates: scorer.config.templates.map((x) => x.name),
      negatives_from: scorer.config.negativesFrom,
      threads,
      model_load_ms: Math.round(loadMs),
      first_score_ms: Math.round(firstMs),
      first_tokens: { evaluated: mid.evaluated - before.evaluated, generated: mid.generated - before.generated },
      edit_last_step_ms: Math.round(editMs),
      edit_tokens: { evaluated: end.evaluated - mid.evaluated, generated: end.generated - mid.generated },
    });
    await engine.dispose();
  }
  return out;
}

/** `steplens label` on the first N GSM8K test records (steps = the answer's lines, gold = after ####). */
function labelRun(n: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "steplens-bench-label-"));
  const input = path.join(dir, "gsm8k.jsonl");
  const records = readFileSync(path.join(DATA, "gsm8k/test.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, n)
    .map((l, i) => {
      const r = JSON.parse(l) as { question: string; answer: string };
      const parts = r.answer.split("\n");
      const gold = parts.at(-1)!.replace(/^####\s*/, "").replace(/,/g, "");
      return { id: `gsm8k-${i}`, problem: r.question, steps: parts.slice(0, -1).map((s) => s.replace(/<<[^>]*>>/g, "")), gold_answer: gold };
    });
  writeFileSync(input, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const stats = path.join(dir, "stats.json");
  const t = performance.now();
  execFileSync(process.execPath, [CLI, "label", input, "-o", path.join(dir, "out.jsonl"), "--model", MODEL, "--gpu", "off", "--threads", String(threads), "--stats-json", stats], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
  const wallMs = performance.now() - t;
  const s = JSON.parse(readFileSync(stats, "utf8")) as { records: number; steps: number; seconds: number; tokens_evaluated: number; tokens_generated: number };
  return { records: s.records, steps: s.steps, labeling_seconds: s.seconds, seconds_per_record: +(s.seconds / s.records).toFixed(2), wall_seconds_with_load: +(wallMs / 1000).toFixed(1), tokens_evaluated: s.tokens_evaluated, tokens_generated: s.tokens_generated, threads };
}

const result: { engine?: Awaited<ReturnType<typeof qualityRuns>>; label?: ReturnType<typeof labelRun>; load_average_at_end?: number[] } & Record<string, unknown> & { lsp: Awaited<ReturnType<typeof lspRun>> } = {
  commit: execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).trim(),
  started,
  model: path.basename(MODEL),
  file: path.relative(REPO, FILE),
  cpus: os.availableParallelism(),
  load_average_at_start: loadAtStart.map((x) => +x.toFixed(2)),
  lsp: await lspRun(),
};
if (values.qualities) result.engine = await qualityRuns();
if (Number(values.label) > 0) result.label = labelRun(Number(values.label));
result.load_average_at_end = os.loadavg().map((x) => +x.toFixed(2));
if (values.out) writeFileSync(values.out, JSON.stringify(result, null, 2) + "\n");

if (values.json) process.stdout.write(JSON.stringify(result) + "\n");
else {
  const l = result.lsp;
  console.log(`language-server latency on ${path.basename(FILE)}, ${path.basename(MODEL)} on CPU, debounce ${debounceMs} ms (${l.server}); load average ${loadAtStart.map((x) => x.toFixed(1)).join(" ")} on ${os.availableParallelism()} CPUs; commit ${String(result.commit)}`);
  console.log(`  model load (to ready)               ${l.model_load_ms} ms`);
  console.log(`  first diagnostics after open        ${l.first_diagnostics_ms} ms (tokens evaluated ${l.first_tokens?.evaluated}, generated ${l.first_tokens?.generated})`);
  console.log(`  re-score after editing the last step ${l.edit_last_step_ms} ms incl. the ${debounceMs} ms debounce, ${l.edit_quality ?? "?"} quality (tokens evaluated ${l.edit_tokens?.evaluated}, generated ${l.edit_tokens?.generated})`);
  if (l.edit_quality === "fast") console.log(`  full-quality scores of the edit       ${l.edit_full_ms} ms after the edit (tokens evaluated ${l.edit_full_tokens?.evaluated}, generated ${l.edit_full_tokens?.generated})`);
  if (l.typing) {
    const ty = l.typing;
    console.log(`  typing ${ty.characters} chars at 20/s (${ty.seconds} s): checks started ${ty.checks_started}, completed ${ty.checks_completed}, cancelled ${ty.checks_cancelled}`);
    console.log(`  final scores ${ty.settle_after_last_key_ms} ms after the last key; final diagnostics for version ${ty.final_diagnostics_version} of ${ty.final_version}; stale publishes after it: ${ty.stale_publishes_after_final}`);
  }
  if (l.peak_rss_mib != null) console.log(`  peak RSS of the server process      ${l.peak_rss_mib} MiB`);
  for (const e of result.engine ?? []) {
    console.log(`  engine, ${e.quality} quality (${e.templates.join(", ")}; negatives from ${e.negatives_from}; ${e.threads} threads): first score ${e.first_score_ms} ms, re-score after the edit ${e.edit_last_step_ms} ms`);
  }
  if (result.label) {
    const lb = result.label;
    console.log(`  label ${lb.records} GSM8K records (${lb.steps} steps): ${lb.seconds_per_record} s per record (${lb.labeling_seconds} s labeling, ${lb.wall_seconds_with_load} s with the model load)`);
  }
  console.log(`  load average at the end ${(result.load_average_at_end ?? []).map((x) => x.toFixed(1)).join(" ")}`);
}
