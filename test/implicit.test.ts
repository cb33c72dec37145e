// Implicit PRM on the real pair: the demo model as π_ref and arith-implicit-prm-15m as π_θ, through
// node-llama-cpp; the CLI as a user runs it; real dev records and files.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CLI, DATA, DEMO_MODEL, REPO, SHARED, loadDemo, readJsonlFile, runCli } from "./helpers.js";
import { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import type { Backend } from "../server/engine/backend/types.js";
import { ImplicitPrmScorer, implicitCalibration, lazyReference } from "../server/engine/implicit/implicitPrm.js";
import { defaultPrompt, writtenFromDocument, writtenFromLines, writtenFromRecord } from "../server/engine/implicit/written.js";
import { tokenOffsets } from "../server/engine/implicit/tokenOffsets.js";
import { checkPair } from "../server/engine/implicit/pair.js";
import { createEngine } from "../server/engine/engineOptions.js";
import { parseDocument } from "../server/engine/parse/index.js";
import { parseDocumentSegmented } from "../server/engine/segment/entropySegment.js";
import { scoreDocument } from "../server/engine/scoreDocument.js";
import { runLabelingBench } from "../server/engine/bench/labelingBench.js";
import { stripStepPrefix } from "../server/engine/parse/index.js";
import { softLabel } from "../server/engine/cpmi/softLabels.js";

const POLICY = path.join(SHARED, "models/arith-implicit-prm-15m-f16.gguf");
const QWEN2 = path.join(SHARED, "models/qwen2-tokenizer-tiny-random-q8_0.gguf");
const LLAMA3 = path.join(SHARED, "models/llama3-tokenizer-tiny-random-q8_0.gguf");
const BETA = 0.05;
const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-implicit-"));

interface DevRecord {
  id: string;
  problem: string;
  steps: string[];
  final_answer_line: string;
  gold_answer: string;
  label: number;
}

let policy: LlamaCppBackend;
let reference: LlamaCppBackend;
let scorer: ImplicitPrmScorer;

before(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  policy = await LlamaCppBackend.load({ modelPath: POLICY, gpu: "off", threads: 1, branches: 1, walkers: 1 });
  reference = await loadDemo({ threads: 1, branches: 1, walkers: 1 });
  scorer = new ImplicitPrmScorer(policy, () => Promise.resolve(reference), { beta: BETA, calibration: implicitCalibration(BETA), threshold: 0.25, aggregation: "min" });
});

after(async () => {
  await policy?.dispose();
  await reference?.dispose();
});

/** Σ log p(response | BOS + prompt) through the CPMI path (walker + branch), not tokenLogprobs. */
async function responseLogprob(backend: Backend, prompt: string, response: string): Promise<number> {
  const session = await backend.openSession();
  try {
    const [scored] = await session.scoreContinuations(prompt, [response]);
    return scored!.tokenLogprobs.reduce((a, b) => a + b, 0);
  } finally {
    session.release();
  }
}

describe("Implicit PRM rewards", () => {
  test("on 20 dev records the summed step rewards equal β × (log π_θ − log π_ref) of the whole response within 1e-3", async () => {
    const records = readJsonlFile<DevRecord>(path.join(DATA, "arith-processbench-dev.jsonl")).slice(0, 20);
    let largest = 0;
    for (const r of records) {
      // Steps only (no answer line): then the steps cover the whole response.
      const written = writtenFromLines(defaultPrompt(r.problem), r.steps);
      const imp = await scorer.score(written);
      const summed = imp.steps.reduce((a, s) => a + s.reward, 0);
      const whole = BETA * ((await responseLogprob(policy, written.prompt, written.response)) - (await responseLogprob(reference, written.prompt, written.response)));
      largest = Math.max(largest, Math.abs(summed - whole));
      assert.ok(Math.abs(summed - whole) < 1e-3, `${r.id}: Σ step rewards ${summed} vs β·log-ratio of the response ${whole}`);
      assert.ok(Math.abs(imp.outcome - whole) < 1e-3, `${r.id}: outcome r ${imp.outcome} vs ${whole}`);
      // q is the running sum.
      let q = 0;
      imp.steps.forEach((s) => assert.ok(Math.abs(s.q - (q += s.reward)) < 1e-12));
    }
    assert.ok(largest < 1e-3);
  });

  test("the first wrong step of a dev record gets the lowest reward, and each model reads each token once", async () => {
    const wrong = readJsonlFile<DevRecord>(path.join(DATA, "arith-processbench-dev.jsonl")).filter((r) => r.label >= 0).slice(0, 10);
    let hits = 0;
    for (const r of wrong) {
      const imp = await scorer.score(writtenFromRecord(r));
      const rewards = imp.steps.map((s) => s.reward);
      if (rewards.indexOf(Math.min(...rewards)) === r.label) hits++;
      assert.equal(imp.tokens.evaluated, 2 * imp.tokens.text, "one pass per model, nothing else");
      for (const s of imp.steps) {
        assert.ok(s.topTokens.length <= 5 && s.topTokens.length === Math.min(5, s.tokens));
        for (let k = 1; k < s.topTokens.length; k++) assert.ok(Math.abs(s.topTokens[k - 1]!.logRatio) >= Math.abs(s.topTokens[k]!.logRatio));
      }
    }
    assert.ok(hits >= 8, `the lowest reward is the labeled first error on ${hits}/10 records`);
  });

  test("a token that spans a step boundary goes to the step where it starts", async () => {
    const response = "The pens cost 12 dollars.\nThe mugs cost 14 dollars.\n";
    // Cut inside "pens": the token " pens" starts in step 1 (at the space) and ends in step 2.
    const cut = response.indexOf("pens") + 2;
    const written = { prompt: defaultPrompt("Tom buys pens and mugs. How much?"), response, steps: [{ start: 0, end: cut }, { start: cut, end: response.length }] };
    const imp = await scorer.score(written);
    const first = imp.steps[0]!;
    const texts = first.topTokens.map((t) => t.text);
    assert.ok(texts.includes(" pens"), `step 1 holds the spanning token: ${JSON.stringify(texts)}`);
    assert.ok(!imp.steps[1]!.topTokens.some((t) => t.text.includes("pens")));
    const tokens = await policy.tokenize(written.prompt + response);
    assert.equal(first.tokens + imp.steps[1]!.tokens, tokens.length - (await policy.tokenize(written.prompt)).length);
  });

  test("token offsets spell the text back, also through multi-byte characters", async () => {
    const text = "Question: 3 × 6 ÷ 2 = 9 — ok?\nStep 1: $3 \\times 6 = 18$.\n";
    const tokens = await policy.tokenize(text);
    const offsets = await tokenOffsets(policy, text, tokens);
    assert.equal(offsets.length, tokens.length + 1);
    for (let k = 1; k < offsets.length; k++) assert.ok(offsets[k]! >= offsets[k - 1]!);
    assert.equal(offsets.at(-1), text.length);
    const times = text.indexOf("×");
    assert.ok(offsets.includes(times) || offsets.includes(times - 1), "a token starts at (or at the space before) ×");
  });
});

describe("the written layout of files", () => {
  test("a candidate's prompt is the question block and its own header; its steps own their lines", () => {
    const file = path.join(REPO, "examples/candidates.md");
    const text = readFileSync(file, "utf8");
    const doc = parseDocument(text, { fileName: file });
    const w = writtenFromDocument(text, doc, doc.solutions[1]!)!;
    assert.equal(w.prompt, "Question: A ball costs $30. It is on sale for 10% off. Lena buys 2 balls at the sale price. How much does Lena pay, in dollars?\n## Candidate 2\n\n");
    assert.ok(w.response.startsWith("1. Multiplying the price"));
    assert.ok(w.response.endsWith("Therefore, the answer is \\boxed{42}."), "the answer line ends the response, without its newline");
    // Each step owns its line and what follows up to the next step or the answer line (here a blank line).
    assert.deepEqual(
      w.steps.map((s) => w.response.slice(s.start, s.end)),
      doc.solutions[1]!.steps.map((s, i, all) => `${s.raw}\n${i === all.length - 1 ? "\n" : ""}`),
    );
    const shopping = readFileSync(path.join(REPO, "examples/shopping.md"), "utf8");
    const one = parseDocument(shopping, { fileName: "shopping.md" });
    const ws = writtenFromDocument(shopping, one, one.solutions[0]!)!;
    // Front matter is not the question; the file's own headers are the prompt.
    assert.equal(ws.prompt, shopping.slice(shopping.indexOf("Question:"), shopping.indexOf("Step 1:")));
  });

  test("steps cut inside one line (entropy segmentation) each keep their own text", async () => {
    const text =
      "Question: Tom buys 4 pens for $3 each and 2 mugs for $7 each. Tom pays with a $50 bill. How much change does Tom get, in dollars?\n" +
      "Answer: Let's think step by step.\n" +
      "The pens cost 4 * 3 = 12 dollars. The mugs cost 2 * 7 = 14 dollars. Together they cost 12 + 14 = 26 dollars. The change is 50 - 26 = 24 dollars.\n" +
      "The answer is 24.\n";
    const doc = await parseDocumentSegmented(text, { fileName: "x.txt", segmentation: "entropy", backend: reference });
    const sol = doc.solutions[0]!;
    assert.ok(sol.steps.length >= 3);
    const w = writtenFromDocument(text, doc, sol)!;
    assert.equal(w.prompt + w.response + "\n", text);
    w.steps.forEach((span, i) => assert.ok(w.response.slice(span.start, span.end).startsWith(sol.steps[i]!.raw), `step ${i + 1}: ${JSON.stringify(w.response.slice(span.start, span.end))}`));
    const imp = await scorer.score(w);
    for (const st of imp.steps) assert.ok(st.tokens > 0, `step ${st.index + 1} has tokens of its own`);
  });

  test("`## Problem` above the question belongs to the question block", () => {
    const text = "## Problem\nTom has 3 apples and buys 4 more. How many apples does he have?\n## Solution\nStep 1: He has 3 + 4 = 7 apples.\nThe answer is 7.\n";
    const doc = parseDocument(text, { fileName: "a.md" });
    const w = writtenFromDocument(text, doc, doc.solutions[0]!)!;
    assert.equal(w.prompt + w.response + "\n", text);
    assert.equal(w.prompt, "## Problem\nTom has 3 apples and buys 4 more. How many apples does he have?\n## Solution\n");
  });
});

describe("the pair", () => {
  test("a pair with different tokenizers is refused, naming both files", async () => {
    await assert.rejects(checkPair(POLICY, QWEN2), (err: Error) => err.message.includes(POLICY) && err.message.includes(QWEN2) && /do not share a tokenizer/.test(err.message));
    await assert.rejects(checkPair(LLAMA3, QWEN2), /do not share a tokenizer/);
    await checkPair(POLICY, DEMO_MODEL);
  });

  test("the reference loads on first use, and scoreDocument reads the file as written", async () => {
    const engine = await createEngine({ modelPath: POLICY, referenceModelPath: DEMO_MODEL, method: "implicit", gpu: "off", threads: 1 });
    try {
      const ref = engine.implicit!.reference as ReturnType<typeof lazyReference>;
      assert.equal(ref.loaded(), undefined, "nothing of the reference is loaded before the first score");
      const text = readFileSync(path.join(REPO, "examples/wrong-step.md"), "utf8");
      const doc = parseDocument(text, { fileName: "wrong-step.md" });
      const scored = await scoreDocument(engine.scorer, doc, { method: "implicit", implicit: engine.implicit, sourceText: text });
      assert.ok(ref.loaded(), "loaded after the first score");
      const steps = scored.solutions[0]!.steps;
      assert.equal(scored.solutions[0]!.result.method, "implicit");
      const rewards = steps.map((s) => s.score.reward);
      assert.equal(rewards.indexOf(Math.min(...rewards)), 1, "step 2 (2 * 7 = 18) has the lowest reward");
      assert.equal(scored.solutions[0]!.result.implicit!.steps[1]!.topTokens[0]!.text, "8", "its most telling token is the wrong digit");
    } finally {
      await engine.dispose();
    }
  });
});

describe("cpmi_implicit", () => {
  test("CPMI runs on the reference and each step's soft label is the mean of CPMI's and Implicit PRM's", async () => {
    const engine = await createEngine({ modelPath: POLICY, referenceModelPath: DEMO_MODEL, method: "cpmi_implicit", gpu: "off", threads: 1 });
    try {
      assert.equal(engine.backend.info.model, DEMO_MODEL, "CPMI's model is the base model, not the reward-tuned policy");
      const text = readFileSync(path.join(REPO, "examples/wrong-step.md"), "utf8");
      const doc = parseDocument(text, { fileName: "wrong-step.md" });
      const scored = await scoreDocument(engine.scorer, doc, { method: "cpmi_implicit", implicit: engine.implicit, sourceText: text });
      const result = scored.solutions[0]!.result;
      assert.equal(result.method, "cpmi_implicit");
      result.steps.forEach((st, i) => {
        const cpmiSoft = softLabel(st.reward, result.calibration);
        assert.ok(Math.abs(st.softLabel - (cpmiSoft + result.implicit!.steps[i]!.softLabel) / 2) < 1e-12);
      });
      assert.equal(result.firstError, 1, "step 2 is the first error");
    } finally {
      await engine.dispose();
    }
  });
});

describe("steplens with --method implicit", () => {
  const pair = ["--model", POLICY, "--reference-model", DEMO_MODEL, "--threads", "1"];

  test("score --json gives each step's β, log-ratio, q and top tokens", async () => {
    const r = await runCli(["score", "--json", "--method", "implicit", ...pair, "examples/wrong-step.md"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { reference_model: string; solutions: { outcome: number; steps: { reward: number; implicit: { beta: number; log_ratio: number; q: number; top_tokens: { text: string; log_ratio: number }[] } }[] }[] };
    assert.equal(doc.reference_model, DEMO_MODEL);
    let q = 0;
    for (const s of doc.solutions[0]!.steps) {
      assert.equal(s.implicit.beta, 0.05);
      assert.ok(Math.abs(s.reward - 0.05 * s.implicit.log_ratio) < 1e-9);
      assert.ok(Math.abs(s.implicit.q - (q += s.reward)) < 1e-9);
      assert.ok(s.implicit.top_tokens.length > 0 && s.implicit.top_tokens.length <= 5);
    }
    assert.match(r.stderr, /^$/);
  });

  test("label writes implicit rewards and q; eval ranks by them", async () => {
    const input = path.join(tmp, "dev6.jsonl");
    writeFileSync(input, readFileSync(path.join(DATA, "arith-processbench-dev.jsonl"), "utf8").split("\n").slice(0, 6).join("\n") + "\n");
    const output = path.join(tmp, "dev6.labeled.jsonl");
    const stats = path.join(tmp, "stats.json");
    const r = await runCli(["label", input, "-o", output, "--method", "implicit", ...pair, "--stats-json", stats]);
    assert.equal(r.code, 0, r.stderr);
    const rows = readJsonlFile<{ implicit: number[]; q: number[]; soft_label: number[]; method: string; steps: string[]; cpmi?: unknown }>(output);
    assert.equal(rows.length, 6);
    for (const row of rows) {
      assert.equal(row.method, "implicit");
      assert.equal(row.implicit.length, row.steps.length);
      assert.equal(row.cpmi, undefined);
      let q = 0;
      row.q.forEach((v, i) => assert.ok(Math.abs(v - (q += row.implicit[i]!)) < 1e-9));
    }
    const s = JSON.parse(readFileSync(stats, "utf8")) as { tokens_evaluated: number; naive_tokens: number; tokens_generated: number };
    assert.equal(s.tokens_evaluated, s.naive_tokens, "every token once per model");
    assert.equal(s.tokens_generated, 0);
    const e = await runCli(["eval", output, "--score-field", "implicit", "--json"]);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(Number.isFinite((JSON.parse(e.stdout) as { auc: number }).auc));
  });

  test("bon --method implicit-min needs no gold answer and draws no pseudo-gold", async () => {
    const input = path.join(tmp, "bon3.jsonl");
    const items = readFileSync(path.join(DATA, "arith-bon-dev.jsonl"), "utf8").split("\n").slice(0, 3).map((l) => {
      const v = JSON.parse(l) as Record<string, unknown>;
      delete v.gold_answer;
      return JSON.stringify(v);
    });
    writeFileSync(input, items.join("\n") + "\n");
    const output = path.join(tmp, "bon3.out.jsonl");
    const r = await runCli(["bon", input, "-o", output, "--method", "implicit-min", ...pair]);
    assert.equal(r.code, 0, r.stderr);
    const rows = readJsonlFile<{ pick: number; scores: number[]; bon: { target_source: string }; candidates: { is_correct: boolean }[] }>(output);
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(row.bon.target_source, "none");
      assert.equal(row.scores.length, row.candidates.length);
    }
    assert.match(r.stderr, /right pick \(is_correct\) on \d\/3/);
  });
});

describe("bad input for Implicit PRM", () => {
  const existing = path.join(tmp, "kept.jsonl");
  const input = path.join(tmp, "one.jsonl");
  before(() => {
    writeFileSync(input, readFileSync(path.join(DATA, "arith-processbench-dev.jsonl"), "utf8").split("\n")[0] + "\n");
  });
  const cases: { name: string; args: string[]; message: RegExp; code?: number }[] = [
    { name: "a mismatched pair (qwen2 tokenizer as the reference)", args: ["--method", "implicit", "--model", POLICY, "--reference-model", QWEN2], message: /do not share a tokenizer/ },
    { name: "a mismatched pair (llama3 tokenizer as the policy)", args: ["--method", "implicit", "--model", LLAMA3, "--reference-model", DEMO_MODEL], message: /do not share a tokenizer/ },
    { name: "no reference", args: ["--method", "implicit", "--model", POLICY], message: /needs the reference model π_ref: pass --reference-model PATH/, code: 2 },
    { name: "a reference file that does not exist", args: ["--method", "implicit", "--model", POLICY, "--reference-model", path.join(tmp, "nope.gguf")], message: /reference model file not found: .*nope\.gguf/ },
    { name: "a reference without --method implicit", args: ["--model", POLICY, "--reference-model", DEMO_MODEL], message: /--reference-model is used only by --method implicit/, code: 2 },
    { name: "β = 0", args: ["--method", "implicit", "--model", POLICY, "--reference-model", DEMO_MODEL, "--beta", "0"], message: /--beta must be a number above 0/, code: 2 },
    { name: "β < 0", args: ["--method", "implicit", "--model", POLICY, "--reference-model", DEMO_MODEL, "--beta", "-0.05"], message: /--beta must be a number above 0/, code: 2 },
  ];
  for (const c of cases) {
    test(`${c.name}: a clear message, exit ≠ 0, an existing output kept as it was`, async () => {
      const kept = '{"id":"earlier","labeled":true}\n';
      writeFileSync(existing, kept);
      const r = await runCli(["label", input, "-o", existing, ...c.args]);
      assert.notEqual(r.code, 0);
      if (c.code != null) assert.equal(r.code, c.code);
      assert.match(r.stderr, c.message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      assert.equal(readFileSync(existing, "utf8"), kept);
      if (c.message.source.includes("tokenizer")) {
        const named = c.args.filter((a) => a.endsWith(".gguf"));
        for (const f of named) assert.ok(r.stderr.includes(f), `the message names ${f}`);
      }
    });
  }

  test("score refuses the same bad pair with the same message", async () => {
    const r = await runCli(["score", "examples/shopping.md", "--method", "implicit", "--model", POLICY, "--reference-model", QWEN2]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(POLICY) && r.stderr.includes(QWEN2), r.stderr);
  });
});

describe("bench row implicit", () => {
  test("implicit evaluates exactly its floor; cpmi_implicit combines the two rows of the same run", async () => {
    const rows = readJsonlFile<DevRecord>(path.join(DATA, "arith-processbench-dev.jsonl")).slice(0, 6);
    const records = rows.map((r) => ({ id: r.id, problem: r.problem, steps: r.steps.map((s) => stripStepPrefix(s).text), gold: r.gold_answer, label: r.label, written: writtenFromRecord(r) }));
    const result = await runLabelingBench(records, {
      modelPath: DEMO_MODEL,
      gpu: "off",
      threads: 1,
      parallel: 2,
      cpmi: { templates: "question-answer-is", negatives: 1, negativesFrom: "solution" },
      methods: ["cpmi", "implicit", "cpmi_implicit"],
      implicit: { policyPath: POLICY, referencePath: DEMO_MODEL, beta: BETA },
    });
    const imp = result.methods.implicit!;
    assert.equal(imp.tokens_evaluated, imp.tokens_floor);
    assert.equal(imp.tokens_generated, 0);
    assert.ok(result.methods.cpmi_implicit!.tokens_evaluated === imp.tokens_evaluated + result.methods.cpmi!.tokens_evaluated);
    result.scores.cpmi_implicit!.forEach((row, k) => row.forEach((v, i) => assert.ok(Math.abs(v - (result.scores.cpmi![k]![i]! + result.scores.implicit![k]![i]!) / 2) < 1e-12)));
  });
});
