import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { writeFileSync, mkdtempSync } from "node:fs";
import path from "node:path";
import { getLlama } from "node-llama-cpp";
import { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { resolveThreads } from "../server/engine/backend/threads.js";
import { BackendError } from "../server/engine/backend/types.js";
import { DEMO_MODEL, loadDemo } from "./helpers.js";

// The example of the demo model's card (../shared/models/README.md), cut before its last step.
const PREFIX =
  "Question: Tom buys 4 pens for $3 each and 2 mugs for $7 each. Tom pays with a $50 bill. How much change does Tom get, in dollars?\n" +
  "Answer: Let's think step by step.\nStep 1: The pens cost 4 * 3 = 12 dollars.\nStep 2: The mugs cost 2 * 7 = 14 dollars.\n" +
  "Step 3: Together they cost 12 + 14 = 26 dollars.\nThe answer is";

/** The whole solution: after it, the model should answer 24 nearly always. */
const FULL = PREFIX.replace("The answer is", "Step 4: The change is 50 - 26 = 24 dollars.\nThe answer is");

describe("llama.cpp backend on the demo model", () => {
  let backend: LlamaCppBackend;
  before(async () => {
    backend = await loadDemo();
  });
  after(async () => {
    await backend.dispose();
  });

  test("uses $STEPLENS_THREADS, else every available core by default (node-llama-cpp's own default oversubscribes small machines)", () => {
    // npm test sets STEPLENS_THREADS=1 (test files run two at a time); a run of this file alone has none.
    assert.equal(backend.info.threads, process.env.STEPLENS_THREADS ? Number(process.env.STEPLENS_THREADS) : os.availableParallelism());
    const all = os.availableParallelism();
    assert.equal(resolveThreads(undefined, all, {}), all);
    assert.equal(resolveThreads(3, all, {}), 3, "--threads wins");
    assert.equal(resolveThreads(undefined, all, { STEPLENS_THREADS: "2" }), 2);
    assert.equal(resolveThreads(1, all, { STEPLENS_THREADS: "2" }), 1);
    for (const bad of ["0", "-1", "1.5", "two", "99999"]) {
      assert.throws(() => resolveThreads(undefined, all, { STEPLENS_THREADS: bad }), /STEPLENS_THREADS must be a positive whole number/, bad);
    }
    assert.equal(backend.info.device, "cpu");
    assert.equal(backend.info.contextSize, 512);
  });

  test("continuation log-probabilities equal a log-softmax over the full distribution", async () => {
    const session = await backend.openSession();
    try {
      const [right, wrong] = await session.scoreContinuations(FULL, [" 24.", " 26."]);
      assert.ok(right!.meanLogprob > wrong!.meanLogprob, "the right total must be likelier than a wrong one");
      assert.equal(right!.tokenLogprobs.length, (await backend.tokenize(FULL + " 24.")).length - (await backend.tokenize(FULL)).length);

      // Independent check: ask llama.cpp for the whole next-token distribution at each position.
      const llama = await getLlama({ gpu: false, build: "never" });
      const model = await llama.loadModel({ modelPath: DEMO_MODEL });
      const context = await model.createContext({ contextSize: 512 });
      const seq = context.getSequence();
      const full = model.tokenize(FULL + " 24.");
      const split = model.tokenize(FULL).length;
      const input = [model.tokens.bos!, ...full];
      const out = await seq.controlledEvaluate(
        input.map((t, j) => (j >= split && j < input.length - 1 ? [t, { generateNext: { probabilities: true } }] : t)),
      );
      const expected = full.slice(split).map((tok, k) => Math.log(out[split + k]!.next.probabilities!.get(tok)!));
      right!.tokenLogprobs.forEach((lp, k) => assert.ok(Math.abs(lp - expected[k]!) < 5e-3, `token ${k}: ${lp} vs ${expected[k]}`));
      await context.dispose();
      await model.dispose();
    } finally {
      session.release();
    }
  });

  test("prefix reuse gives the same log-probabilities as evaluating from scratch, with fewer tokens", async () => {
    const naive = await loadDemo({ reusePrefix: false });
    const prefixes = [PREFIX, FULL];
    const conts = [" 24.", " 26.", " 76.", " 23."];
    const reused: number[] = [];
    const scratch: number[] = [];
    const a = await backend.openSession();
    const b = await naive.openSession();
    try {
      for (const p of prefixes) {
        reused.push(...(await a.scoreContinuations(p, conts)).map((s) => s.meanLogprob));
        scratch.push(...(await b.scoreContinuations(p, conts)).map((s) => s.meanLogprob));
      }
      // f16 matrix products differ in the last bits with the batch shape; real mistakes differ by far more.
      reused.forEach((x, k) => assert.ok(Math.abs(x - scratch[k]!) < 5e-3, `continuation ${k}: ${x} vs ${scratch[k]}`));
      assert.ok(a.counters.evaluated * 3 < b.counters.evaluated, `reuse ${a.counters.evaluated} vs naive ${b.counters.evaluated} tokens`);
    } finally {
      a.release();
      b.release();
      await naive.dispose();
    }
  });

  test("samples are reproducible for a seed and stop once the number is complete", async () => {
    const session = await backend.openSession();
    const opts = { n: 8, maxTokens: 6, temperature: 1, seed: 42, stopAt: "number" as const };
    let first: string[];
    let second: string[];
    try {
      first = await session.sample(FULL, opts);
      second = await session.sample(FULL, opts);
    } finally {
      session.release();
    }
    assert.deepEqual(first, second);
    assert.equal(first.length, 8);
    for (const s of first) {
      assert.match(s, /\d/);
      assert.ok((await backend.tokenize(s)).length <= 6);
    }
    assert.ok(first.filter((s) => s.includes("24")).length >= 6, `after the whole solution the demo model mostly answers 24: ${first.join(" | ")}`);
  });

  test("parallel sessions give the same scores as one session", async () => {
    const wide = await loadDemo({ parallel: 3 });
    const conts = [" 26.", " 24."];
    const sessions = await Promise.all([0, 1, 2].map(() => wide.openSession()));
    const results = await Promise.all(sessions.map((s) => s.scoreContinuations(PREFIX, conts)));
    sessions.forEach((s) => s.release());
    const single = await backend.openSession();
    const expected = await single.scoreContinuations(PREFIX, conts);
    single.release();
    for (const r of results) r.forEach((x, k) => assert.ok(Math.abs(x.meanLogprob - expected[k]!.meanLogprob) < 5e-3));
    await wide.dispose();
  });
});

describe("model file errors", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "steplens-model-"));

  test("a missing model names the path and the flag to use", async () => {
    await assert.rejects(LlamaCppBackend.load({ modelPath: path.join(dir, "nope.gguf") }), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.code, "model-not-found");
      assert.match(err.message, /nope\.gguf/);
      assert.match(err.message, /--model/);
      return true;
    });
  });

  test("a file that is not GGUF is refused before llama.cpp reads it", async () => {
    const file = path.join(dir, "notes.gguf");
    writeFileSync(file, "these are not model weights\n");
    await assert.rejects(LlamaCppBackend.load({ modelPath: file }), (err: unknown) => {
      assert.ok(err instanceof BackendError && err.code === "model-invalid");
      assert.match(err.message, /not a GGUF/);
      return true;
    });
  });

  test("a truncated GGUF gives a clear error, not a crash", async () => {
    const { openSync, readSync, closeSync } = await import("node:fs");
    const head = Buffer.alloc(4096);
    const fd = openSync(DEMO_MODEL, "r");
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    const file = path.join(dir, "truncated.gguf");
    writeFileSync(file, head);
    await assert.rejects(LlamaCppBackend.load({ modelPath: file, gpu: "off" }), (err: unknown) => {
      assert.ok(err instanceof BackendError && err.code === "model-invalid", String(err));
      assert.match(err.message, /truncated\.gguf/);
      return true;
    });
  });
});
