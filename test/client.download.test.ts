// Select Model's model cache rows and "Download a recommended model…" (issue 11 item 2, the editor
// half), without VS Code: the rows, the curated list, the child's command line and environment, the
// progress lines, and a download, a Cancel and the resume through client/pullProcess.ts (the same
// startPull the extension calls) running the built CLI against the loopback hub (test/hubServer.ts).
// The notification itself is VS Code's (client/selectModel.ts); the editor test does not cover it.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MODEL_CACHE_SOURCE, gatherModels, ggufFilesIn, modelCacheDir, modelPickItems } from "../client/modelFiles.js";
import { parsePullLine, progressText, pullFailureText, pullInvocation, startPull, type PullEvent, type PullInvocation, type PullOutcome } from "../client/pullProcess.js";
import { approxSize, RECOMMENDED_MODELS } from "../client/recommendedModels.js";
import { defaultModelsDir, isModelSource } from "../server/engine/models/modelCache.js";
import { Hub } from "./hubServer.js";
import { CLI, DEMO_MODEL } from "./helpers.js";

const MB = 1024 * 1024;

describe("Select Model: the model cache's rows", () => {
  test("the cache folder is the one `steplens pull` writes to, for each way of setting it", () => {
    const saved = { STEPLENS_MODELS_DIR: process.env.STEPLENS_MODELS_DIR, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
    try {
      for (const env of [{}, { XDG_CACHE_HOME: "/tmp/xdg" }, { STEPLENS_MODELS_DIR: "rel/models" }, { STEPLENS_MODELS_DIR: "/m", XDG_CACHE_HOME: "/tmp/xdg" }] as NodeJS.ProcessEnv[]) {
        delete process.env.STEPLENS_MODELS_DIR;
        delete process.env.XDG_CACHE_HOME;
        Object.assign(process.env, env);
        assert.equal(modelCacheDir(process.env), defaultModelsDir(), JSON.stringify(env));
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  test("complete downloads are listed under their own heading, partial ones (.ipull) are not, and the download row comes before Browse…", () => {
    const cache = mkdtempSync(path.join(os.tmpdir(), "steplens-cache-rows-"));
    try {
      writeFileSync(path.join(cache, "hf_Qwen_qwen2.5-0.5b-instruct-q8_0.gguf"), "GGUF....");
      writeFileSync(path.join(cache, "hf_bartowski_Qwen2.5-Math-7B-Instruct-Q4_K_M.gguf.ipull"), "partial");
      const cached = ggufFilesIn(cache, MODEL_CACHE_SOURCE);
      assert.deepEqual(cached.map((m) => path.basename(m.path)), ["hf_Qwen_qwen2.5-0.5b-instruct-q8_0.gguf"]);
      const current = cached[0]!.path;
      // Found twice (the cache and "folder of the current model"): listed once, under the cache,
      // after the workspace's.
      const workspace = { path: "/w/own.gguf", bytes: 4, source: "workspace" };
      const models = gatherModels([workspace], current, "/nowhere/ext", cache);
      assert.deepEqual(
        models.map((m) => m.source),
        ["workspace", MODEL_CACHE_SOURCE],
      );
      const items = modelPickItems(models, current, undefined);
      assert.deepEqual(
        items.map((i) => [i.action, i.label]),
        [
          ["separator", "workspace"],
          ["file", "$(file-binary) own.gguf"],
          ["separator", MODEL_CACHE_SOURCE],
          ["file", "$(file-binary) hf_Qwen_qwen2.5-0.5b-instruct-q8_0.gguf"],
          ["separator", "other"],
          ["download", "$(cloud-download) Download a recommended model…"],
          ["browse", "$(folder-opened) Browse…"],
        ],
      );
      assert.match(items[3]!.description!, /^current · 8 B$/);
      assert.equal(items[3]!.detail, current, "the cache row shows the full path");
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

describe("the curated list", () => {
  test("a few models, each a hf:USER/REPO:QUANT source `steplens pull` takes, a plausible size and what it is good for", () => {
    assert.ok(RECOMMENDED_MODELS.length >= 3 && RECOMMENDED_MODELS.length <= 6, `${RECOMMENDED_MODELS.length} models`);
    for (const m of RECOMMENDED_MODELS) {
      assert.ok(isModelSource(m.source), m.source);
      assert.match(m.source, /^hf:[\w.-]+\/[\w.-]+-GGUF:(Q4_K_M|Q8_0)$/, m.source);
      assert.ok(m.source.toLowerCase().includes(m.label.split(" ")[0]!.toLowerCase()), `${m.label} is what ${m.source} downloads`);
      assert.ok(m.label.endsWith(m.source.split(":").at(-1)!), `${m.label} names its quantization`);
      assert.ok(m.approxBytes > 0.3e9 && m.approxBytes < 6e9, `${m.label}: ${m.approxBytes}`);
      assert.ok(m.goodFor.length > 20, m.goodFor);
    }
    assert.equal(new Set(RECOMMENDED_MODELS.map((m) => m.source)).size, RECOMMENDED_MODELS.length);
    assert.ok(RECOMMENDED_MODELS.some((m) => m.label === "Qwen2.5-Math-1.5B-Instruct Q4_K_M"));
    assert.equal(approxSize(0.99e9), "about 990 MB");
    assert.equal(approxSize(4.68e9), "about 4.7 GB");
  });
});

describe("the child's command line, environment and output", () => {
  test("the bundled CLI in pull --progress-json mode, into the listed cache; a token only in the environment, never on the command line", () => {
    const inv = pullInvocation({ cliPath: "/ext/dist/cli.mjs", source: "hf:A/B-GGUF:Q8_0", dir: "/c/models", endpoint: "http://mirror", token: "hf_secret", nodePath: "/code", baseEnv: { PATH: "/bin", HF_TOKEN: "old" } });
    assert.equal(inv.command, "/code");
    assert.deepEqual(inv.args, ["/ext/dist/cli.mjs", "pull", "hf:A/B-GGUF:Q8_0", "--dir", "/c/models", "--progress-json", "--hf-endpoint", "http://mirror"]);
    assert.ok(![inv.command, ...inv.args].some((a) => a.includes("hf_secret")), "no token in what `ps` shows");
    assert.equal(inv.env.HF_TOKEN, "hf_secret");
    assert.equal(inv.env.ELECTRON_RUN_AS_NODE, "1", "VS Code's binary runs the script as Node");
    assert.equal(inv.env.PATH, "/bin");
    // Without a token or a mirror: the child reads the user's own HF_TOKEN / HF_ENDPOINT.
    const plain = pullInvocation({ cliPath: "/ext/dist/cli.mjs", source: "hf:A/B-GGUF:Q8_0", dir: "/c", baseEnv: { HF_TOKEN: "mine", HF_ENDPOINT: "http://m" } });
    assert.equal(plain.command, process.execPath);
    assert.ok(!plain.args.includes("--hf-endpoint"));
    assert.equal(plain.env.HF_TOKEN, "mine");
    assert.equal(plain.env.HF_ENDPOINT, "http://m");
  });

  test("progress lines are read back; anything else is ignored; the notification's words", () => {
    assert.deepEqual(parsePullLine('{"event":"progress","downloaded":5,"total":10}'), { event: "progress", downloaded: 5, total: 10 });
    assert.deepEqual(parsePullLine('{"event":"error","code":"unauthorized","message":"x"}'), { event: "error", code: "unauthorized", message: "x" });
    for (const junk of ["", "steplens: 10%", "[1]", "null", '{"event":"progress","downloaded":"5","total":10}', '{"event":"nope"}', '{"event":"done","path":"p","bytes":1,"sha256":"s","checksum":"maybe","resumedFrom":0,"alreadyThere":false}', '{"event":"toString"}']) {
      assert.equal(parsePullLine(junk), undefined, junk);
    }
    assert.deepEqual(progressText({ event: "progress", downloaded: 365 * MB + MB / 5, total: 986 * MB }), { percent: (365.2 / 986) * 100, message: "37% · 365.2 of 986.0 MB" });
    assert.deepEqual(progressText({ event: "start", path: "/p", total: 100 * MB, resumedFrom: 25 * MB }), { percent: 25, message: "resuming: 25.0 of 100.0 MB already here" });
    assert.equal(progressText({ event: "error", code: "network", message: "x" }), undefined);
  });

  test("a CLI that is not there fails with Node's reason, not its version trailer", async () => {
    const outcome = await startPull(pullInvocation({ cliPath: path.join(os.tmpdir(), "no-such-steplens", "cli.mjs"), source: "hf:A/B-GGUF:Q8_0", dir: os.tmpdir() })).outcome;
    assert.equal(outcome.kind, "failed", JSON.stringify(outcome));
    if (outcome.kind !== "failed") return;
    assert.equal(outcome.code, "process");
    assert.doesNotMatch(outcome.message, /^Node\.js v/);
    assert.match(outcome.message, /no-such-steplens|Cannot find module|MODULE_NOT_FOUND/);
  });

  test("what the user reads when it did not finish names the model and what to do", () => {
    const label = "Qwen2.5-Math-7B-Instruct Q4_K_M";
    const texts: [PullOutcome, RegExp][] = [
      [{ kind: "cancelled", kept: true, message: "" }, /Download of Qwen2\.5-Math-7B-Instruct Q4_K_M cancelled\. What arrived is kept: choose it again to resume/],
      [{ kind: "cancelled", kept: false, message: "" }, /cancelled; nothing was kept/],
      [{ kind: "failed", code: "unauthorized", message: "401" }, /Q4_K_M is gated .*accept its terms.*HF_TOKEN.*try again/],
      [{ kind: "failed", code: "not-found", message: "404" }, /Q4_K_M was not found .*Browse…/],
      [{ kind: "failed", code: "network", message: "ECONNREFUSED" }, /Download of .*Q4_K_M failed: ECONNREFUSED\. Check the network or the mirror in HF_ENDPOINT/],
    ];
    for (const [outcome, re] of texts) assert.match(pullFailureText(label, outcome as Exclude<PullOutcome, { kind: "done" }>), re);
  });
});

describe("a download from the editor, through the child process, against a loopback hub", () => {
  const GGUF = readFileSync(DEMO_MODEL);
  const SHA = createHash("sha256").update(GGUF).digest("hex");
  const REPO_ID = "steplens-test/Arith-Demo-GGUF";
  const GATED = "steplens-test/Gated-GGUF";
  let hub: Hub;
  const dirs: string[] = [];
  const handles: ReturnType<typeof startPull>[] = [];
  const home = mkdtempSync(path.join(os.tmpdir(), "steplens-hf-home-"));
  dirs.push(home);
  // No token from this machine's Hugging Face login in the child.
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, HF_HOME: home, HF_TOKEN: undefined, HF_ENDPOINT: undefined };
  const cacheDir = (): string => {
    const d = mkdtempSync(path.join(os.tmpdir(), "steplens-editor-pull-"));
    dirs.push(d);
    return d;
  };
  const invocation = (source: string, dir: string, extra: Partial<Parameters<typeof pullInvocation>[0]> = {}): PullInvocation =>
    pullInvocation({ cliPath: CLI, source, dir, endpoint: hub.url, baseEnv, ...extra });
  const run = (inv: PullInvocation, events: PullEvent[] = []): ReturnType<typeof startPull> => {
    const handle = startPull(inv, (e) => events.push(e));
    handles.push(handle);
    return handle;
  };

  before(async () => {
    mkdirSync(home, { recursive: true });
    hub = await Hub.start(
      [
        { repo: REPO_ID, file: "arith-demo-Q8_0.gguf", bytes: GGUF, tags: ["Q8_0"] },
        { repo: GATED, file: "arith-demo-Q8_0.gguf", bytes: GGUF, tags: ["Q8_0"] },
      ],
      { gated: { repo: GATED, token: "hf_secret" } },
    );
  });
  after(async () => {
    for (const h of handles) if (h.child.exitCode == null && h.child.signalCode == null) h.child.kill("SIGKILL");
    await hub.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("progress up to 100%, then the file in the cache where Select Model lists it", async () => {
    hub.faults = {};
    const cache = cacheDir();
    const events: PullEvent[] = [];
    const outcome = await run(invocation(`hf:${REPO_ID}:Q8_0`, cache), events).outcome;
    assert.equal(outcome.kind, "done", JSON.stringify(outcome));
    if (outcome.kind !== "done") return;
    assert.equal(outcome.result.sha256, SHA);
    assert.equal(outcome.result.checksum, "hub");
    assert.equal(path.dirname(outcome.result.path), cache);
    const percents = events.map(progressText).filter((t) => t !== undefined).map((t) => t.percent);
    assert.ok(percents.length >= 3, `progress events: ${percents.length}`);
    for (let i = 1; i < percents.length; i++) assert.ok(percents[i]! >= percents[i - 1]!);
    assert.equal(percents.at(-1), 100);
    assert.deepEqual(ggufFilesIn(cache, MODEL_CACHE_SOURCE).map((m) => m.path), [outcome.result.path]);
  });

  test("Cancel stops the child (SIGINT, exit 130), keeps what arrived, says so; choosing it again resumes and completes", { timeout: 120_000 }, async () => {
    const cache = cacheDir();
    hub.faults = { stallAfter: 20 * MB };
    hub.bytesSent = 0;
    const first = run(invocation(`hf:${REPO_ID}:Q8_0`, cache));
    await hub.waitForStall();
    first.cancel();
    const cancelled = await first.outcome;
    assert.equal(first.child.exitCode, 130);
    assert.equal(cancelled.kind, "cancelled", JSON.stringify(cancelled));
    if (cancelled.kind !== "cancelled") return;
    assert.equal(cancelled.kept, true, cancelled.message);
    assert.match(pullFailureText("Arith demo", cancelled), /What arrived is kept: choose it again to resume/);
    assert.equal(readdirSync(cache).filter((f) => f.endsWith(".gguf.ipull")).length, 1, readdirSync(cache).join(", "));
    assert.deepEqual(ggufFilesIn(cache, MODEL_CACHE_SOURCE), [], "a partial download is not offered as a model");

    hub.faults = {};
    hub.bytesSent = 0;
    const events: PullEvent[] = [];
    const outcome = await run(invocation(`hf:${REPO_ID}:Q8_0`, cache), events).outcome;
    assert.equal(outcome.kind, "done", JSON.stringify(outcome));
    if (outcome.kind !== "done") return;
    assert.equal(outcome.result.sha256, SHA);
    const start = events.find((e) => e.event === "start");
    assert.ok(start?.event === "start" && start.resumedFrom >= 5 * MB, JSON.stringify(start));
    assert.match(progressText(start)!.message, /^resuming: /);
    assert.ok(hub.bytesSent < GGUF.length, `the second run sent ${hub.bytesSent} of ${GGUF.length} bytes`);
    assert.ok(!existsSync(`${outcome.result.path}.ipull`));
  });

  test("a gated model: without a token the message says how to give one; with one (in the child's environment) it downloads", async () => {
    hub.faults = {};
    const label = "Gated demo";
    const denied = await run(invocation(`hf:${GATED}:Q8_0`, cacheDir())).outcome;
    assert.equal(denied.kind, "failed", JSON.stringify(denied));
    if (denied.kind !== "failed") return;
    assert.equal(denied.code, "unauthorized");
    assert.match(pullFailureText(label, denied), /^Gated demo is gated .*HF_TOKEN/);
    const allowed = await run(invocation(`hf:${GATED}:Q8_0`, cacheDir(), { token: "hf_secret" })).outcome;
    assert.equal(allowed.kind, "done", JSON.stringify(allowed));
  });

  test("a model the hub does not have, and a hub that cannot be reached, fail with the CLI's reason", async () => {
    const missing = await run(invocation(`hf:${REPO_ID}:Q2_K`, cacheDir())).outcome;
    assert.equal(missing.kind === "failed" && missing.code, "not-found", JSON.stringify(missing));
    const closed = await Hub.start([]);
    const url = closed.url;
    await closed.close();
    const unreachable = await run(invocation(`hf:${REPO_ID}:Q8_0`, cacheDir(), { endpoint: url })).outcome;
    assert.equal(unreachable.kind === "failed" && unreachable.code, "network", JSON.stringify(unreachable));
    if (unreachable.kind === "failed") assert.match(pullFailureText("Arith demo", unreachable), /^Download of Arith demo failed: .*Check the network/);
  });
});
