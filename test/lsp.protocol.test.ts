// The language server as any LSP client meets it (issue 12 items 1, 9–13; issue 10 item 8): what it
// answers before `initialize`, to unknown commands, to malformed params and broken framing; the
// commands behind its lenses that it executes itself; plain-text hovers; settings a user clears or
// sets per folder; no wasted first check; the file in view checked first; a prompt shutdown.
// The real server (in process, or `dist/cli.mjs lsp --stdio`), the real demo model.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CodeAction, CodeLens, Hover, MarkupContent, PublishDiagnosticsParams } from "vscode-languageserver/node";
import { PickBestOfNCommand, ScoreFileCommand, SelectModelCommand, ShowProblemCommand, ShowStepReportCommand, type BestOfNResult, type DocumentScores, type ServerStatus } from "../protocol/index.js";
import { CLI, DEMO_MODEL, REPO } from "./helpers.js";
import { fileUri, TestClient, type ConfigurationItem } from "./lsp-client.js";

const WRONG = path.join(REPO, "examples/wrong-step.md");
const CANDIDATES = path.join(REPO, "examples/candidates.md");
const wrongText = readFileSync(WRONG, "utf8");
const candidatesText = readFileSync(CANDIDATES, "utf8");
const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-lsp-protocol-"));
const INVALID_PARAMS = -32602;
const SERVER_NOT_INITIALIZED = -32002;

const scoresFor = (uri: string, version = 1) => (p: DocumentScores) => p.uri === uri && p.version === version && p.solutions.length > 0;
/** The same solution about a different bill: nothing of it is in the scorer's content cache. */
const variant = (k: number): string => wrongText.replaceAll("$50 bill", `$${50 + k} bill`).replace("50 - 30 = 20", `${50 + k} - 30 = ${20 + k}`);
const progressBegins = (client: TestClient, name: string): number =>
  client.notifications<{ value: { kind: string; message?: string } }>("$/progress", (p) => p.value.kind === "begin" && p.value.message === `Scoring ${name}`).length;

async function rejectsWith(p: Promise<unknown>, code: number, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: { code?: number; message?: string }) => {
    assert.equal(err.code, code, `error code of ${err.message}`);
    if (message) assert.match(err.message ?? "", message);
    return true;
  });
}

/** `steplens lsp --stdio` as a child; `exited` resolves with its exit code. */
function spawnServer(): { child: ChildProcessWithoutNullStreams; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, "lsp", "--stdio"], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, STEPLENS_TOKEN: "" } });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { child, exited, stderr: () => stderr };
}

describe("before initialize (issue 12 item 11)", () => {
  test("requests get ServerNotInitialized (-32002), notifications are dropped", async () => {
    const client = await TestClient.inProcess({ uninitialized: true });
    const uri = fileUri(WRONG);
    client.open(uri, wrongText);
    await rejectsWith(client.request("textDocument/hover", { textDocument: { uri }, position: { line: 5, character: 10 } }), SERVER_NOT_INITIALIZED);
    await rejectsWith(client.request("steplens/status"), SERVER_NOT_INITIALIZED);
    await rejectsWith(client.request("textDocument/codeLens", { textDocument: { uri } }), SERVER_NOT_INITIALIZED);
    await rejectsWith(client.request("steplens/no-such-method"), SERVER_NOT_INITIALIZED);
    client.rpc.dispose();
  });
});

describe("framing errors on stdio (issue 10 item 8)", () => {
  const cases: [string, Buffer][] = [
    ["a Content-Length that is not a number", Buffer.from('Content-Length: abc\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"steplens/status"}')],
    ["a header without Content-Length", Buffer.from('Content-Type: application/json\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"steplens/status"}')],
    ["random bytes before a message", Buffer.concat([Buffer.from([0x9f, 0x00, 0xff, 0x13, 0x37, 0x0a, 0xc3]), Buffer.from('Content-Length: 2\r\n\r\n{}')])],
  ];
  for (const [what, bytes] of cases) {
    test(`${what}: the server says so on stderr and exits with 1 (the client restarts it)`, async (t) => {
      const server = spawnServer();
      t.after(() => {
        if (server.child.exitCode == null) server.child.kill();
      });
      server.child.stdin.write(bytes);
      // A server that stays alive after broken framing never exits: the limit turns that into a failure.
      const limit = new Promise<string>((resolve) => setTimeout(() => resolve("still running"), 20_000).unref());
      const code = await Promise.race([server.exited, limit]);
      assert.equal(code, 1, `exit code; stderr: ${server.stderr()}`);
      assert.match(server.stderr(), /StepLens: the LSP message stream is broken \(.+\); exiting so that the editor restarts the server/);
    });
  }
});

describe("language server over its protocol, demo model", () => {
  let client: TestClient;
  const wrongUri = fileUri(WRONG);
  const candUri = fileUri(CANDIDATES);

  before(async () => {
    client = await TestClient.inProcess({ configuration: { modelPath: DEMO_MODEL, gpu: "off", check: { frequency: "edit", debounceMs: 50 } }, hoverFormats: ["plaintext"] });
  });
  after(async () => {
    await client.close();
  });

  test("a file opened before the model loads is checked once: no check that begins and publishes nothing (item 10)", async () => {
    // Opened right after `initialized`, while the server still waits for its settings.
    const uri = fileUri(path.join(tmp, "early.md"));
    client.open(uri, variant(1));
    await client.waitFor<DocumentScores>("steplens/scores", scoresFor(uri));
    assert.equal(progressBegins(client, "early.md"), 1, "one check, the one that published");
  });

  test("an unknown workspace/executeCommand is an error, not null (item 11)", async () => {
    await rejectsWith(client.request("workspace/executeCommand", { command: "steplens.noSuchCommand", arguments: [] }), INVALID_PARAMS, /steplens\.noSuchCommand/);
  });

  test("a client that reads only plain text gets its hover in plain text (item 11)", async () => {
    client.open(wrongUri, wrongText);
    const scores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(wrongUri));
    const step = scores.solutions[0]!.steps[1]!;
    const hover = await client.request<Hover | null>("textDocument/hover", { textDocument: { uri: wrongUri }, position: { line: step.textRange.start.line, character: step.textRange.start.character + 5 } });
    assert.ok(hover, "a hover on step 2");
    const content = hover.contents as MarkupContent;
    assert.equal(content.kind, "plaintext");
    assert.doesNotMatch(content.value, /\*\*|\|\s*-{3}|`/, "no Markdown syntax");
    assert.match(content.value, /StepLens · step 2/);
    assert.match(content.value, /template\s+gold 24/);
    assert.match(content.value, /Reward −?\d+\.\d\d · soft label \d\.\d\d/);
  });

  test("malformed params are InvalidParams naming the field; nothing is published to a bad URI (issue 10 item 8)", async () => {
    await rejectsWith(client.request("steplens/clearScores", { uri: 42 }), INVALID_PARAMS, /uri/);
    await rejectsWith(client.request("steplens/bestOfN", { uris: wrongUri }), INVALID_PARAMS, /uris/);
    await rejectsWith(client.request("steplens/bestOfN", null), INVALID_PARAMS);
    await rejectsWith(client.request("steplens/scoreDocument", null), INVALID_PARAMS);
    await rejectsWith(client.request("steplens/scoreDocument", { uri: ["a"] }), INVALID_PARAMS, /uri/);
    await rejectsWith(client.request("steplens/labelDataset", null), INVALID_PARAMS);
    await rejectsWith(client.request("steplens/labelDataset", { input: 1, output: "x.jsonl" }), INVALID_PARAMS, /input/);
    await rejectsWith(client.request("workspace/executeCommand", { command: "steplens.ignoreStep", arguments: [null] }), INVALID_PARAMS);
    assert.equal(client.notifications<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => typeof p.uri !== "string").length, 0);
    // Ignoring steps of documents that are not open keeps nothing: clearing everything afterwards
    // publishes to none of them.
    const junk = Array.from({ length: 200 }, (_, i) => `file:///not-open/${i}.md`);
    for (const uri of junk) {
      await rejectsWith(client.request("workspace/executeCommand", { command: "steplens.ignoreStep", arguments: [{ uri, solutionIndex: 0, stepIndex: 0, stepKey: `k${uri}` }] }), INVALID_PARAMS, /not open/);
    }
    await client.request("steplens/clearScores", {});
    assert.equal(client.notifications<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => p.uri.startsWith("file:///not-open/")).length, 0);
  });

  test("the server executes the commands its lenses and code actions name, for editors without the extension (item 12)", async () => {
    const offered = client.initializeResult!.capabilities.executeCommandProvider!.commands;
    client.open(candUri, candidatesText);
    await client.waitFor<DocumentScores>("steplens/scores", scoresFor(candUri));
    // clearScores above dropped wrong-step.md's scores: score it again through the lens command.
    const rescored = await client.request<DocumentScores>("workspace/executeCommand", { command: ScoreFileCommand, arguments: [wrongUri] });
    assert.equal(rescored.uri, wrongUri);
    assert.equal(rescored.solutions[0]!.steps.length, 4);
    const lenses = [
      ...(await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri: wrongUri } })),
      ...(await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri: candUri } })),
    ];
    const published = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => p.uri === wrongUri && p.diagnostics.some((d) => d.source === "StepLens" && d.data != null));
    const diag = published.diagnostics.find((d) => d.data != null)!;
    const actions = await client.request<CodeAction[]>("textDocument/codeAction", { textDocument: { uri: wrongUri }, range: diag.range, context: { diagnostics: [diag] } });
    const named = [...lenses.map((l) => l.command!.command), ...actions.map((a) => a.command!.command)];
    for (const command of [ScoreFileCommand, PickBestOfNCommand, ShowStepReportCommand]) assert.ok(named.includes(command), `${command} is named`);
    for (const command of named) assert.ok(offered.includes(command), `${command} is in executeCommandProvider.commands (${offered.join(", ")})`);

    // "Explain this step": the explanation comes as a message any client shows.
    const explain = actions.find((a) => a.title === "Explain this step")!;
    await client.request("workspace/executeCommand", explain.command);
    const shown = await client.waitFor<{ type: number; message: string }>("window/showMessage", (m) => /StepLens · step 2/.test(m.message));
    assert.match(shown.message, /Reward −?\d+\.\d\d · soft label \d\.\d\d/);
    // "Pick best of 3": the ranking as a message, the full result as the command's answer.
    const pick = lenses.find((l) => l.command?.command === PickBestOfNCommand)!;
    const best = await client.request<BestOfNResult>("workspace/executeCommand", pick.command);
    assert.equal(best.candidates.length, 3);
    assert.equal(best.candidates[best.best]!.finalAnswer, "54");
    const ranking = await client.waitFor<{ type: number; message: string }>("window/showMessage", (m) => /^StepLens: best of 3/.test(m.message));
    assert.ok(ranking.message.includes(best.candidates[best.best]!.title), ranking.message);
  });

  test("a code lens asked for the file in view is answered before checks queued for other files (item 13)", async () => {
    await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "ready");
    const others = [2, 3, 4, 5].map((k) => ({ uri: fileUri(path.join(tmp, `background-${k}.md`)), text: variant(k) }));
    for (const o of others) client.open(o.uri, o.text);
    const visible = fileUri(path.join(tmp, "visible.md"));
    client.open(visible, variant(6));
    // The lens answers at once (item 6: it never waits for the check); asking for it puts the file first.
    const lenses = await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri: visible } });
    assert.deepEqual(lenses.map((l) => l.command?.title), ["StepLens: scoring…"]);
    await client.waitFor<DocumentScores>("steplens/scores", scoresFor(visible));
    const scored = await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri: visible } });
    assert.ok(scored.some((l) => l.command?.title.startsWith("StepLens: score ")), JSON.stringify(scored.map((l) => l.command?.title)));
    for (const o of others) await client.waitFor<DocumentScores>("steplens/scores", scoresFor(o.uri));
    const order = client.log.filter((e) => e.method === "steplens/scores").map((e) => (e.params as DocumentScores).uri);
    const at = (uri: string): number => order.indexOf(uri);
    // The first file may already be running when the lens request arrives; the others wait.
    for (const o of others.slice(1)) assert.ok(at(visible) < at(o.uri), `visible.md scored before ${path.basename(o.uri)}: ${order.map((u) => path.basename(u)).join(", ")}`);
  });

  test("a background check already running stops for the file in view, and runs again right after it (item 13)", async () => {
    await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "ready");
    // A long solution in the background: 24 steps (as many as the demo model's context holds), seconds to check.
    const steps = Array.from({ length: 24 }, (_, i) => `Step ${i + 1}: ${i + 3} + ${i + 4} = ${2 * i + 7}.`);
    const long = { uri: fileUri(path.join(tmp, "background-long.md")), text: `---\nanswer: 29\n---\nQuestion: What is 14 + 15?\nAnswer: Let's think step by step.\n${steps.join("\n")}\nThe answer is 29.\n` };
    client.open(long.uri, long.text);
    // Its check is running: it began.
    type Progress = { token: string | number; value: { kind: string; message?: string } };
    const begun = await client.waitFor<Progress>("$/progress", (p) => p.value.kind === "begin" && p.value.message === "Scoring background-long.md");
    const visible = fileUri(path.join(tmp, "in-view.md"));
    client.open(visible, variant(7));
    await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri: visible } });
    const ended = client.notifications<Progress>("$/progress", (p) => p.token === begun.token && p.value.kind === "end");
    assert.equal(ended.length, 0, "the background check was still running when the lens was asked for (else this test proves nothing)");
    await client.waitFor<DocumentScores>("steplens/scores", scoresFor(visible));
    const longScores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(long.uri));
    const order = client.log.filter((e) => e.method === "steplens/scores").map((e) => (e.params as DocumentScores).uri);
    assert.ok(order.indexOf(visible) < order.indexOf(long.uri), `in-view.md scored before background-long.md: ${order.map((u) => path.basename(u)).join(", ")}`);
    // The background file was checked twice (stopped, then again), and its scores are complete.
    assert.equal(progressBegins(client, "background-long.md"), 2);
    assert.equal(longScores.solutions[0]!.steps.length, 24);
    assert.ok(longScores.solutions[0]!.steps.every((st) => st.softLabel != null && Number.isFinite(st.softLabel)), JSON.stringify(longScores.solutions[0]!.steps.map((st) => [st.softLabel, st.verdict])));
  });
});

describe("commands a client implements itself (item 12)", () => {
  test("with initializationOptions.clientCommands the server names them and leaves them to the client", async () => {
    const client = await TestClient.inProcess({ initializationOptions: { modelPath: path.join(tmp, "none.gguf"), clientCommands: [ScoreFileCommand, PickBestOfNCommand, ShowStepReportCommand, ShowProblemCommand, SelectModelCommand] } });
    try {
      const offered = client.initializeResult!.capabilities.executeCommandProvider!.commands;
      assert.deepEqual(offered, ["steplens.ignoreStep"]);
    } finally {
      await client.close();
    }
  });
});

describe("settings a user changes (item 1)", () => {
  test("a cleared modelPath takes effect at once; goldAnswer is read per document, so folder settings apply", async () => {
    const missing = path.join(tmp, "missing-model.gguf");
    const folderA = path.join(tmp, "folder-a");
    mkdirSync(folderA, { recursive: true });
    const inA = fileUri(path.join(folderA, "no-gold.md"));
    const settings: Record<string, unknown> = { modelPath: missing, gpu: "off", check: { frequency: "edit", debounceMs: 50 } };
    let goldInA = "25";
    const configuration = (item: ConfigurationItem): unknown => ({ ...settings, goldAnswer: item.scopeUri?.startsWith(fileUri(folderA)) ? goldInA : "" });
    // The VS Code client of 0.1 also sent its settings at start as initialization options.
    const client = await TestClient.inProcess({ configuration, initializationOptions: { settings: { modelPath: missing, goldAnswer: "25" } } });
    try {
      const error = await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "error");
      assert.ok(error.message?.includes(missing));
      // The user removes the setting: VS Code now answers "" for it.
      settings.modelPath = "";
      void client.rpc.sendNotification("workspace/didChangeConfiguration", { settings: null });
      const ready = await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "ready");
      assert.equal(ready.model, path.basename(DEMO_MODEL), "the default model, not the missing file from the start");

      const text = wrongText.replace(/^---\nanswer: 24\n---\n/, "");
      client.open(inA, text);
      const scored = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(inA));
      assert.deepEqual(scored.gold, { value: "25", source: "setting" }, "folder A's goldAnswer");
      assert.ok(client.configurationRequests.some((i) => i.scopeUri === inA), "settings asked for the document's scope");
      // The user clears folder A's goldAnswer: the next check uses the model's own fallback.
      goldInA = "";
      void client.rpc.sendNotification("workspace/didChangeConfiguration", { settings: null });
      const rescored = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === inA && p.solutions.length > 0 && p.gold?.source !== "setting");
      assert.notEqual(rescored.gold?.source, "setting");
    } finally {
      await client.close();
    }
  });
});

describe("shutdown during the model load (item 9)", () => {
  test("is answered before the load finishes, and the server exits with 0", async (t) => {
    const server = spawnServer();
    t.after(() => {
      if (server.child.exitCode == null) server.child.kill();
    });
    const client = await TestClient.onStreams(server.child.stdout, server.child.stdin, { initializationOptions: { modelPath: DEMO_MODEL, settings: { gpu: "off" } } });
    await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "loading");
    const asked = performance.now();
    await client.request("shutdown");
    const answeredMs = performance.now() - asked;
    const readyBefore = client.notifications<ServerStatus>("steplens/status", (s) => s.state === "ready").length;
    t.diagnostic(`shutdown answered after ${answeredMs.toFixed(0)} ms`);
    assert.equal(readyBefore, 0, "shutdown was answered only after the model had loaded");
    void client.rpc.sendNotification("exit");
    assert.equal(await server.exited, 0, server.stderr());
    client.rpc.dispose();
  });
});
