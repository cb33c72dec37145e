// The llama-server backend against a real llama-server (built from node-llama-cpp's bundled llama.cpp,
// scripts/build-llama-server.mjs) serving the demo model on loopback, compared with the local backend.
//
// Tolerances: both sides run the same llama.cpp release on the same weights, but not the same
// binary (node-llama-cpp's prebuilt vs. a native build) nor the same batches (the local backend
// evaluates a continuation's tokens in one batch, the server one token per decode), and llama.cpp's
// CPU kernels give slightly different logits for the same tokens in different batches (f16 weights).
// The local backend disagrees with itself by as much: prefix cache on vs. off on 40 dev records,
// max |Δ gold lp| 4.8e-3 and |Δ reward| 6.3e-4 (bench/llamaServerAgreement.ts; llama-server vs local
// on the same records: 1.6e-3 and 5.1e-4; the noise floor is over the first 10 records). On the 4
// records here: |Δ reward| 4.5e-4, |Δ soft label| 1.4e-4, |Δ gold lp| 7.4e-4. The CPMI bounds (1e-3
// reward, 5e-4 soft label, 5e-3 gold log-prob) sit just above that noise floor (6.3e-4, 2.2e-4,
// 4.8e-3) and far below the reward difference of 0.15 that moves a soft label by 0.05; single token
// log-probabilities, which the means above smooth, keep 1e-2.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { forcedTokensGrammar, LlamaServerBackend } from "../server/engine/backend/llamaServer.js";
import { OpenAiBackend } from "../server/engine/backend/openai.js";
import { BackendError } from "../server/engine/backend/types.js";
import { loadDemo } from "./helpers.js";
import { freePort, startLlamaServer, type RunningLlamaServer } from "./llamaServerProcess.js";
import { agreement, agreementConfig, devRecords, scoreAll } from "./backendAgreement.js";

const LP_TOLERANCE = 1e-2;
const GOLD_LP_TOLERANCE = 5e-3;
const REWARD_TOLERANCE = 1e-3;
const SOFT_LABEL_TOLERANCE = 5e-4;

describe("llama-server backend (real llama-server on loopback)", { timeout: 45 * 60_000 }, () => {
  let server: RunningLlamaServer;
  let remote: LlamaServerBackend;
  let local: LlamaCppBackend;

  before(async () => {
    // The first run on a machine builds llama-server (CI does it in .ci/run before npm test).
    server = await startLlamaServer({ slots: 1, threads: 1 });
    remote = await LlamaServerBackend.connect({ endpoint: server.url });
    local = await loadDemo({ threads: 1, walkers: 2 });
  });

  after(async () => {
    await local?.dispose();
    await server?.stop();
  });

  test("reads the server's model, context and slots from /props", () => {
    assert.equal(remote.info.kind, "llama-server");
    assert.match(remote.info.model, /arith-demo-15m-f16\.gguf$/);
    assert.equal(remote.info.contextSize, 512);
    assert.equal(remote.parallel, 1);
  });

  test("tokenizes like the local backend (no BOS added; special-token text parsed, as a prompt is)", async () => {
    for (const text of ["Question: 9 × 3 = 27\nThe answer is 46.", " 1234567.", "<s> is a special token"]) {
      assert.deepEqual(await remote.tokenize(text), await local.tokenize(text), text);
    }
  });

  test("teacher-forced log-probabilities equal the local backend's, token by token", async () => {
    const prefix = "Question: Yuki is 9 years old. How old is Yuki in 3 years?\nAnswer: Let's think step by step.\n9 + 3 = 12\nThe answer is";
    const continuations = [" 12.", " 13.", " 120.", "12."];
    const rs = await remote.openSession();
    const ls = await local.openSession();
    try {
      const a = await rs.scoreContinuations(prefix, continuations);
      const b = await ls.scoreContinuations(prefix, continuations);
      a.forEach((x, k) => {
        assert.equal(x.tokenLogprobs.length, b[k]!.tokenLogprobs.length, continuations[k]!);
        x.tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - b[k]!.tokenLogprobs[j]!) < LP_TOLERANCE, `${continuations[k]} token ${j}: ${lp} vs ${b[k]!.tokenLogprobs[j]}`));
      });
      // The model prefers the right answer, and a missing space costs a lot: a constant would fail here.
      assert.ok(a[0]!.meanLogprob > a[1]!.meanLogprob);
      assert.ok(a[3]!.meanLogprob < a[0]!.meanLogprob - 5);
      // A token merged across the boundary ("i" + "s" -> "is") counts to the continuation on both sides.
      const merged = "Question: 2 + 2?\nThe answer i";
      const [m] = await rs.scoreContinuations(merged, ["s 4."]);
      const [n] = await ls.scoreContinuations(merged, ["s 4."]);
      assert.equal(m!.tokenLogprobs.length, n!.tokenLogprobs.length);
      assert.ok(Math.abs(m!.meanLogprob - n!.meanLogprob) < LP_TOLERANCE);
    } finally {
      rs.release();
      ls.release();
    }
  });

  test("CPMI through llama-server matches the local backend on a dev-set slice", async (t) => {
    const config = agreementConfig("reference");
    const records = devRecords(4);
    const viaServer = await scoreAll(remote, config, records);
    const viaLocal = await scoreAll(local, config, records);
    const d = agreement(viaServer, viaLocal);
    t.diagnostic(`llama-server vs local on ${d.steps} steps: max |Δ gold lp| ${d.maxGoldLp.toExponential(2)}, |Δ reward| ${d.maxReward.toExponential(2)}, |Δ soft label| ${d.maxSoftLabel.toExponential(2)}`);
    assert.equal(d.negativeMismatches, 0);
    assert.ok(d.steps >= 8, `only ${d.steps} steps compared`);
    assert.ok(d.maxGoldLp < GOLD_LP_TOLERANCE, `max |Δ gold lp| ${d.maxGoldLp}`);
    assert.ok(d.maxReward < REWARD_TOLERANCE, `max |Δ reward| ${d.maxReward}`);
    assert.ok(d.maxSoftLabel < SOFT_LABEL_TOLERANCE, `max |Δ soft label| ${d.maxSoftLabel}`);
  });

  test("samples are reproducible per seed and cut at the first complete number", async () => {
    const s = await remote.openSession();
    try {
      const prefix = "Question: A box holds 6 pens. How many pens are in 4 boxes?\nAnswer: Let's think step by step.\n6 * 4 = 24\nThe answer is";
      const options = { n: 4, maxTokens: 6, temperature: 1, seed: 7, stopAt: "number" as const };
      const first = await s.sample(prefix, options);
      const again = await s.sample(prefix, options);
      assert.equal(first.length, 4);
      assert.deepEqual(again, first);
      for (const text of first) {
        const m = /-?\d+(?:[.,]\d+)*/.exec(text);
        // Nothing may follow the number but the one character that ended it.
        if (m) assert.ok(text.length - (m.index + m[0].length) <= 1, JSON.stringify(text));
      }
      assert.ok(s.counters.generated > 0);
    } finally {
      s.release();
    }
  });

  test("the openai backend pointed at llama-server says to use the llama-server backend", async () => {
    // llama-server's /v1/completions takes echo but returns log-probabilities of generated tokens only.
    await assert.rejects(OpenAiBackend.connect({ endpoint: `${server.url}/v1` }), (err: unknown) => err instanceof BackendError && err.message.includes(`--backend llama-server --endpoint ${server.url}`));
  });

  test("the forcing grammar is llama.cpp's token-id syntax", () => {
    assert.equal(forcedTokensGrammar([12, 345]), "root ::= <[12]> <[345]>");
  });

  test("an address where no server listens fails with a message naming it", async () => {
    const port = await freePort();
    await assert.rejects(
      LlamaServerBackend.connect({ endpoint: `http://127.0.0.1:${port}`, retries: 1 }),
      (err: unknown) => err instanceof BackendError && err.message.includes(`127.0.0.1:${port}`) && /Is the server running/.test(err.message),
    );
  });
});
