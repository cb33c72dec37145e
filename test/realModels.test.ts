// A GSM8K solution scored end to end (CLI) with the demo model and both real-tokenizer fixtures,
// prompt formats and --explain-prompt, and long solutions on a context that grows as they need it.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { CpmiScorer, DEFAULT_CPMI } from "../server/engine/cpmi/scorer.js";
import { resolveTemplates, TEMPLATE_SETS } from "../server/engine/cpmi/templates.js";
import { DATA, DEMO_MODEL, REPO, runCli, SHARED } from "./helpers.js";

const QWEN = path.join(SHARED, "models/qwen2-tokenizer-tiny-random-q8_0.gguf");
const LLAMA3 = path.join(SHARED, "models/llama3-tokenizer-tiny-random-q8_0.gguf");
const GSM8K = path.join(REPO, "bench/fixtures/gsm8k-six-steps.md");

interface ScoreJson {
  prompt_format: string;
  templates: string[];
  solutions: { steps: { reward: number | null; truncated: boolean }[]; negatives: { value: string }[] }[];
}

describe("a GSM8K solution scored with each model", () => {
  test("the solution is GSM8K's own: test.jsonl's record for the problem, calculator notes and all", () => {
    // The fixture only adds a front matter (the gold answer) and the Question:/Answer: headers.
    const fixture = readFileSync(GSM8K, "utf8");
    const records = readFileSync(path.join(DATA, "gsm8k/test.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { question: string; answer: string });
    const record = records.find((r) => fixture.includes(`Question: ${r.question}\n`));
    assert.ok(record, "the fixture's question is a GSM8K test question");
    assert.ok(fixture.includes(`Answer:\n${record.answer}\n`), "and its answer is that record's, line for line");
    assert.match(fixture, new RegExp(`^---\nanswer: ${record.answer.split("#### ")[1]}\n---\n`));
  });

  for (const [name, model, format, marker] of [
    ["demo", DEMO_MODEL, "raw", "Question: John buys"],
    ["Qwen2.5 tokenizer", QWEN, "chat", "<|im_start|>assistant\n"],
    ["Llama 3 tokenizer", LLAMA3, "chat", "<|start_header_id|>assistant<|end_header_id|>\n\n"],
  ] as const) {
    test(`${name}: auto picks ${format} prompts, every step gets a finite reward, and --explain-prompt shows the text`, async () => {
      const run = await runCli(["score", GSM8K, "--model", model, "--gpu", "off", "--threads", "1", "--json"]);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout) as ScoreJson;
      assert.equal(out.prompt_format, format);
      assert.equal(out.templates.length, 3);
      assert.ok(out.templates.every((t) => (format === "chat") === t.startsWith("chat-")), out.templates.join(","));
      const steps = out.solutions[0]!.steps;
      assert.equal(steps.length, 6);
      assert.ok(steps.every((s) => s.reward != null && Number.isFinite(s.reward) && !s.truncated), JSON.stringify(steps));

      const explained = await runCli(["score", GSM8K, "--model", model, "--gpu", "off", "--threads", "1", "--explain-prompt", "6"]);
      assert.equal(explained.code, 0, explained.stderr);
      assert.ok(explained.stdout.includes(marker), explained.stdout);
      assert.ok(explained.stdout.includes("So he spent $200 + $600 = $800 on ties\n"), "step 6 as the model sees it (calculator notes removed)");
      assert.match(explained.stdout, /⟦.*800.*⟧/);
      assert.match(explained.stdout, format === "raw" || name.startsWith("Llama") ? /starts with the BOS token/ : /no BOS token first/);
    });
  }

  test("--templates reference keeps its raw prompts on any model (the engine sized its sequences without resolving it as chat)", async () => {
    const run = await runCli(["score", GSM8K, "--model", DEMO_MODEL, "--gpu", "off", "--threads", "1", "--templates", "reference", "--quality", "fast", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as ScoreJson;
    assert.equal(out.prompt_format, "raw");
    assert.deepEqual(out.templates, [TEMPLATE_SETS.reference![0]], "fast quality: the first of the reference set");
    assert.ok(out.solutions[0]!.steps.every((s) => s.reward != null && Number.isFinite(s.reward)));
  });

  test("--prompt-format chat on a model without a chat template is refused with a message; raw works on a chat model", async () => {
    const refused = await runCli(["score", GSM8K, "--model", DEMO_MODEL, "--gpu", "off", "--prompt-format", "chat"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /needs a model with a chat template/);
    const raw = await runCli(["score", GSM8K, "--model", QWEN, "--gpu", "off", "--threads", "1", "--prompt-format", "raw", "--quality", "fast", "--json"]);
    assert.equal(raw.code, 0, raw.stderr);
    const out = JSON.parse(raw.stdout) as ScoreJson;
    assert.equal(out.prompt_format, "raw");
    assert.deepEqual(out.templates, ["question-answer-is"], "fast quality: one template");
  });
});

describe("long solutions on the Qwen2.5 tokenizer (context 4,096)", () => {
  let backend: LlamaCppBackend;
  before(async () => {
    backend = await LlamaCppBackend.load({ modelPath: QWEN, gpu: "off", threads: 1, branches: 5, walkers: 1 });
  });
  after(async () => backend?.dispose());

  const problem = "A shop sells pens. How many pens are there after all the deliveries?";
  const stepsOf = (n: number): string[] => Array.from({ length: n }, (_, i) => `Delivery ${i + 1} brings ${i + 3} boxes of 12 pens, so ${(i + 3) * 12} more pens arrive and the count goes up by that much.`);

  test("a solution longer than the first allocation is scored whole: the context grows to what it needs", async () => {
    assert.equal(backend.info.contextSize, 4096, "what a text may use: the model's training context");
    assert.ok(backend.allocatedContextSize <= 1024, `starts small: ${backend.allocatedContextSize}`);
    const scorer = new CpmiScorer(backend, { ...DEFAULT_CPMI, templates: resolveTemplates("question-answer-is"), negativesFrom: "solution", samplesPerPrefix: 0 });
    const steps = stepsOf(60);
    const tokens = (await backend.tokenize(steps.join("\n"))).length;
    assert.ok(tokens > 1500 && tokens < 3500, `${tokens} tokens of steps`);
    const out = await scorer.score({ problem, steps, gold: { value: "999", source: "record" } });
    assert.equal(out.steps.filter((s) => s.truncated).length, 0, out.warnings.join("; "));
    assert.ok(out.steps.every((s) => Number.isFinite(s.reward)));
    assert.ok(backend.allocatedContextSize >= tokens && backend.allocatedContextSize <= 4096, `allocated ${backend.allocatedContextSize}`);
  });

  test("beyond the model's context, the steps that do not fit are reported one by one as not scored", async () => {
    const scorer = new CpmiScorer(backend, { ...DEFAULT_CPMI, templates: resolveTemplates("question-answer-is"), negativesFrom: "solution", samplesPerPrefix: 0 });
    const steps = stepsOf(150);
    const out = await scorer.score({ problem, steps, gold: { value: "999", source: "record" } });
    const cut = out.steps.findIndex((s) => s.truncated);
    assert.ok(cut > 60 && cut < 150, `first step not scored: ${cut + 1}`);
    assert.ok(out.steps.slice(cut).every((s) => s.truncated && Number.isNaN(s.reward)));
    assert.ok(out.steps.slice(0, cut).every((s) => !s.truncated && Number.isFinite(s.reward)));
    assert.match(out.warnings.join("\n"), new RegExp(`context \\(4096 tokens\\): steps ${cut + 1}-150 were not scored`));
  });
});
