// What the editor shows, decided in the language server (issue 12 items 2, 4, 5, 6): the first error
// stands out and names the solution's own wrong answer, "Ignore this step" moves the lens on, an edit
// marks the old scores stale at once (lens and marks from the same state), and a missing model makes
// the lenses say what is wrong. The real server and the real demo model; every wait ends on a
// message from the server.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DiagnosticSeverity, type CodeLens, type Diagnostic, type PublishDiagnosticsParams } from "vscode-languageserver/node";
import {
  PickBestOfNCommand,
  ScoreFileCommand,
  SelectModelCommand,
  ShowProblemCommand,
  ShowStepReportCommand,
  type DocumentScores,
  type ServerStatus,
  type WireSolutionScore,
  type WireStepScore,
} from "../protocol/index.js";
import { BackendError } from "../server/engine/backend/types.js";
import { defaultModelPath } from "../server/engine/backend/modelPath.js";
import { parseDocument } from "../server/engine/parse/index.js";
import { buildDiagnostics, reasonOf } from "../server/lsp/diagnostics.js";
import { loadFailure } from "../server/lsp/engineHost.js";
import { codeLenses } from "../server/lsp/lenses.js";
import { staleView, viewSignature } from "../server/lsp/staleScores.js";
import { stepKey } from "../server/lsp/wire.js";
import { DEMO_MODEL, REPO } from "./helpers.js";
import { fileUri, TestClient } from "./lsp-client.js";

/** A diagnostic's message as text (LSP 3.18 allows MarkupContent there). */
function messageText(d: Diagnostic): string {
  return typeof d.message === "string" ? d.message : d.message.value;
}

const WRONG = path.join(REPO, "examples/wrong-step.md");
const wrongText = readFileSync(WRONG, "utf8");
const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-lsp-editor-"));
const WRONG_STEP = "The mugs cost 2 * 7 = 18 dollars.";

const scoresFor = (uri: string, version: number) => (p: DocumentScores) => p.uri === uri && p.version === version && p.solutions.length > 0;
const titles = (lenses: CodeLens[]): string[] => lenses.map((l) => l.command?.title ?? "");

/** A step as the server sends it, for the unit checks of the message and severity rules. */
function step(index: number, verdict: WireStepScore["verdict"], softLabel: number, negativeGains: number[], goldGain: number): WireStepScore {
  const line = 5 + index;
  return {
    index,
    range: { start: { line, character: 0 }, end: { line, character: 30 } },
    textRange: { start: { line, character: 8 }, end: { line, character: 30 } },
    text: `step ${index + 1}`,
    reward: goldGain - negativeGains.reduce((a, b) => a + b, 0) / negativeGains.length,
    softLabel,
    verdict,
    rank: index + 1,
    goldGain,
    negativeMean: 0,
    terms: [{ template: "answer-is", goldGain, negativeGains, negativeMean: 0, reward: 0 }],
    key: `k${index}`,
  };
}

function scoresOf(solution: WireSolutionScore): DocumentScores {
  return { uri: "file:///w/s.md", version: 1, problem: "p", gold: { value: "24", source: "front-matter" }, solutions: [solution], warnings: [], model: "m.gguf", backend: "CPU", threshold: 0.25 };
}

describe("diagnostics: the first error stands out (issue 12 item 5)", () => {
  test("the first error is an Error that says so even when its verdict is only 'weak'; the flagged steps after it are Warnings", () => {
    // soft 0.1 is "weak" (above a quarter of the threshold): before, every weak step was a yellow Warning.
    const steps = [step(0, "ok", 0.8, [0.1], 0.5), step(1, "weak", 0.1, [0.9], -0.4), step(2, "wrong", 0.03, [0.6], -0.2), step(3, "weak", 0.2, [0.2], -0.1)];
    const solution: WireSolutionScore = { index: 0, range: steps[0]!.range, score: 0.03, aggregation: "min", firstError: 1, negatives: ["26"], steps };
    const diags = buildDiagnostics(scoresOf(solution), []);
    assert.deepEqual(
      diags.map((d) => [d.range.start.line, d.severity]),
      [
        [6, DiagnosticSeverity.Error],
        [7, DiagnosticSeverity.Warning],
        [8, DiagnosticSeverity.Warning],
      ],
    );
    assert.match(messageText(diags[0]!), /^Step 2 is the first error: it /);
    for (const d of diags.slice(1)) assert.doesNotMatch(messageText(d), /first error/);
  });

  test("the solution's own wrong answer is named where it is the reason, not a sampled near miss", () => {
    // The text reaches 116; the model's samples gave 117 a larger gain. The reader sees 116 in the text.
    const s = step(1, "wrong", 0.02, [0.9, 0.5], -0.2);
    const solution: WireSolutionScore = { index: 0, range: s.range, score: 0.02, aggregation: "min", firstError: 1, finalAnswer: "116", negatives: ["117", "116"], steps: [s] };
    assert.equal(reasonOf(s, solution, "24"), "moves the model toward 116, the answer this solution reaches, instead of 24");
    // The carried answer was not among the negatives: the strongest negative, and what the text reaches.
    const other: WireSolutionScore = { ...solution, negatives: ["117", "30"] };
    assert.equal(reasonOf(s, other, "24"), "moves the model toward the wrong answer 117 instead of 24; this solution reaches 116");
    // A right final answer is no reason.
    assert.equal(reasonOf(s, { ...solution, finalAnswer: "24" }, "24"), "moves the model toward the wrong answer 117 instead of 24");
  });
});

describe("stale scores after an edit (issue 12 item 6), as a view of the last check", () => {
  const text = wrongText;
  const doc = parseDocument(text, { fileName: WRONG });
  const steps = doc.solutions[0]!.steps;
  const wire = (i: number): WireStepScore => ({ ...step(i, i === 1 ? "wrong" : "ok", i === 1 ? 0.02 : 0.8, [0.1], 0.2), text: steps[i]!.text, key: stepKey(0, steps[i]!.text) });

  function base(): DocumentScores {
    const sol: WireSolutionScore = { index: 0, range: { start: { line: 5, character: 0 }, end: { line: 9, character: 0 } }, score: 0.02, aggregation: "min", firstError: 1, finalAnswer: "20", negatives: ["26"], steps: [0, 1, 2, 3].map(wire) };
    const fresh = staleView({ ...scoresOf(sol), problem: doc.problem }, doc, 1, new Set());
    assert.equal(fresh.solutions[0]!.stale, undefined, "the same text is not stale");
    return fresh;
  }

  test("editing step 2: step 1 keeps its score, step 2 has none, steps 3 and 4 are stale; the first error is no longer known", () => {
    const edited = parseDocument(text.replace("2 * 7 = 18", "2 * 7 = 14"), { fileName: WRONG });
    const view = staleView(base(), edited, 2, new Set());
    const sol = view.solutions[0]!;
    assert.equal(view.version, 2);
    assert.equal(sol.stale, true);
    assert.deepEqual(sol.steps.map((s) => [s.index, s.stale ?? false]), [[0, false], [2, true], [3, true]]);
    assert.equal(sol.firstError, -1);
    assert.deepEqual(buildDiagnostics(view, []), [], "no squiggle on an edited or stale step");
  });

  test("editing step 4 keeps the first error at step 2; a new line above moves every mark down", () => {
    const edited = parseDocument(text.replace("50 - 30 = 20", "50 - 30 = 21"), { fileName: WRONG });
    const view = staleView(base(), edited, 2, new Set());
    assert.equal(view.solutions[0]!.firstError, 1);
    assert.deepEqual(view.solutions[0]!.steps.map((s) => s.index), [0, 1, 2]);
    const shifted = parseDocument(text.replace("Answer: Let's think step by step.", "Answer: Let's think\nstep by step."), { fileName: WRONG });
    const moved = staleView(base(), shifted, 3, new Set());
    assert.deepEqual(moved.solutions[0]!.steps.map((s) => s.textRange.start.line), [6, 7, 8, 9]);
    assert.notEqual(viewSignature(moved), viewSignature(base()));
  });

  test("editing the problem or the gold answer makes every step stale", () => {
    for (const changed of [text.replace("Tom buys", "Tim buys"), text.replace("answer: 24", "answer: 25")]) {
      const view = staleView(base(), parseDocument(changed, { fileName: WRONG }), 2, new Set());
      assert.deepEqual(view.solutions[0]!.steps.map((s) => s.stale), [true, true, true, true]);
    }
  });
});

describe("language server: lenses and marks follow ignores and edits at once", () => {
  let client: TestClient;
  const uri = fileUri(WRONG);

  before(async () => {
    // The longest debounce the setting allows: what the server sends within it after an edit comes
    // from the edit itself, not from a check (the tests below take milliseconds of it).
    client = await TestClient.inProcess({ configuration: { modelPath: DEMO_MODEL, gpu: "off", check: { frequency: "edit", debounceMs: 60_000 } } });
  });
  after(async () => {
    await client.close();
  });

  /** The diagnostic on step 2 of wrong-step.md (line 7), once the first check published. */
  async function step2Diagnostic(): Promise<Diagnostic> {
    const published = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => p.uri === uri && p.version === 1 && p.diagnostics.some((d) => d.range.start.line === 6));
    return published.diagnostics.find((d: Diagnostic) => d.range.start.line === 6)!;
  }

  test("item 5: on the demo model, step 2 is the first error, an Error that says so and names the text's own answer", async () => {
    client.open(uri, wrongText);
    const scores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(uri, 1));
    assert.equal(scores.solutions[0]!.firstError, 1, "step 2 is the demo model's first error");
    const first = await step2Diagnostic();
    assert.equal(first.severity, DiagnosticSeverity.Error);
    const message = messageText(first);
    assert.match(message, /^Step 2 is the first error: it /);
    // wrong-step.md ends at 20 (gold 24): the message names 20 as what this solution reaches.
    assert.match(message, /20, the answer this solution reaches|this solution reaches 20/, message);
  });

  test("item 4: 'Ignore this step' on the first error moves the lens, the scores and the report to the next flagged step", async () => {
    const first = await step2Diagnostic();
    const before = titles(await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri } }));
    assert.ok(before.some((t) => t.includes("first error: step 2")), JSON.stringify(before));

    const notified = client.notifications("steplens/scores").length;
    await client.request("workspace/executeCommand", { command: "steplens.ignoreStep", arguments: [first.data] });
    const after = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && client.notifications("steplens/scores").indexOf(p) >= notified);
    const next = after.solutions[0]!.steps.find((s) => s.index > 1 && (s.verdict === "weak" || s.verdict === "wrong"));
    assert.equal(after.solutions[0]!.firstError, next?.index ?? -1, "the first error moved past the ignored step");
    const lenses = titles(await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri } }));
    assert.ok(!lenses.some((t) => t.includes("first error: step 2")), JSON.stringify(lenses));
    assert.ok(lenses.some((t) => t.includes("(1 ignored)")), JSON.stringify(lenses));
  });

  test("item 6: an edit sends the stale view at once, and the lens answers from it without waiting for the check", async () => {
    const edited = wrongText.replace(WRONG_STEP, "The mugs cost 2 * 7 = 14 dollars.");
    client.change(uri, 2, edited);
    // Within the debounce no check has run: this is the edit's own view.
    const view = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(uri, 2));
    const sol = view.solutions[0]!;
    assert.deepEqual(sol.steps.map((s) => [s.index, s.stale ?? false]), [[0, false], [2, true], [3, true]], "step 2 (edited) has no score; 3 and 4 are stale");
    const diags = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => p.uri === uri && p.version === 2);
    assert.deepEqual(diags.diagnostics.filter((d) => d.source === "StepLens" && (d.severity ?? 9) <= 2), [], "the old squiggles went with the edit");
    // The lens is not held back until the check: it answers now, from the same view, while the check
    // still waits out its debounce. (Before, it waited for the check, and VS Code's lens debounce grew
    // with those slow answers: the lens lagged the marks.)
    const lenses = titles(await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri } }));
    assert.equal(client.notifications<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.version === 2 && !p.solutions[0]!.stale).length, 0, "the lens answered before any check of v2 finished");
    assert.ok(lenses.some((t) => t === "StepLens: rescoring after your edit…"), JSON.stringify(lenses));

    // Typing on in the same step changes nothing on screen: nothing more is sent.
    const sent = client.notifications("steplens/scores").length;
    client.change(uri, 3, edited.replace("14 dollars", "14 dollar"));
    await client.request("steplens/status");
    assert.equal(client.notifications("steplens/scores").length, sent);

    const fresh = await client.request<DocumentScores>("steplens/scoreDocument", { uri });
    assert.equal(fresh.version, 3);
    assert.equal(fresh.solutions[0]!.stale, undefined);
    assert.equal(fresh.solutions[0]!.steps.length, 4);
    const after = titles(await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri } }));
    assert.ok(after.some((t) => t.startsWith("StepLens: score ")), JSON.stringify(after));
  });
});

describe("a missing model is actionable (issue 12 item 2)", () => {
  test("the status names the problem and its setting; lenses say what is wrong and offer Select Model… to the VS Code extension", async () => {
    const missing = path.join(tmp, "no-such-model.gguf");
    // The commands the extension implements (client/languageClient.ts); Select Model… is one of them.
    const clientCommands = [ScoreFileCommand, PickBestOfNCommand, ShowStepReportCommand, ShowProblemCommand, SelectModelCommand];
    const client = await TestClient.inProcess({ configuration: { modelPath: missing, gpu: "off" }, initializationOptions: { clientCommands } });
    try {
      const status = await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "error");
      assert.deepEqual(status.problem, { setting: "steplens.modelPath", summary: "model file not found (no-such-model.gguf)" });
      assert.ok(status.message?.includes(missing), String(status.message));
      assert.doesNotMatch(status.message!, /reload/i, "the fix applies by itself");
      const uri = fileUri(path.join(tmp, "w.md"));
      client.open(uri, wrongText);
      const lenses = await client.request<CodeLens[]>("textDocument/codeLens", { textDocument: { uri } });
      assert.deepEqual(
        lenses.map((l) => [l.command?.title, l.command?.command]),
        [
          ["StepLens: not scored — model file not found (no-such-model.gguf)", "steplens.showProblem"],
          ["Select Model…", "steplens.selectModel"],
        ],
      );
    } finally {
      await client.close();
    }
  });

  test("the words: an empty setting is not a path nobody chose; a GPU problem names steplens.gpu", () => {
    const notFound = new BackendError("model file not found", "model-not-found");
    const empty = loadFailure(defaultModelPath(), notFound);
    if (!process.env.STEPLENS_MODEL) {
      assert.equal(empty.problem.summary, "no model set");
      assert.match(empty.message, /"steplens\.modelPath" is empty/);
    }
    assert.match(empty.message, /GGUF model file/);
    const gpu = loadFailure("/m.gguf", new Error("the GPU setting is cuda, but no CUDA device was found."));
    assert.equal(gpu.problem.setting, "steplens.gpu");
    for (const m of [empty.message, gpu.message, loadFailure("/m.gguf", new Error("bad magic")).message]) assert.doesNotMatch(m, /reload|checkout|shared\/models/i, m);
  });

  test("lenses without a model and with one: only an unscored solution explains", () => {
    const doc = parseDocument(wrongText, { fileName: WRONG });
    const error: ServerStatus = { state: "error", busy: 0, message: "x", problem: { setting: "steplens.gpu", summary: "GPU setting cannot be used" } };
    assert.deepEqual(titles(codeLenses("file:///w.md", doc, undefined, { checking: false, status: error })), ["StepLens: not scored — GPU setting cannot be used"]);
    assert.deepEqual(titles(codeLenses("file:///w.md", doc, undefined, { checking: false, status: { state: "ready", busy: 0 } })), ["StepLens: not scored yet — Score"]);
    // While the model loads nothing is queued, yet a check follows unless checks are manual.
    const loading: ServerStatus = { state: "loading", busy: 0 };
    assert.deepEqual(titles(codeLenses("file:///w.md", doc, undefined, { checking: false, autoCheck: true, status: loading })), ["StepLens: scoring…"]);
    assert.deepEqual(titles(codeLenses("file:///w.md", doc, undefined, { checking: false, autoCheck: false, status: loading })), ["StepLens: not scored yet — Score"]);
  });
});
