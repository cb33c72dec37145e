// Implicit PRM in the editor (issue 13): steplens.method "implicit", steplens.methods ["cpmi",
// "implicit"], steplens.referenceModelPath and steplens.beta, over the real language server protocol
// with the real demo pair (arith-implicit-prm-15m as the policy, the demo model as its reference).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DiagnosticSeverity, type Hover, type MarkupContent, type PublishDiagnosticsParams } from "vscode-languageserver/node";
import type { BestOfNResult, DocumentScores, LabelDatasetResult, ServerStatus } from "../protocol/index.js";
import { lineMarks } from "../client/buckets.js";
import { signed } from "../server/lsp/diagnostics.js";
import { CLI, DEMO_MODEL, REPO, SHARED, readJsonlFile, runCli } from "./helpers.js";
import { fileUri, TestClient } from "./lsp-client.js";
import { startChild, type ChildServer } from "./serveHelpers.js";

const POLICY = path.join(SHARED, "models/arith-implicit-prm-15m-f16.gguf");
const QWEN2 = path.join(SHARED, "models/qwen2-tokenizer-tiny-random-q8_0.gguf");
const WRONG = path.join(REPO, "examples/wrong-step.md");
const wrongText = readFileSync(WRONG, "utf8");
const uri = fileUri(WRONG);
const STEP2_LINE = wrongText.split("\n").findIndex((l) => l.startsWith("Step 2:"));

const scoresFor = (version: number) => (p: DocumentScores) => p.uri === uri && p.version === version && p.solutions.length > 0;
const diagnosticsFor = (version: number) => (p: PublishDiagnosticsParams) => p.uri === uri && p.version === version;

interface CliStep {
  soft_label: number | null;
  verdict: string;
  implicit?: { beta: number; log_ratio: number; q: number; tokens: number; top_tokens: { text: string; log_ratio: number }[] };
}

/** `steplens score --json` as a user runs it: the numbers the editor must show. */
async function cliScore(args: string[]): Promise<CliStep[]> {
  const run = await runCli(["score", WRONG, "--json", "--gpu", "off", "--threads", "1", ...args]);
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as { solutions: { steps: CliStep[] }[] }).solutions[0]!.steps;
}

async function hoverAt(client: TestClient, line: number): Promise<string> {
  const hover = await client.request<Hover | null>("textDocument/hover", { textDocument: { uri }, position: { line, character: 12 } });
  assert.ok(hover, "a hover over the step");
  return (hover.contents as MarkupContent).value;
}

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});

describe("steplens.method implicit", () => {
  let client: TestClient;
  let cli: CliStep[];
  before(async () => {
    cli = await cliScore(["--method", "implicit", "--model", POLICY, "--reference-model", DEMO_MODEL]);
    // The demo pair puts step 2 of this file at a soft label of 0.28, just above the default cut
    // 0.25 (asserted below); 0.3 makes it a flagged step, to see the diagnostic Implicit PRM gives.
    client = await TestClient.inProcess({ configuration: { modelPath: POLICY, referenceModelPath: DEMO_MODEL, method: "implicit", threshold: 0.3, gpu: "off", check: { frequency: "edit", debounceMs: 30 } } });
    client.open(uri, wrongText);
  });
  after(async () => {
    await client.close();
  });

  test("after-line scores and the hover carry Implicit PRM's terms (β, summed log-ratio, q, top tokens), equal to `steplens score --json`", async () => {
    const scores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(1));
    const solution = scores.solutions[0]!;
    assert.equal(solution.method, "implicit");
    assert.equal(solution.steps.length, 4);
    solution.steps.forEach((s, i) => {
      const want = cli[i]!;
      assert.ok(s.implicit, `step ${i + 1} carries Implicit PRM's terms`);
      assert.ok(Math.abs(s.implicit.logRatio! - want.implicit!.log_ratio) < 1e-6, `step ${i + 1} log-ratio ${s.implicit.logRatio} vs CLI ${want.implicit!.log_ratio}`);
      assert.ok(Math.abs(s.softLabel! - want.soft_label!) < 1e-6);
      assert.deepEqual(s.implicit.topTokens.map((t) => t.text), want.implicit!.top_tokens.map((t) => t.text));
    });
    // The wrong step (2 × 7 = 18) gets the lowest label, between the default cut and this one.
    const step2 = solution.steps[1]!;
    assert.ok(step2.softLabel! > 0.25 && step2.softLabel! < 0.3, `step 2 soft label ${step2.softLabel}`);
    assert.equal(Math.min(...solution.steps.map((s) => s.softLabel!)), step2.softLabel);
    // The after-line text is Implicit PRM's soft label.
    const marks = lineMarks(scores);
    // It is the solution's first error, which says so (issue 12 item 5).
    assert.equal(marks.find((m) => m.line === STEP2_LINE)?.text, `▼ ${step2.softLabel!.toFixed(2)} first error`);

    const hover = await hoverAt(client, STEP2_LINE);
    const t = cli[1]!.implicit!;
    assert.match(hover, /\*\*Implicit PRM\*\* · β = 0\.05/);
    assert.ok(hover.includes(`| ${signed(t.log_ratio)} | ${signed(0.05 * t.log_ratio, 4)} | ${signed(t.q, 4)} | ${cli[1]!.soft_label!.toFixed(2)} |`), hover);
    assert.equal(t.top_tokens.length, 5);
    for (const k of t.top_tokens) assert.ok(hover.includes(`| ${signed(k.log_ratio)} |`), `top token ${JSON.stringify(k.text)} ${k.log_ratio} in the hover:\n${hover}`);
    assert.ok(hover.includes("| `8` |"), "the token that makes the step wrong is named");
  });

  test("a step under the threshold gets a diagnostic that names the tokens the policy made less likely", async () => {
    const published = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", diagnosticsFor(1));
    const steps = published.diagnostics.filter((d) => d.code === "weak" || d.code === "wrong");
    assert.deepEqual(steps.map((d) => d.range.start.line), [STEP2_LINE]);
    const d = steps[0]!;
    assert.equal(d.severity, DiagnosticSeverity.Error, "the first error is an Error, as with CPMI");
    assert.equal(typeof d.message, "string");
    const message = d.message as string;
    assert.match(message, /^Step 2 is \d+(\.\d)?× less likely under the Implicit PRM policy than under its reference, most of all "8" −1\.94/);
    assert.doesNotMatch(message, /answer/, "Implicit PRM reads no answer; the message does not talk of one");
  });
});

describe("Pick Best of N and Label Dataset with steplens.method implicit", () => {
  const CANDIDATES = path.join(REPO, "examples/candidates.md");
  const PAIR = ["--method", "implicit", "--model", POLICY, "--reference-model", DEMO_MODEL, "--gpu", "off", "--threads", "1"];
  let client: TestClient;
  const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-lsp-implicit-"));
  before(async () => {
    client = await TestClient.inProcess({ configuration: { modelPath: POLICY, referenceModelPath: DEMO_MODEL, method: "implicit", gpu: "off", check: { frequency: "manual" } } });
  });
  after(async () => {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("steplens/bestOfN ranks the candidates by Implicit PRM, as `steplens score --method implicit` scores them", async () => {
    const run = await runCli(["score", CANDIDATES, "--json", ...PAIR]);
    assert.equal(run.code, 0, run.stderr);
    const cli = (JSON.parse(run.stdout) as { solutions: { score: number; method: string }[] }).solutions;
    assert.ok(cli.every((s) => s.method === "implicit"));
    // The file as the user has it open (Pick Best of N compares what the editor shows).
    client.open(fileUri(CANDIDATES), readFileSync(CANDIDATES, "utf8"));
    const result = await client.request<BestOfNResult>("steplens/bestOfN", { uris: [fileUri(CANDIDATES)] });
    assert.equal(result.candidates.length, cli.length, result.warnings.join("\n"));
    result.candidates.forEach((c, k) => assert.ok(Math.abs(c.score! - cli[k]!.score) < 1e-6, `candidate ${k + 1}: ${c.score} in the editor, ${cli[k]!.score} from the CLI`));
    const best = cli.map((s) => s.score).indexOf(Math.max(...cli.map((s) => s.score)));
    assert.equal(result.best, best);
  });

  test("steplens/labelDataset writes Implicit PRM's rewards and q, as `steplens label --method implicit` does", async () => {
    const input = path.join(tmp, "three.jsonl");
    writeFileSync(input, readFileSync(path.join(SHARED, "data/arith-processbench-dev.jsonl"), "utf8").split("\n").filter(Boolean).slice(0, 3).join("\n") + "\n");
    const fromCli = path.join(tmp, "cli.jsonl");
    const run = await runCli(["label", input, "-o", fromCli, ...PAIR]);
    assert.equal(run.code, 0, run.stderr);
    const output = path.join(tmp, "editor.jsonl");
    const result = await client.request<LabelDatasetResult>("steplens/labelDataset", { input, output });
    assert.equal(result.records, 3);
    type Labeled = { id: string; method: string; implicit: number[]; q: number[]; beta: number; cpmi?: number[] };
    const want = readJsonlFile<Labeled>(fromCli);
    const got = readJsonlFile<Labeled>(output);
    assert.deepEqual(got.map((r) => r.id), want.map((r) => r.id));
    got.forEach((rec, k) => {
      assert.equal(rec.method, "implicit");
      assert.equal(rec.beta, 0.05);
      assert.equal(rec.cpmi, undefined, "no CPMI ran");
      assert.equal(rec.implicit.length, want[k]!.implicit.length);
      rec.implicit.forEach((x, i) => assert.ok(Math.abs(x - want[k]!.implicit[i]!) < 1e-6, `${rec.id} step ${i + 1}: ${x} vs ${want[k]!.implicit[i]}`));
      rec.q.forEach((x, i) => assert.ok(Math.abs(x - want[k]!.q[i]!) < 1e-6));
    });
  });
});

describe("steplens.methods [cpmi, implicit]", () => {
  let client: TestClient;
  let cpmi: CliStep[];
  let implicit: CliStep[];
  before(async () => {
    // CPMI alone on the demo model (the pair's reference), Implicit PRM alone on the pair.
    cpmi = await cliScore(["--model", DEMO_MODEL]);
    implicit = await cliScore(["--method", "implicit", "--model", POLICY, "--reference-model", DEMO_MODEL]);
    client = await TestClient.inProcess({
      configuration: { modelPath: POLICY, referenceModelPath: DEMO_MODEL, methods: ["cpmi", "implicit"], gpu: "off", check: { frequency: "edit", debounceMs: 30 } },
    });
    client.open(uri, wrongText);
  });
  after(async () => {
    await client.close();
  });

  test("both are shown, CPMI runs on the reference, and the step they disagree on is flagged in a diagnostic, the hover and after the line", async () => {
    const scores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(1));
    assert.deepEqual(scores.methods, ["cpmi", "implicit"]);
    const steps = scores.solutions[0]!.steps;
    steps.forEach((s, i) => {
      assert.deepEqual(s.methods?.map((m) => m.method), ["cpmi", "implicit"]);
      // The first method's values are the step's own; each equals that method run alone.
      assert.ok(Math.abs(s.softLabel! - cpmi[i]!.soft_label!) < 1e-6, `CPMI step ${i + 1}: ${s.softLabel} vs ${cpmi[i]!.soft_label} on the reference alone`);
      assert.ok(Math.abs(s.methods[1]!.softLabel! - implicit[i]!.soft_label!) < 1e-6);
      assert.equal(s.methods[0]!.verdict, cpmi[i]!.verdict);
      assert.equal(s.methods[1]!.verdict, implicit[i]!.verdict);
      assert.ok(s.implicit, "Implicit PRM's terms come along for the hover");
    });
    // On this file CPMI calls step 2 wrong (it moves the model to the wrong answer) and Implicit PRM ok.
    assert.equal(steps[1]!.methods![0]!.verdict, "wrong");
    assert.equal(steps[1]!.methods![1]!.verdict, "ok");

    const published = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", diagnosticsFor(1));
    const notes = published.diagnostics.filter((d) => d.code === "disagreement");
    const disagreeing = steps.filter((s) => s.methods!.some((m) => m.verdict === "ok") && s.methods!.some((m) => m.verdict === "weak" || m.verdict === "wrong"));
    assert.deepEqual(notes.map((d) => d.range.start.line).sort(), disagreeing.map((s) => s.textRange.start.line).sort());
    const note2 = notes.find((d) => d.range.start.line === STEP2_LINE);
    assert.ok(note2, "step 2's disagreement is a diagnostic");
    assert.equal(note2.severity, DiagnosticSeverity.Information);
    assert.equal(note2.message, `CPMI and Implicit PRM disagree on step 2: CPMI wrong (soft label ${cpmi[1]!.soft_label!.toFixed(2)}), Implicit PRM ok (soft label ${implicit[1]!.soft_label!.toFixed(2)})`);
    // CPMI, the first method, keeps its own diagnostic on the step.
    assert.ok(published.diagnostics.some((d) => d.code === "wrong" && d.range.start.line === STEP2_LINE));
    assert.ok(!notes.some((d) => d.range.start.line === STEP2_LINE - 1), "step 1, where both say ok, is not flagged");

    const hover = await hoverAt(client, STEP2_LINE);
    assert.match(hover, /Gain in the answer's log-probability/, "CPMI's terms");
    assert.match(hover, /\*\*Implicit PRM\*\* · β = 0\.05/, "Implicit PRM's terms");
    assert.ok(hover.includes("| CPMI | 0.02 | wrong |") || hover.includes(`| CPMI | ${cpmi[1]!.soft_label!.toFixed(2)} | wrong |`), hover);
    assert.ok(hover.includes(`| Implicit PRM | ${implicit[1]!.soft_label!.toFixed(2)} | ok |`), hover);
    assert.match(hover, /⚠ CPMI and Implicit PRM disagree on step 2/);

    const mark = lineMarks(scores).find((m) => m.line === STEP2_LINE)!;
    assert.equal(mark.text, `▼ ${cpmi[1]!.soft_label!.toFixed(2)} · IPRM ▲ ${implicit[1]!.soft_label!.toFixed(2)} ≠ first error`);
  });
});

describe("steplens.method cpmi_implicit", () => {
  test("each step's soft label is the CLI's cpmi_implicit one, and the hover carries both CPMI's and Implicit PRM's terms", async () => {
    const cli = await cliScore(["--method", "cpmi_implicit", "--model", POLICY, "--reference-model", DEMO_MODEL]);
    const client = await TestClient.inProcess({ configuration: { modelPath: POLICY, referenceModelPath: DEMO_MODEL, method: "cpmi_implicit", gpu: "off", check: { frequency: "edit", debounceMs: 30 } } });
    try {
      client.open(uri, wrongText);
      const scores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(1));
      const solution = scores.solutions[0]!;
      assert.equal(solution.method, "cpmi_implicit");
      solution.steps.forEach((s, i) => {
        assert.ok(Math.abs(s.softLabel! - cli[i]!.soft_label!) < 1e-6, `step ${i + 1}: ${s.softLabel} vs CLI ${cli[i]!.soft_label}`);
        assert.equal(s.verdict, cli[i]!.verdict);
        assert.ok(Math.abs(s.implicit!.logRatio! - cli[i]!.implicit!.log_ratio) < 1e-6);
      });
      const hover = await hoverAt(client, STEP2_LINE);
      assert.match(hover, /Gain in the answer's log-probability/, "CPMI's terms");
      assert.match(hover, /\*\*Implicit PRM\*\* · β = 0\.05/, "Implicit PRM's terms");
    } finally {
      await client.close();
    }
  });
});

describe("Implicit PRM settings the user gets wrong", () => {
  test("a missing reference, a mismatched pair, no reference, a reference without implicit and β ≤ 0 each get a message naming the setting; a new referenceModelPath reloads", async () => {
    const missing = path.join(REPO, "no-such-reference.gguf");
    const configuration: Record<string, unknown> = { modelPath: POLICY, referenceModelPath: missing, method: "implicit", gpu: "off", check: { frequency: "manual", debounceMs: 30 } };
    const client = await TestClient.inProcess({ configuration });
    const reload = async (change: Record<string, unknown>): Promise<ServerStatus> => {
      Object.assign(configuration, change);
      return await client.request<ServerStatus>("steplens/reload");
    };
    try {
      const first = await client.waitFor<ServerStatus>("steplens/status", (s) => s.state === "error");
      assert.equal(first.message, `StepLens cannot find the reference model: no file at ${missing}. Implicit PRM (method implicit) compares the policy in "steplens.modelPath" with the reference model it was trained from: set "steplens.referenceModelPath" to its GGUF file.`);
      const shown = await client.waitFor<{ type: number; message: string }>("window/showMessage", (m) => m.type === 1);
      assert.equal(shown.message, first.message);
      client.open(uri, wrongText);
      await assert.rejects(client.request("steplens/scoreDocument", { uri }), (err: Error) => err.message.includes(missing));

      // A reference with another tokenizer: refused from the GGUF headers, naming both files.
      const mismatched = await reload({ referenceModelPath: QWEN2 });
      assert.equal(mismatched.state, "error");
      assert.ok(mismatched.message!.startsWith(`StepLens cannot use this model pair: the policy ${POLICY} and the reference ${QWEN2} do not share a tokenizer`), mismatched.message ?? "no message");
      assert.match(mismatched.message!, /Check "steplens\.modelPath" \(the policy π_θ\) and "steplens\.referenceModelPath" \(the reference π_ref\)\.$/);

      const none = await reload({ referenceModelPath: "" });
      assert.equal(none.state, "error");
      assert.match(none.message!, /set "steplens\.referenceModelPath" to that reference's GGUF file/);

      // A reference no method reads: a warning, and CPMI scores as asked.
      const unused = await reload({ method: "cpmi", modelPath: DEMO_MODEL, referenceModelPath: DEMO_MODEL });
      assert.equal(unused.state, "ready");
      const warning = await client.waitFor<{ type: number; message: string }>("window/showMessage", (m) => m.type === 2 && m.message.includes("referenceModelPath"));
      assert.match(warning.message, /steplens\.referenceModelPath is read only by Implicit PRM, and the method is cpmi: set "steplens\.method" to "implicit" .*ignoring it for now/);
      const cpmi = await client.request<DocumentScores>("steplens/scoreDocument", { uri });
      assert.equal(cpmi.solutions[0]!.method, "cpmi");

      // β ≤ 0 is refused by its rule and the default used; the right reference now loads.
      const fixed = await reload({ method: "implicit", modelPath: POLICY, referenceModelPath: DEMO_MODEL, beta: 0 });
      assert.equal(fixed.state, "ready", fixed.message ?? "");
      const beta = await client.waitFor<{ type: number; message: string }>("window/showMessage", (m) => m.type === 2 && m.message.includes("beta"));
      assert.match(beta.message, /steplens\.beta must be a number above 0 \(the β the pair was trained with; 0\.05 for the demo pair\), got 0; using 0\.05/);
      const scored = await client.request<DocumentScores>("steplens/scoreDocument", { uri });
      assert.equal(scored.solutions[0]!.method, "implicit");
      assert.equal(scored.solutions[0]!.steps[0]!.implicit?.beta, 0.05);
    } finally {
      await client.close();
    }
  });
});

describe("steplens.backend remote with a server that holds the pair", () => {
  const TOKEN = "lsp-implicit-token-0123456789abcdef";
  let serve: ChildServer;
  let cpmi: CliStep[];
  let implicit: CliStep[];
  before(async () => {
    serve = await startChild(["--model", POLICY, "--reference-model", DEMO_MODEL, "--host", "127.0.0.1", "--token", TOKEN, "--quiet"]);
    cpmi = await cliScore(["--model", DEMO_MODEL]);
    implicit = await cliScore(["--method", "implicit", "--model", POLICY, "--reference-model", DEMO_MODEL]);
  });
  after(async () => {
    if (serve.child.exitCode == null) serve.child.kill("SIGTERM");
    await serve.exited;
  });

  test("steplens.methods [cpmi, implicit] over the server: both models score there, the numbers equal local runs, a local reference is set aside with a word", async () => {
    const client = await TestClient.inProcess({
      configuration: {
        backend: "remote",
        remote: { url: serve.url, timeoutMs: 20_000 },
        // A file here means nothing to the server's pair: the user is told, and the server's pair is used.
        referenceModelPath: DEMO_MODEL,
        methods: ["cpmi", "implicit"],
        check: { frequency: "edit", debounceMs: 30 },
      },
      initializationOptions: { token: TOKEN },
    });
    try {
      const warning = await client.waitFor<{ type: number; message: string }>("window/showMessage", (m) => m.type === 2 && m.message.includes("referenceModelPath"));
      assert.match(warning.message, /with steplens\.backend "remote" both models of the pair are the server's \(steplens serve --reference-model\); ignoring it/);
      client.open(uri, wrongText);
      const scores = await client.waitFor<DocumentScores>("steplens/scores", scoresFor(1));
      assert.deepEqual(scores.methods, ["cpmi", "implicit"]);
      assert.ok((scores.tokens?.evaluated ?? 0) > 0, "the server evaluated the tokens");
      scores.solutions[0]!.steps.forEach((s, i) => {
        assert.ok(Math.abs(s.softLabel! - cpmi[i]!.soft_label!) < 1e-6, `CPMI step ${i + 1} on the server's reference: ${s.softLabel} vs ${cpmi[i]!.soft_label}`);
        assert.ok(s.methods && s.implicit, `step ${i + 1} carries both methods and Implicit PRM's terms`);
        assert.ok(Math.abs(s.methods[1]!.softLabel! - implicit[i]!.soft_label!) < 1e-6, `Implicit PRM step ${i + 1}`);
        assert.ok(Math.abs(s.implicit.logRatio! - implicit[i]!.implicit!.log_ratio) < 1e-6);
        assert.equal(s.implicit.beta, 0.05, "β is the server's pair's");
      });
      const published = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", diagnosticsFor(1));
      assert.ok(published.diagnostics.some((d) => d.code === "disagreement" && d.range.start.line === STEP2_LINE), "the disagreement on step 2 is flagged as it is locally");
      const hover = await hoverAt(client, STEP2_LINE);
      assert.match(hover, /\*\*Implicit PRM\*\* · β = 0\.05/);
      assert.match(hover, /⚠ CPMI and Implicit PRM disagree on step 2/);
    } finally {
      await client.close();
    }
  });
});
