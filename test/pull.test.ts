// `steplens pull` against a loopback hub in Hugging Face's URL layout (test/hubServer.ts), serving a
// copy of the demo GGUF: manifest resolution, redirects to the storage, byte ranges, progress, a cut
// connection, a user's Ctrl-C and the next run resuming, a corrupted transfer refused, a gated repo.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { findCachedModel, listCachedModels } from "../server/engine/models/modelCache.js";
import { pullModel, PullError, type PullProgress } from "../server/engine/models/pull.js";
import { Hub } from "./hubServer.js";
import { CLI, DEMO_MODEL, REPO, runCli, SHARED } from "./helpers.js";

const GGUF = readFileSync(DEMO_MODEL);
const SHA = createHash("sha256").update(GGUF).digest("hex");
const REPO_ID = "steplens-test/Arith-Demo-GGUF";
const FILE = "arith-demo-Q8_0.gguf";
const SOURCE = `hf:${REPO_ID}:Q8_0`;
const GATED = "steplens-test/Gated-GGUF";
/** The real-tokenizer fixtures, served as instruct models' repositories are. */
const FIXTURES = [
  { repo: "steplens-test/Qwen2.5-Tokenizer-GGUF", file: "qwen2-tokenizer-tiny-random-q8_0.gguf", turn: "<|im_start|>assistant\n" },
  { repo: "steplens-test/Llama-3-Tokenizer-GGUF", file: "llama3-tokenizer-tiny-random-q8_0.gguf", turn: "<|start_header_id|>assistant<|end_header_id|>" },
].map((f) => ({ ...f, bytes: readFileSync(path.join(SHARED, "models", f.file)) }));
const MB = 1024 * 1024;

/** A fresh cache folder, and no token from this machine's Hugging Face login leaking into a test. */
function freshDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "steplens-pull-"));
}

describe("steplens pull against a loopback hub", () => {
  let hub: Hub;
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const dir = (): string => {
    const d = freshDir();
    dirs.push(d);
    return d;
  };
  before(async () => {
    process.env.HF_HOME = dir();
    delete process.env.HF_TOKEN;
    hub = await Hub.start(
      [
        { repo: REPO_ID, file: FILE, bytes: GGUF, tags: ["Q8_0"] },
        { repo: GATED, file: FILE, bytes: GGUF, tags: ["Q8_0"] },
        ...FIXTURES.map((f) => ({ repo: f.repo, file: f.file, bytes: f.bytes, tags: ["Q8_0"] })),
      ],
      { gated: { repo: GATED, token: "hf_secret" } },
    );
  });
  after(async () => {
    for (const c of children) if (c.exitCode == null && c.signalCode == null) c.kill("SIGKILL");
    await hub.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("hf:USER/REPO:QUANT resolves through the manifest and the redirect, reports progress, and lands checked in the cache", async () => {
    hub.faults = {};
    hub.requests.length = 0;
    const cache = dir();
    const progress: PullProgress[] = [];
    const result = await pullModel({ source: SOURCE, dir: cache, endpoint: hub.url, onProgress: (p) => progress.push(p) });
    assert.equal(result.sha256, SHA);
    assert.equal(result.checksum, "hub");
    assert.equal(result.bytes, GGUF.length);
    assert.equal(path.dirname(result.path), cache);
    assert.ok(readFileSync(result.path).equals(GGUF));
    assert.ok(hub.requests.some((r) => r.path === `/v2/${REPO_ID}/manifests/Q8_0`), "asked the manifest");
    assert.ok(hub.requests.some((r) => r.path === `/${REPO_ID}/resolve/main/${FILE}`), "went through the resolve URL");
    assert.ok(hub.requests.some((r) => r.path.startsWith("/storage/") && r.range), "fetched byte ranges from the storage");
    assert.ok(progress.length >= 2, `progress events: ${progress.length}`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.downloaded >= progress[i - 1]!.downloaded);
    assert.equal(progress.at(-1)!.downloaded, GGUF.length);
    assert.equal(progress.at(-1)!.total, GGUF.length);
    // The cache lists it, and `--model hf:…` finds it there without asking the hub again.
    assert.deepEqual(listCachedModels(cache).map((m) => m.path), [result.path]);
    const asked = hub.requests.length;
    assert.equal(await findCachedModel(SOURCE, cache, hub.url), result.path);
    assert.equal(hub.requests.length, asked);
    // A second pull finds the complete file and downloads nothing.
    const again = await pullModel({ source: SOURCE, dir: cache, endpoint: hub.url });
    assert.equal(again.alreadyThere, true);
    assert.equal(again.sha256, SHA);
  });

  test("--progress-json prints start, progress up to 100% and done as JSON lines on stdout, and a failure as an error line", async () => {
    hub.faults = {};
    const cache = dir();
    const run = await runCli(["pull", SOURCE, "--dir", cache, "--hf-endpoint", hub.url, "--progress-json"]);
    assert.equal(run.code, 0, run.stderr);
    const events = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as { event: string; downloaded?: number; total?: number; path?: string; sha256?: string; resumedFrom?: number });
    assert.equal(events[0]!.event, "start");
    assert.equal(events[0]!.total, GGUF.length);
    assert.equal(events[0]!.resumedFrom, 0);
    const progress = events.filter((e) => e.event === "progress");
    assert.ok(progress.length >= 2, `progress lines: ${progress.length}`);
    // At most one line per permille, and never backwards.
    assert.ok(progress.length <= 1001, `progress lines: ${progress.length}`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.downloaded! > progress[i - 1]!.downloaded!);
    assert.equal(progress.at(-1)!.downloaded, GGUF.length);
    const done = events.at(-1)!;
    assert.equal(done.event, "done");
    assert.equal(done.sha256, SHA);
    assert.equal(done.path, events[0]!.path);
    assert.deepEqual(new Set(events.map((e) => e.event)), new Set(["start", "progress", "done"]));
    // stderr keeps its words for people.
    assert.match(run.stderr, /downloading .* MB to /);

    const missing = await runCli(["pull", `hf:${REPO_ID}:Q2_K`, "--dir", cache, "--hf-endpoint", hub.url, "--progress-json"]);
    assert.equal(missing.code, 1);
    const error = JSON.parse(missing.stdout.trim()) as { event: string; code: string; message: string };
    assert.equal(error.event, "error");
    assert.equal(error.code, "not-found");
    assert.match(error.message, /no such model file/);
  });

  test("a plain URL downloads under its file name, checked against the checksum its server names", async () => {
    hub.faults = {};
    const result = await pullModel({ source: `${hub.url}/${REPO_ID}/resolve/main/${FILE}`, dir: dir() });
    assert.equal(path.basename(result.path), FILE);
    assert.equal(result.sha256, SHA);
    assert.equal(result.checksum, "hub");
  });

  test("a connection cut mid-transfer is resumed with a byte range, not started over", async () => {
    const cutAfter = 7 * MB;
    hub.faults = { cutAfter };
    hub.requests.length = 0;
    const result = await pullModel({ source: SOURCE, dir: dir(), endpoint: hub.url });
    assert.equal(result.sha256, SHA);
    const cut = hub.cutAt;
    assert.ok(cut, "a transfer was cut");
    // What the client asked for after the cut, as [from, to] file ranges. Counting the bytes the hub
    // wrote would not do: ipull's parallel transfers overlap and are dropped part-way, more so on a
    // loaded machine, so even a clean download writes more than the file.
    const later = hub.requests
      .slice(cut.requestIndex + 1)
      .map((r) => /^bytes=(\d+)-(\d*)$/.exec(r.range ?? ""))
      .filter((m): m is RegExpExecArray => m != null)
      .map((m) => [Number(m[1]), m[2] ? Number(m[2]) : GGUF.length - 1] as const);
    assert.ok(later.length > 0, "the rest was asked for again with a byte range");
    // Starting over would ask again for the cut transfer's first byte; resuming starts past it (at the
    // last whole chunk that arrived), and asks again for less than what was sent before the cut.
    assert.ok(!later.some(([from, to]) => from <= cut.start && to >= cut.start), `asked again from ${cut.start}: ${JSON.stringify(later)}`);
    const again = later.reduce((n, [from, to]) => n + Math.max(0, Math.min(to + 1, cut.end) - Math.max(from, cut.start)), 0);
    assert.ok(again < cutAfter, `asked again for ${again} of the ${cutAfter} bytes sent before the cut: ${JSON.stringify(later)}`);
    hub.faults = {};
  });

  test("Ctrl-C keeps what arrived, and the next pull resumes from it (CLI)", async () => {
    const cache = dir();
    hub.faults = { stallAfter: 20 * MB };
    hub.bytesSent = 0;
    const first = spawn(process.execPath, [CLI, "pull", SOURCE, "--dir", cache, "--hf-endpoint", hub.url], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    children.push(first);
    let stderr1 = "";
    first.stderr.on("data", (d: Buffer) => (stderr1 += d.toString()));
    await hub.waitForStall();
    first.kill("SIGINT");
    const code1 = await new Promise<number | null>((r) => first.on("exit", r));
    assert.equal(code1, 130, stderr1);
    assert.match(stderr1, /interrupted.*run the same command again to resume/);
    const kept = readdirSync(cache).filter((f) => f.endsWith(".gguf.ipull"));
    assert.equal(kept.length, 1, `kept the partial download: ${readdirSync(cache).join(", ")}`);
    const partial = path.join(cache, kept[0]!);

    hub.faults = {};
    hub.bytesSent = 0;
    const second = await runCli(["pull", SOURCE, "--dir", cache, "--hf-endpoint", hub.url, "--json"]);
    assert.equal(second.code, 0, second.stderr);
    const result = JSON.parse(second.stdout) as { path: string; sha256: string; resumedFrom: number };
    assert.equal(result.sha256, SHA);
    assert.ok(result.resumedFrom >= 5 * MB, `resumed from ${result.resumedFrom}`);
    assert.match(second.stderr, /resuming .*MB already here/);
    // Kept: whole 5 MB chunks; the chunks the (up to 3) parallel connections were in the middle of
    // come again. Starting over would send the whole file.
    const sent = `second run sent ${hub.bytesSent} of ${GGUF.length} bytes, resuming from ${result.resumedFrom}`;
    assert.ok(hub.bytesSent < GGUF.length, sent);
    assert.ok(hub.bytesSent <= GGUF.length - result.resumedFrom + 3 * 5 * MB, sent);
    console.log(sent);
    assert.match(second.stderr, /100% \(/, "progress lines up to 100%");
    assert.ok(!existsSync(partial));
  });

  // Every other chunk arrived; the last transfer went silent. ipull's download() then never settles,
  // even once the downloader is closed. A hang is the failure here: the timeout turns it into a
  // failed test, and the suite's after() ends the stuck CLI.
  test("Ctrl-C while the only transfer left is silent stops the pull at once, says what it kept, and the next pull completes (CLI)", { timeout: 90_000 }, async () => {
    const cache = dir();
    hub.faults = { stallAt: Math.floor((GGUF.length - 1) / (5 * MB)) * 5 * MB };
    const first = spawn(process.execPath, [CLI, "pull", SOURCE, "--dir", cache, "--hf-endpoint", hub.url], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    children.push(first);
    let stderr1 = "";
    first.stderr.on("data", (d: Buffer) => (stderr1 += d.toString()));
    const exited = new Promise<number | null>((r) => first.on("exit", r));
    await hub.waitForStall();
    first.kill("SIGINT");
    assert.equal(await exited, 130, stderr1);
    // ipull sometimes leaves no partial file when closed in this state: the message says what is there.
    const kept = readdirSync(cache).filter((f) => f.endsWith(".gguf.ipull"));
    assert.match(stderr1, kept.length === 1 ? /interrupted; what arrived is kept in .*run the same command again to resume/ : /interrupted; nothing was kept: run the same command again/);
    assert.ok(!readdirSync(cache).some((f) => f.endsWith(".gguf")), "no partial file under the model's own name");

    hub.faults = {};
    hub.bytesSent = 0;
    const second = await runCli(["pull", SOURCE, "--dir", cache, "--hf-endpoint", hub.url, "--json"]);
    assert.equal(second.code, 0, second.stderr);
    const result = JSON.parse(second.stdout) as { sha256: string; resumedFrom: number };
    assert.equal(result.sha256, SHA);
    if (kept.length === 1) assert.ok(hub.bytesSent < GGUF.length, `resumed from ${result.resumedFrom}, sent ${hub.bytesSent} of ${GGUF.length} bytes`);
  });

  test("a corrupted download is refused and deleted, with a message", async () => {
    hub.faults = { corrupt: true };
    const cache = dir();
    await assert.rejects(
      pullModel({ source: SOURCE, dir: cache, endpoint: hub.url }),
      (err: unknown) => err instanceof PullError && err.code === "checksum" && /does not match the checksum the hub names/.test(err.message),
    );
    assert.deepEqual(listCachedModels(cache), []);
    const cli = await runCli(["pull", SOURCE, "--dir", cache, "--hf-endpoint", hub.url]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /steplens: the downloaded .* does not match the checksum/);
    assert.doesNotMatch(cli.stderr, /\n\s+at /, "no stack trace");
    hub.faults = {};
  });

  test("a gated model needs a token, and the message says how to give one", async () => {
    hub.faults = {};
    await assert.rejects(
      pullModel({ source: `hf:${GATED}:Q8_0`, dir: dir(), endpoint: hub.url }),
      (err: unknown) => err instanceof PullError && err.code === "unauthorized" && /--hf-token/.test(err.message),
    );
    const result = await pullModel({ source: `hf:${GATED}:Q8_0`, dir: dir(), endpoint: hub.url, token: "hf_secret" });
    assert.equal(result.sha256, SHA);
  });

  test("unknown models and malformed names get messages that say what to do", async () => {
    await assert.rejects(
      pullModel({ source: `hf:${REPO_ID}:Q2_K`, dir: dir(), endpoint: hub.url }),
      (err: unknown) => err instanceof PullError && err.code === "not-found",
    );
    const cli = await runCli(["pull", "Qwen2.5-Math-1.5B", "--dir", dir()]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /hf:USER\/REPO:QUANT/);
  });

  test("the Qwen2.5 and Llama 3 tokenizer fixtures pulled through the hub (CLI) are what `score --model hf:…` then reads, in their chat templates", async () => {
    hub.faults = {};
    const cache = dir();
    for (const f of FIXTURES) {
      const source = `hf:${f.repo}:Q8_0`;
      const pulled = await runCli(["pull", source, "--dir", cache, "--hf-endpoint", hub.url, "--json"]);
      assert.equal(pulled.code, 0, pulled.stderr);
      const result = JSON.parse(pulled.stdout) as { path: string; sha256: string };
      assert.equal(result.sha256, createHash("sha256").update(f.bytes).digest("hex"));
      assert.ok(readFileSync(result.path).equals(f.bytes));
      assert.match(pulled.stderr, /100% \(/, "progress up to 100%");

      hub.requests.length = 0;
      const explained = await runCli(["score", path.join(REPO, "bench/fixtures/gsm8k-six-steps.md"), "--model", source, "--gpu", "off", "--threads", "1", "--quality", "fast", "--explain-prompt", "1"], { STEPLENS_MODELS_DIR: cache, HF_ENDPOINT: hub.url });
      assert.equal(explained.code, 0, explained.stderr);
      assert.ok(explained.stdout.includes(f.turn), `${f.file} prompted in its chat template: ${explained.stdout}`);
      assert.equal(hub.requests.length, 0, "read from the cache, the hub not asked");
    }
  });

  test("nothing is downloaded unless pulled: score --model hf:… without the file says to pull it", async () => {
    hub.requests.length = 0;
    const file = path.join(dir(), "s.md");
    writeFileSync(file, "Question: What is 2 + 3?\nAnswer:\nStep 1: 2 + 3 = 5.\nThe answer is 5.\n");
    const cli = await runCli(["score", file, "--model", SOURCE, "--gpu", "off"], { HF_ENDPOINT: hub.url, STEPLENS_MODELS_DIR: dir() });
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /not in the model cache .*steplens pull hf:/);
    assert.equal(hub.requests.length, 0, "the hub was not asked");
  });
});
