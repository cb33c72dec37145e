// `steplens doctor` as a user runs it (the built CLI) on the real demo model, plus the GPU paths this
// machine can really take: the CPU, and a GPU setting naming a type that is not usable here, through
// the engine and through the language server.

import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { ServerStatus } from "../protocol/index.js";
import { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { surveyGpus, type GpuType } from "../server/engine/backend/gpu.js";
import { BackendError } from "../server/engine/backend/types.js";
import type { DoctorReport } from "../server/cli/commands/doctor.js";
import { CLI, DEMO_MODEL, REPO, runCli, SHARED } from "./helpers.js";
import { TestClient } from "./lsp-client.js";
import { engineKey, resolveSettings } from "../server/lsp/settings.js";
import { serverThreads } from "../server/lsp/engineHost.js";
import { startInProcess } from "./serveHelpers.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-doctor-"));

function doctor(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(["doctor", "--threads", "1", ...args]);
}

/** A GPU type this machine cannot use (on a machine where all three work, the tests that need one skip). */
async function unusableGpu(): Promise<{ type: GpuType; reason: string } | undefined> {
  const t = (await surveyGpus()).types.find((x) => !x.usable);
  return t ? { type: t.type, reason: t.reason! } : undefined;
}

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});

describe("steplens doctor", () => {
  test("on the demo model: platform, versions, binaries, GGUF metadata, and one timed scoring; exit 0", async () => {
    const r = await doctor(["--model", DEMO_MODEL, "--gpu", "off", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.platform.cpus, os.availableParallelism());
    assert.equal(report.node.version, process.version);
    const pkgDir = path.join(REPO, "node_modules/node-llama-cpp");
    assert.equal(report.nodeLlamaCpp.version, (JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")) as { version: string }).version);
    assert.equal(report.nodeLlamaCpp.llamaCpp?.release, (JSON.parse(readFileSync(path.join(pkgDir, "llama/llama.cpp.info.json"), "utf8")) as { tag: string }).tag);
    assert.ok(report.nodeLlamaCpp.prebuilt.includes(`${process.platform === "darwin" ? "mac" : process.platform}-${process.arch}`), report.nodeLlamaCpp.prebuilt.join(","));
    assert.deepEqual(report.gpu.types.map((t) => t.type), ["cuda", "vulkan", "metal"]);
    for (const t of report.gpu.types) if (!t.usable) assert.ok(t.reason && t.reason.length > 20, `${t.type} says why not`);
    const m = report.model!;
    assert.equal(m.bytes, readFileSync(DEMO_MODEL).length);
    assert.equal(m.architecture, "llama");
    assert.equal(m.contextLength, 512);
    assert.ok(m.parameters! > 10e6 && m.parameters! < 20e6, `about 15M parameters, got ${m.parameters}`);
    assert.equal(report.run?.ok, true, report.run?.error ?? "");
    assert.equal(report.run.device, "cpu");
    assert.equal(report.run.deviceNote, "CPU (GPU off by setting)");
    assert.ok(report.run.tokensEvaluated! > 5 && report.run.tokensPerSecond! > 0);
  });

  test("the text report ends by saying everything works", async () => {
    const r = await doctor(["--model", DEMO_MODEL, "--gpu", "off"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok {2}model +.*arith-demo-15m-f16\.gguf \(27\.\d MiB\)$/m);
    assert.match(r.stdout, /one scoring: \d+ tokens in [\d.]+ ms \(\d+ tokens\/s\)/);
    assert.match(r.stdout, /everything needed works\n$/);
  });

  test("reading and writing speeds in tokens/s, on the real-tokenizer fixture too", async () => {
    for (const model of [DEMO_MODEL, path.join(SHARED, "models/qwen2-tokenizer-tiny-random-q8_0.gguf")]) {
      const r = await doctor(["--model", model, "--gpu", "off", "--json"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const run = (JSON.parse(r.stdout) as DoctorReport).run!;
      assert.ok(run.promptTokens! >= 100, `a prompt of ${run.promptTokens} tokens`);
      assert.ok(run.promptTokensPerSecond! > 0 && run.generationTokensPerSecond! > 0, JSON.stringify(run));
      assert.ok(run.generatedTokens! >= 1 && run.generatedTokens! <= 32);
      assert.equal(run.threads, 1);
    }
    const text = await doctor(["--model", DEMO_MODEL, "--gpu", "off"]);
    assert.match(text.stdout, /speed +reading \d+ tokens\/s \(a \d+-token prompt\), writing [\d.]+ tokens\/s \(\d+ sampled\) on 1 CPU thread/);
  });

  test("a malformed $STEPLENS_THREADS is refused by name; the language server takes half the cores unless it says otherwise", async () => {
    // That a good value reaches llama.cpp is backend.test's "uses $STEPLENS_THREADS" (npm test sets 1);
    // a doctor run with 2 here would oversubscribe the cores the other test file runs on.
    for (const cmd of [["doctor", "--gpu", "off"], ["score", "examples/shopping.md"]]) {
      const bad = await runCli(cmd, { STEPLENS_THREADS: "two" });
      assert.equal(bad.code, 1, `${cmd[0]}: ${bad.stderr}`);
      assert.match(bad.stderr, /STEPLENS_THREADS must be a positive whole number of CPU threads, got "two"/);
    }
    // The language server takes half the cores unless $STEPLENS_THREADS says otherwise.
    assert.equal(serverThreads({ STEPLENS_THREADS: "3" }), 3);
    assert.equal(serverThreads({}), Math.max(1, Math.floor(os.availableParallelism() / 2)));
    assert.equal(serverThreads({ STEPLENS_THREADS: "0" }), undefined, "left to the model load, which refuses it by name");
  });

  test("a missing model file: exit 1, the path and what to do", async () => {
    const missing = path.join(tmp, "no-such-model.gguf");
    const r = await doctor(["--model", missing]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /!! {2}model +.*no-such-model\.gguf: not found/);
    assert.match(r.stdout, /1 problem:\n {2}- model: model file not found: .*no-such-model\.gguf\. Pass --model PATH/);
    assert.doesNotMatch(r.stdout, /^(ok|!!) {2}runs/m, "nothing to load, so no run is attempted");
  });

  test("a GPU setting this machine cannot use: exit 1, why, and 'use auto or off'", async (t) => {
    const bad = await unusableGpu();
    if (!bad) return t.skip("every GPU type is usable here");
    const r = await doctor(["--model", DEMO_MODEL, "--gpu", bad.type, "--json"]);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(report.problems.length, 1, JSON.stringify(report.problems));
    assert.equal(report.problems[0]!.check, "gpu");
    assert.ok(report.problems[0]!.message.includes(bad.reason));
    assert.match(report.problems[0]!.message, /Use "auto" or "off"/);
    assert.equal(report.run?.ok, false, "loading with that setting really fails");
  });

  test("server endpoints: a live steplens serve answers a scoring, a closed port is a problem naming it", async () => {
    const serve = await startInProcess();
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const r = await doctor(["--backend", "remote", "--endpoint", serve.url, "--endpoint", dead, "--json", "--timeout", "3000"]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as DoctorReport;
      const [live, gone] = report.endpoints!;
      assert.equal(live!.reachable, true, live!.error ?? "");
      assert.equal(live!.model, path.basename(DEMO_MODEL));
      assert.ok(live!.scoreMs! > 0);
      assert.equal(gone!.reachable, false);
      assert.deepEqual(report.problems.map((p) => p.check), ["endpoint"]);
      assert.ok(report.problems[0]!.message.startsWith(dead), report.problems[0]!.message);
    } finally {
      await serve.stop();
    }
  });
});

describe("GPU settings", () => {
  test("the CPU path: gpu auto on a machine without a usable GPU says why in the backend info", async (t) => {
    const survey = await surveyGpus();
    if (survey.types.some((x) => x.usable)) return t.skip("this machine has a usable GPU");
    const b = await LlamaCppBackend.load({ modelPath: DEMO_MODEL, gpu: "auto", gpuLayers: 4, threads: 1 });
    try {
      assert.equal(b.info.device, "cpu");
      assert.match(b.info.deviceNote!, /^CPU: no usable GPU/);
      for (const x of survey.types.filter((y) => !y.reason!.includes("does not exist"))) assert.ok(b.info.deviceNote!.includes(x.reason!));
      const s = await b.openSession();
      const [score] = await s.scoreContinuations("2 + 3 =", [" 5"]);
      s.release();
      assert.ok(Number.isFinite(score!.meanLogprob));
    } finally {
      await b.dispose();
    }
  });

  test("an unusable GPU type fails to load with what is missing and what to set instead", async (t) => {
    const bad = await unusableGpu();
    if (!bad) return t.skip("every GPU type is usable here");
    await assert.rejects(LlamaCppBackend.load({ modelPath: DEMO_MODEL, gpu: bad.type, threads: 1 }), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.ok(err.message.includes(bad.reason), err.message);
      assert.match(err.message, /Use "auto" \(a GPU when one works, otherwise the CPU\) or "off" \(CPU only\)/);
      return true;
    });
  });

  test("steplens.gpuLayers: auto, a count (also as text), or a message and auto", () => {
    assert.equal(resolveSettings([]).settings.gpuLayers, "auto");
    assert.equal(resolveSettings([{ gpuLayers: "12" }]).settings.gpuLayers, 12);
    assert.equal(resolveSettings([{ gpuLayers: 0 }]).settings.gpuLayers, 0);
    const bad = resolveSettings([{ gpuLayers: "lots" }]);
    assert.equal(bad.settings.gpuLayers, "auto");
    assert.deepEqual(bad.problems, ['steplens.gpuLayers must be "auto" or a whole number of layers (0 = CPU only), got "lots"; using "auto"']);
    const a = resolveSettings([{ gpuLayers: 10 }]).settings;
    assert.notEqual(engineKey(a), engineKey({ ...a, gpuLayers: 20 }), "a new layer count reloads the model");
  });

  test("the language server with an unusable GPU setting reports it and keeps answering; gpu off then loads", async (t) => {
    const bad = await unusableGpu();
    if (!bad) return t.skip("every GPU type is usable here");
    // The client answers workspace/configuration from this object, so changing it changes the settings.
    const configuration: Record<string, unknown> = { modelPath: DEMO_MODEL, gpu: bad.type, check: { frequency: "manual", debounceMs: 50 } };
    const client = await TestClient.inProcess({ configuration });
    try {
      const status = await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "error");
      assert.ok(status.message?.includes(bad.reason), status.message ?? "");
      assert.match(status.message!, /"auto".*"off".*Change "steplens\.gpu"; StepLens tries again as soon as the setting changes\.$/);
      assert.doesNotMatch(status.message!, /modelPath/, "the model path is fine; the message does not send the user there");
      assert.equal((await client.request<ServerStatus>("steplens/status")).state, "error", "still answering requests");
      configuration.gpu = "off";
      void client.rpc.sendNotification("workspace/didChangeConfiguration", { settings: { steplens: configuration } });
      const after = await client.request<ServerStatus>("steplens/reload");
      assert.ok(after.state === "ready" || after.state === "busy", JSON.stringify(after));
      assert.equal(after.backend, "CPU");
      assert.equal(after.deviceNote, "CPU (GPU off by setting)", "the status carries why the CPU, for the status bar's tooltip");
    } finally {
      await client.close();
    }
  });
});
