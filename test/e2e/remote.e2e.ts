// StepLens in code-server scoring through a model server: a real `steplens serve` (the demo model,
// a bearer token) on 127.0.0.1, the workspace set to `steplens.backend: remote`, and the token typed
// into "StepLens: Set Remote Token" as a user would. Without the token the status bar says
// unauthorized; with it the scores after each step equal the local model's (computed here by the
// real language server on the same file); a server that dies leaves them on screen, and the status
// recovers by itself when it comes back.
//
// Run: npm run test:e2e (packages the vsix first). Screenshots: test-output/e2e-remote/*.png.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { DocumentScores } from "../../protocol/index.js";
import { lineMarks } from "../../client/buckets.js";
import { DEMO_MODEL, REPO } from "../helpers.js";
import { fileUri, TestClient } from "../lsp-client.js";
import { startChild } from "../serveHelpers.js";
import { ensureTools } from "./tools.js";
import { makeSandbox, openWorkbench, type RunningCodeServer, type Sandbox } from "./codeServer.js";
import { SCORING_TIMEOUT, Screenshots, afterLineMarks, codeLensTitles, openFile, quickInput, runCommand, stepLensStatus, until, UI_TIMEOUT } from "./workbench.js";

const OUT = path.join(REPO, "test-output", "e2e-remote");
const manifest = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { name: string; publisher: string; version: string };
const VSIX = path.join(REPO, "out", "vsix", `${manifest.name}-${process.platform}-${process.arch}-${manifest.version}.vsix`);
const TOKEN = "e2e-remote-token-4f1c2a9b";
const WRONG_STEP = "The mugs cost 2 * 7 = 18 dollars.";

let sandbox: Sandbox;
let codeServer: RunningCodeServer | undefined;
let browser: Browser | undefined;
let page: Page;
let serve: { url: string; child: ChildProcess } | undefined;
let port = 0;
/** The after-line texts the local model gives wrong-step.md, top to bottom. */
let expectedMarks: string[] = [];
const shots = new Screenshots(() => page, OUT);
const step = (name: string, fn: () => Promise<void>): (() => Promise<void>) => shots.step(name, fn);
const screenshot = (name: string): Promise<string | undefined> => shots.take(name);

async function startServe(atPort: number): Promise<{ url: string; child: ChildProcess }> {
  const { url, child } = await startChild(["--host", "127.0.0.1", "--port", String(atPort), "--token", TOKEN, "--quiet"]);
  return { url, child };
}

async function stopServe(): Promise<void> {
  const s = serve;
  serve = undefined;
  if (!s || s.child.exitCode != null) return;
  const gone = new Promise<void>((resolve) => s.child.once("exit", () => resolve()));
  s.child.kill("SIGKILL");
  await gone;
}

async function statusText(what: string, re: RegExp, timeout = SCORING_TIMEOUT): Promise<{ text: string; label: string }> {
  return await until(what, async () => {
    const s = await stepLensStatus(page);
    return s && re.test(s.text) ? s : undefined;
  }, timeout);
}

describe("StepLens in code-server through steplens serve", { timeout: 10 * 60_000 }, () => {
  before(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const tools = ensureTools();
    assert.ok(existsSync(VSIX), `${VSIX} is missing: run npm run package (npm run test:e2e does)`);

    // What the local model shows on the same file, through the real language server.
    const local = await TestClient.inProcess({ configuration: { modelPath: DEMO_MODEL, gpu: "off" } });
    try {
      const file = path.join(REPO, "examples/wrong-step.md");
      local.open(fileUri(file), readFileSync(file, "utf8"));
      const scores = await local.waitFor<DocumentScores>("steplens/scores", (s) => s.solutions.length > 0);
      expectedMarks = lineMarks(scores).sort((a, b) => a.line - b.line).map((m) => m.text);
    } finally {
      await local.close();
    }

    serve = await startServe(0);
    port = Number(new URL(serve.url).port);
    sandbox = makeSandbox(REPO, DEMO_MODEL);
    writeFileSync(
      path.join(sandbox.workspace, ".vscode", "settings.json"),
      JSON.stringify({ "steplens.backend": "remote", "steplens.remote.url": serve.url, "steplens.gpu": "off" }, null, 2),
    );
    ({ server: codeServer, browser, page } = await openWorkbench(tools, sandbox, VSIX, path.join(OUT, "code-server.log"), "wrong-step.md"));
  });

  after(async () => {
    if (shots.failed && sandbox) cpSync(path.join(sandbox.userData, "logs"), path.join(OUT, "logs"), { recursive: true, force: true });
    await browser?.close().catch(() => undefined);
    await codeServer?.stop();
    await stopServe();
    if (sandbox && !shots.failed) rmSync(sandbox.root, { recursive: true, force: true });
  });

  test(
    "without a token the status bar says the server is unauthorized and names it",
    step("remote unauthorized", async () => {
      await openFile(page, "wrong-step.md");
      const status = await statusText("the status bar to say unauthorized", /StepLens: remote unauthorized/);
      // The tooltip (the item's accessible label) names the server and the command that fixes it.
      assert.ok(status.label.includes(serve!.url), JSON.stringify(status));
      assert.match(status.label, /Set Remote Token/);
      assert.deepEqual(await afterLineMarks(page), [], "nothing is scored without the token");
    }),
  );

  test(
    "StepLens: Set Remote Token (a password box) connects; the scores equal the local model's",
    step("token set scores shown", async () => {
      await runCommand(page, "StepLens: Set Remote Token");
      const box = page.locator(".quick-input-widget input[type='password']");
      await box.waitFor({ state: "visible", timeout: UI_TIMEOUT });
      await page.keyboard.type(TOKEN);
      await page.keyboard.press("Enter");
      await quickInput(page).waitFor({ state: "hidden", timeout: UI_TIMEOUT });
      await statusText("the status bar to name the remote model", /StepLens: remote · arith-demo-15m/);
      const marks = await until("every step's score", async () => {
        const m = await afterLineMarks(page);
        return m.length >= expectedMarks.length ? m : undefined;
      }, SCORING_TIMEOUT);
      assert.deepEqual(marks.map((m) => m.mark), expectedMarks);
      assert.match(marks.find((m) => m.line.includes(WRONG_STEP))?.mark ?? "", /^▼/);
      // The lens follows the marks: it said the server refused the token, now it names the score.
      await until("the lens to name the score", async () => (await codeLensTitles(page)).some((t) => t.startsWith("StepLens: score ")));
      // The token went to secret storage, not to a settings file.
      for (const file of [path.join(sandbox.workspace, ".vscode", "settings.json"), path.join(sandbox.userData, "User", "settings.json")]) {
        assert.ok(!readFileSync(file, "utf8").includes(TOKEN), `${file} holds no token`);
      }
    }),
  );

  test(
    "the server dies: the scores stay (marked stale by the edit), the status says unreachable; it comes back and the status recovers by itself",
    step("remote unreachable then recovered", async () => {
      await stopServe();
      // An edit to the question: every prefix is new, so the check needs the (dead) server.
      await page.locator(".editor-instance .monaco-editor .view-lines .view-line", { hasText: "Question:" }).first().click();
      await page.keyboard.press("End");
      await page.keyboard.type(" Be quick.");
      await statusText("the status bar to say unreachable", /StepLens: remote unreachable/);
      // The lens says what the marks say: these numbers are the older text's.
      await until("the lens to say the scores are stale", async () => (await codeLensTitles(page)).some((t) => /^StepLens: (edited since it was scored|rescoring after your edit)/.test(t)));
      await screenshot("unreachable");
      // The edit changed the question: every score on screen is the older text's, and says so.
      const stale = expectedMarks.map((m) => `${m.replace(/ first error$/, "")} (stale)`);
      assert.deepEqual((await afterLineMarks(page)).map((m) => m.mark), stale, "the scores on screen stay, marked stale");
      serve = await startServe(port);
      await statusText("the status bar to recover", /StepLens: remote · arith-demo-15m/, 90_000);
      // The edited file is checked again once the server is back; its step 2 is still wrong.
      // Fresh marks, not the stale ones of before (those have the same count: waiting on the count
      // alone let the screenshot catch the stale marks beside the fresh squiggles).
      const marks = await until("scores after the recovery", async () => {
        const m = await afterLineMarks(page);
        return m.length === expectedMarks.length && m.every((x) => !x.mark.endsWith("(stale)")) ? m : undefined;
      });
      assert.match(marks.find((m) => m.line.includes(WRONG_STEP))?.mark ?? "", /^▼ 0\.\d\d first error$/);
      await until("the lens to name the fresh score", async () => (await codeLensTitles(page)).some((t) => t.startsWith("StepLens: score ")));
    }),
  );
});
