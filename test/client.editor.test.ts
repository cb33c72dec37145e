// The client's vscode-free logic behind issue 12 items 2, 4, 5, 6 and 7: the after-line text of the
// first error and of stale scores, which scores the store takes, the status bar and the one message
// with buttons for a missing model, Select Model's rows for someone who installed the .vsix, and the
// Step Report's table and words. The editor itself is checked by test/e2e/editor.e2e.ts.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { DocumentScores, ServerStatus, WireSolutionScore, WireStepScore, WireVerdict } from "../protocol/index.js";
import { lineMarks, marksByBucket, scoreTextPlacement, stepBucket, stepScoreText, unbreakable } from "../client/buckets.js";
import { fallbackModel, modelPickItems, modelPickPlaceholder, type ModelFile } from "../client/modelFiles.js";
import { MACHINE_SETTINGS, OPEN_SETTINGS, ProblemNotices, SELECT_MODEL, openSettingsCommands, problemPrompt, settingsQuery, withProductName } from "../client/modelProblem.js";
import { buildReportBody } from "../client/reportHtml.js";
import { ScoreStore } from "../client/scoreStore.js";
import { statusView } from "../client/statusFormat.js";

const REPO = path.resolve(import.meta.dirname, "..");

/** wrong-step.md as the server scores it with the demo model: step 2 the first error, step 4 weak. */
function wrongStepScores(version = 1, verdicts: WireVerdict[] = ["ok", "wrong", "ok", "weak"]): DocumentScores {
  const lines = readFileSync(path.join(REPO, "examples/wrong-step.md"), "utf8").split("\n");
  const steps: WireStepScore[] = [5, 6, 7, 8].map((line, index) => ({
    index,
    range: { start: { line, character: 0 }, end: { line, character: lines[line]!.length } },
    textRange: { start: { line, character: 8 }, end: { line, character: lines[line]!.length } },
    text: lines[line]!.slice(8),
    reward: [1.35, -2.77, -0.32, -1.15][index]!,
    softLabel: [0.85, 0.02, 0.36, 0.15][index]!,
    verdict: verdicts[index]!,
    rank: index + 1,
    goldGain: 0.1,
    negativeMean: 0.2,
    terms: [{ template: "question-answer-is", goldGain: 0.1, negativeGains: [0.3, 0.1], negativeMean: 0.2, reward: -0.1 }],
    key: `k${index}`,
  }));
  const solution: WireSolutionScore = { index: 0, range: steps[0]!.range, score: 0.02, aggregation: "min", firstError: 1, finalAnswer: "20", negatives: ["20", "26"], steps };
  return { uri: "file:///w/wrong-step.md", version, problem: "Tom buys…", gold: { value: "24", source: "latex-comment" }, solutions: [solution], warnings: [], model: "arith-demo-15m-f16.gguf", backend: "CPU", threshold: 0.25 };
}

describe("after-line marks: the first error and stale scores (items 5, 6)", () => {
  test("the first error says so and is red even when only 'weak'; the weak steps after it stay yellow", () => {
    const marks = lineMarks(wrongStepScores(1, ["ok", "weak", "ok", "weak"]));
    assert.deepEqual(
      marks.map((m) => [m.line, m.bucket, m.text]),
      [
        [5, "good", "▲ 0.85"],
        [6, "wrong", "▼ 0.02 first error"],
        [7, "good", "▲ 0.36"],
        [8, "weak", "▼ 0.15"],
      ],
    );
  });

  test("stale scores are dimmed and say so; an ignored first error is not called one", () => {
    const scores = wrongStepScores();
    const sol = scores.solutions[0]!;
    sol.steps[2]!.stale = true;
    sol.steps[3]!.stale = true;
    sol.steps = sol.steps.filter((s) => s.index !== 1);
    sol.firstError = -1;
    assert.deepEqual(
      lineMarks(scores).map((m) => [m.line, m.bucket, m.text]),
      [
        [5, "good", "▲ 0.85"],
        [7, "stale", "▲ 0.36 (stale)"],
        [8, "stale", "▼ 0.15 (stale)"],
      ],
    );
    assert.deepEqual(marksByBucket(lineMarks(scores)).stale.length, 2);
    assert.equal(stepScoreText({ verdict: "wrong", softLabel: 0.02, reward: -2, ignored: true }, false), "▼ 0.02 (ignored)");
    assert.equal(stepBucket({ verdict: "wrong", ignored: true }, false), "notScored");
  });
});

describe("scores on wrapped lines (item 7)", () => {
  test("where the editor wraps lines the score is an inlay hint (decoration text cannot wrap); elsewhere coloured text", () => {
    assert.equal(scoreTextPlacement("on", "on"), "hint", "Markdown wraps by default");
    assert.equal(scoreTextPlacement("bounded", undefined), "hint");
    assert.equal(scoreTextPlacement("off", "on"), "after");
    assert.equal(scoreTextPlacement("on", "off"), "after", "inlay hints turned off: decoration text");
  });

  test("a hint's score has no break opportunity: it wraps to the next line whole", () => {
    const hint = unbreakable("▼ 0.02 first error");
    assert.doesNotMatch(hint, /[ .]/);
    assert.equal(hint.replace(/\u00a0/g, " ").replace(/\u2024/g, "."), "▼ 0.02 first error");
  });
});

describe("score store (item 6)", () => {
  test("takes scores for a version the document has since left when they are newer than what it holds", () => {
    const store = new ScoreStore();
    assert.equal(store.accept(wrongStepScores(3), 3), true);
    // The server sends the stale view of v4 once; typing on to v5 before it arrives must not drop it.
    assert.equal(store.accept(wrongStepScores(4), 5), true);
    assert.equal(store.get("file:///w/wrong-step.md")?.version, 4);
    assert.equal(store.accept(wrongStepScores(2), 5), false, "older than held");
    assert.equal(store.accept(wrongStepScores(6), 5), false, "newer than the document cannot be");
  });
});

describe("a missing model: one message with buttons, the status bar in error (item 2)", () => {
  const missing: ServerStatus = {
    state: "error",
    busy: 0,
    modelPath: "/m/x.gguf",
    message: 'StepLens cannot find its model: no file at /m/x.gguf. Set "steplens.modelPath" to a GGUF model file (a model in llama.cpp\'s format); StepLens loads it as soon as the setting changes.',
    problem: { setting: "steplens.modelPath", summary: "model file not found (x.gguf)" },
  };

  test("the prompt offers Select Model… and Open Settings on exactly that setting", () => {
    const prompt = problemPrompt(missing)!;
    assert.deepEqual(prompt.actions, [SELECT_MODEL, OPEN_SETTINGS]);
    assert.equal(prompt.message, missing.message);
    assert.equal(settingsQuery(prompt.setting), "@id:steplens.modelPath");
    // In code-server (a remote window) a machine setting is on the Remote tab, not the User tab.
    assert.deepEqual(openSettingsCommands(prompt.setting, "127.0.0.1:8080").map((c) => c.command), ["workbench.action.openSettings", "workbench.action.openRemoteSettings"]);
    assert.deepEqual(openSettingsCommands(prompt.setting, undefined), [{ command: "workbench.action.openSettings", query: "@id:steplens.modelPath" }]);
    assert.deepEqual(openSettingsCommands("steplens.gpu", "r").map((c) => c.command), ["workbench.action.openSettings"]);
    const manifest = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { contributes: { configuration: { properties: Record<string, { scope?: string }> } } };
    const machine = Object.entries(manifest.contributes.configuration.properties).filter(([, v]) => v.scope === "machine-overridable" || v.scope === "machine").map(([k]) => k);
    assert.deepEqual([...MACHINE_SETTINGS].sort(), machine.sort());
    assert.deepEqual(problemPrompt({ ...missing, problem: { setting: "steplens.gpu", summary: "GPU" } })!.actions, [OPEN_SETTINGS]);
    assert.equal(problemPrompt({ state: "ready", busy: 0 }), undefined);
  });

  test("shown once per problem; the server's own toast of it is not shown again; a new problem shows", () => {
    const notices = new ProblemNotices();
    assert.ok(notices.next(missing));
    assert.equal(notices.next({ ...missing, busy: 0 }), undefined, "the same problem again");
    assert.equal(notices.covers(missing.message!, missing), true);
    assert.equal(notices.covers("StepLens settings: something else", missing), false);
    assert.ok(notices.next({ ...missing, message: "StepLens cannot find its model: no file at /m/y.gguf." }), "another missing path");
    notices.next({ state: "ready", busy: 0 });
    assert.ok(notices.next(missing), "back after the model loaded meanwhile");
  });

  test("the status bar: an error background, the problem in words, and a click that opens the same choices", () => {
    const view = statusView(missing);
    assert.equal(view.text, "$(error) StepLens: model file not found (x.gguf)");
    assert.equal(view.severe, true);
    assert.equal(view.click, "showProblem");
    assert.match(view.tooltip, /no file at \/m\/x\.gguf/);
  });

  test("errors are said once: no 'StepLens: StepLens'", () => {
    assert.equal(withProductName("StepLens cannot find its model"), "StepLens cannot find its model");
    assert.equal(withProductName("the server stopped"), "StepLens: the server stopped");
  });
});

describe("Select Model and the model setting speak to someone who installed the .vsix (item 2)", () => {
  const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as {
    contributes: { configuration: { properties: Record<string, { markdownDescription?: string }> }; commands: Array<{ command: string }>; menus: Record<string, Array<{ command: string; when?: string }>> };
  };

  test("no development checkout in the setting's description or the picker; both say how to get a model", () => {
    const description = pkg.contributes.configuration.properties["steplens.modelPath"]!.markdownDescription!;
    assert.doesNotMatch(description, /checkout|\.\.\/shared|demo model/i);
    assert.match(description, /GGUF/);
    assert.match(description, /Download/);
    const none = modelPickItems([], "", undefined);
    const words = JSON.stringify(none) + modelPickPlaceholder([]);
    assert.doesNotMatch(words, /checkout|shared|demo/i);
    assert.match(modelPickPlaceholder([]), /download a GGUF model file/);
    assert.deepEqual(none.map((i) => i.action), ["separator", "download", "browse"], "nothing to clear to when no model would be found");
  });

  test("Clear is offered only when a model would still be found, and names it", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "steplens-models-"));
    const file = path.join(dir, "m.gguf");
    writeFileSync(file, "GGUF");
    assert.equal(fallbackModel("/nowhere/ext", { STEPLENS_MODEL: file }), file);
    assert.equal(fallbackModel("/nowhere/ext", {}), undefined);
    const found: ModelFile[] = [{ path: file, bytes: 4, source: "workspace" }];
    const items = modelPickItems(found, "/old.gguf", file);
    assert.deepEqual(items.map((i) => i.action), ["separator", "file", "separator", "download", "browse", "clear"]);
    assert.match(items.at(-1)!.description!, /use m\.gguf/);
    assert.equal(modelPickItems(found, "", file).some((i) => i.action === "clear"), false, "nothing set, nothing to clear");
  });

  test("Show Model Problem is contributed, and in the palette only while there is a problem", () => {
    assert.ok(pkg.contributes.commands.some((c) => c.command === "steplens.showProblem"));
    assert.deepEqual(pkg.contributes.menus.commandPalette, [{ command: "steplens.showProblem", when: "steplens.hasProblem" }]);
  });
});

describe("Step Report (item 7)", () => {
  test("five columns (the terms folded per step), words for people, the threshold for the chart", () => {
    const body = buildReportBody("wrong-step.md", wrongStepScores(7));
    const header = /<table class="steps">\s*<thead><tr>(.*?)<\/tr><\/thead>/s.exec(body)![1]!;
    assert.deepEqual([...header.matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]), ["#", "Step", "Verdict", "Soft label", "Reward"]);
    assert.equal([...body.matchAll(/<details class="terms">/g)].length, 4, "each step's per-template terms, folded");
    assert.doesNotMatch(body, /latex-comment|front-matter|version \d/);
    assert.match(body, /gold answer <strong>24<\/strong> \(LaTeX comment % answer:\)/);
    assert.match(body, /data-threshold="0.25"/);
    assert.match(body, /likely wrong/);
  });
});
