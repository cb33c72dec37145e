// Implicit PRM behind `steplens serve --reference-model` (issue 13): /v1/score and /v1/bon take the
// method, and `--backend remote` scores implicit with both models on the server. A real server (the
// built CLI, the demo pair: arith-implicit-prm-15m as the policy, the demo model as its reference) on
// loopback; every number is held against the same command run locally on the same files.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DATA, DEMO_MODEL, REPO, SHARED, readJsonlFile, runCli } from "./helpers.js";
import { postJson, startChild, startInProcess, type InProcessServer } from "./serveHelpers.js";

const POLICY = path.join(SHARED, "models/arith-implicit-prm-15m-f16.gguf");
const WRONG = path.join(REPO, "examples/wrong-step.md");
const wrongText = readFileSync(WRONG, "utf8");
const TOKEN = "serve-implicit-token-0123456789abcdef";
const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-serve-implicit-"));

interface ImplicitJson {
  beta: number;
  log_ratio: number;
  q: number;
  tokens: number;
  top_tokens: { text: string; log_ratio: number }[];
}
interface StepOut {
  soft_label: number | null;
  reward: number | null;
  verdict: string;
  implicit?: ImplicitJson | null;
}
interface SolutionOut {
  method?: string;
  outcome?: number;
  steps: StepOut[];
}

const cli = (args: string[]) => runCli(args, { NO_COLOR: "1", STEPLENS_TOKEN: "" });

/** `steplens score --json` on wrong-step.md with these flags: the first solution. */
async function scoreJson(args: string[]): Promise<SolutionOut> {
  const r = await cli(["score", WRONG, "--json", "--gpu", "off", "--threads", "1", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { solutions: SolutionOut[] }).solutions[0]!;
}

function assertSameSteps(got: SolutionOut, want: SolutionOut, what: string): void {
  assert.equal(got.steps.length, want.steps.length, `${what}: step count`);
  got.steps.forEach((s, i) => {
    const w = want.steps[i]!;
    assert.ok(Math.abs(s.soft_label! - w.soft_label!) < 1e-6, `${what} step ${i + 1}: soft label ${s.soft_label} vs ${w.soft_label}`);
    assert.equal(s.verdict, w.verdict, `${what} step ${i + 1}: verdict`);
    if (w.implicit) {
      assert.ok(s.implicit, `${what} step ${i + 1} carries Implicit PRM's terms`);
      assert.ok(Math.abs(s.implicit.log_ratio - w.implicit.log_ratio) < 1e-6, `${what} step ${i + 1}: log-ratio ${s.implicit.log_ratio} vs ${w.implicit.log_ratio}`);
      assert.ok(Math.abs(s.implicit.q - w.implicit.q) < 1e-6, `${what} step ${i + 1}: q`);
      assert.equal(s.implicit.tokens, w.implicit.tokens, `${what} step ${i + 1}: tokens of the step`);
      assert.deepEqual(s.implicit.top_tokens.map((t) => t.text), w.implicit.top_tokens.map((t) => t.text), `${what} step ${i + 1}: top tokens`);
    }
  });
}

let child: ChildProcess | undefined;
let url = "";
let exited: Promise<number | null> | undefined;
let serveLog: () => string = () => "";
let localImplicit: SolutionOut;
let localCpmi: SolutionOut;

after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const post = async (route: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
  const res = await postJson(`${url}${route}`, body, { token: TOKEN });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

describe("steplens serve --reference-model", () => {
  before(async () => {
    // --model twice: startChild passes the demo model first; the later --model (the policy) wins, as for a user.
    const s = await startChild(["--model", POLICY, "--reference-model", DEMO_MODEL, "--host", "127.0.0.1", "--token", TOKEN, "--quiet"]);
    child = s.child;
    url = s.url;
    exited = s.exited;
    serveLog = s.stderr;
    localImplicit = await scoreJson(["--method", "implicit", "--model", POLICY, "--reference-model", DEMO_MODEL]);
    localCpmi = await scoreJson(["--model", DEMO_MODEL]);
  });

  after(async () => {
    if (child && child.exitCode == null) child.kill("SIGTERM");
    await exited;
  });

  test("it says it holds the pair, and /v1/model lists the pair methods with both models and β", async () => {
    assert.match(serveLog(), /Implicit PRM pair: policy .*arith-implicit-prm-15m-f16\.gguf, reference .*arith-demo-15m-f16\.gguf, β 0\.05/);
    const res = await fetch(`${url}/v1/model`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    const info = (await res.json()) as { methods?: string[]; pair?: { policy: string; reference: string; beta: number } };
    assert.ok(info.methods?.includes("implicit") && info.methods.includes("cpmi_implicit") && info.methods.includes("cpmi"), JSON.stringify(info.methods));
    assert.deepEqual({ policy: info.pair?.policy, reference: info.pair?.reference, beta: info.pair?.beta }, { policy: "arith-implicit-prm-15m-f16.gguf", reference: "arith-demo-15m-f16.gguf", beta: 0.05 });
  });

  test("/v1/score with method implicit equals `steplens score --method implicit` run locally; without a method it is CPMI on the reference", async () => {
    const implicit = await post("/v1/score", { text: wrongText, file_name: "wrong-step.md", method: "implicit" });
    assert.equal(implicit.status, 200, JSON.stringify(implicit.json));
    const solutions = implicit.json.solutions as SolutionOut[];
    assert.equal(solutions[0]!.method, "implicit");
    assertSameSteps(solutions[0]!, localImplicit, "/v1/score implicit");
    // β × Σ log-ratio per step, q its running sum: the terms the server sends are the method's own.
    let q = 0;
    for (const s of solutions[0]!.steps) {
      assert.ok(Math.abs(s.reward! - 0.05 * s.implicit!.log_ratio) < 1e-9);
      assert.ok(Math.abs(s.implicit!.q - (q += s.reward!)) < 1e-9);
    }

    const cpmi = await post("/v1/score", { text: wrongText, file_name: "wrong-step.md" });
    assert.equal(cpmi.status, 200, JSON.stringify(cpmi.json));
    const c = (cpmi.json.solutions as SolutionOut[])[0]!;
    assert.equal(c.method, "cpmi");
    assertSameSteps(c, localCpmi, "/v1/score cpmi on the server's reference");
    assert.ok(c.steps.every((s) => s.implicit == null), "CPMI alone sends no Implicit PRM terms");
  });

  test("/v1/score with steps and method implicit reads no gold answer and says nothing about one", async () => {
    const r = await post("/v1/score", { problem: "What is 2 × 7 + 3?", steps: ["Step 1: 2 × 7 = 14.", "Step 2: 14 + 3 = 17.", "The answer is 17."], method: "implicit" });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.method, "implicit");
    assert.ok(!(r.json.warnings as string[]).some((w) => /gold answer/.test(w)), JSON.stringify(r.json.warnings));
    assert.ok((r.json.steps as StepOut[]).every((s) => typeof s.implicit?.log_ratio === "number"));
  });

  test("/v1/bon with method implicit-min picks as `steplens bon --method implicit-min` does locally", async () => {
    const record = readJsonlFile<{ id: string; problem: string; gold_answer: string; candidates: { text: string }[] }>(path.join(DATA, "arith-bon-dev.jsonl"))[0]!;
    const small = { id: record.id, problem: record.problem, candidates: record.candidates.slice(0, 4).map((c) => ({ text: c.text })) };
    const input = path.join(tmp, "bon.jsonl");
    const output = path.join(tmp, "bon-out.jsonl");
    writeFileSync(input, JSON.stringify(small) + "\n");
    const local = await cli(["bon", input, "-o", output, "--method", "implicit-min", "--model", POLICY, "--reference-model", DEMO_MODEL, "--gpu", "off", "--threads", "1"]);
    assert.equal(local.code, 0, local.stderr);
    const want = readJsonlFile<{ scores: number[]; pick: number }>(output)[0]!;

    const r = await post("/v1/bon", { problem: small.problem, candidates: small.candidates, method: "implicit-min" });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.method, "implicit-min");
    const scores = r.json.scores as number[];
    assert.equal(scores.length, 4);
    scores.forEach((s, i) => assert.ok(Math.abs(s - want.scores[i]!) < 1e-5, `candidate ${i}: ${s} vs ${want.scores[i]}`));
    assert.equal(r.json.pick, want.pick);
  });

  test("backend requests name a model of the pair; a token id outside the vocabulary is a 400, and the server keeps answering", async () => {
    const policy = await post("/v1/backend/tokenize", { text: "2 × 7 = 18", model: "policy" });
    const reference = await post("/v1/backend/tokenize", { text: "2 × 7 = 18", model: "reference" });
    assert.equal(policy.status, 200);
    assert.deepEqual(policy.json.tokens, reference.json.tokens, "the pair shares one tokenizer");
    const back = await post("/v1/backend/detokenize", { tokens: policy.json.tokens, model: "policy" });
    assert.equal(back.json.text, "2 × 7 = 18");
    for (const [route, body] of [
      ["/v1/backend/detokenize", { tokens: [1, 10_000_000], model: "policy" }],
      ["/v1/backend/token-logprobs", { tokens: [1, 10_000_000], from: 1, model: "reference" }],
    ] as const) {
      const bad = await post(route, body);
      assert.equal(bad.status, 400, `${route}: ${JSON.stringify(bad.json)}`);
      assert.match((bad.json.error as { message: string }).message, /"tokens\[1\]" is 10000000, outside the model's vocabulary \(ids 0 to \d+\)/);
    }
    const still = await fetch(`${url}/health`);
    assert.equal(still.status, 200, "an out-of-vocabulary id did not take the server down");
  });

  test("--backend remote --method implicit and cpmi_implicit score with both models on the server, as local runs do", async () => {
    const remote = ["--backend", "remote", "--endpoint", url, "--token", TOKEN];
    assertSameSteps(await scoreJson(["--method", "implicit", ...remote]), localImplicit, "remote implicit");
    const localCombined = await scoreJson(["--method", "cpmi_implicit", "--model", POLICY, "--reference-model", DEMO_MODEL]);
    assertSameSteps(await scoreJson(["--method", "cpmi_implicit", ...remote]), localCombined, "remote cpmi_implicit");
    // The pair is the server's: a local reference is refused, saying why.
    const refused = await cli(["score", WRONG, "--method", "implicit", ...remote, "--reference-model", DEMO_MODEL]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /with --backend remote both models of method implicit are the server's: drop --reference-model/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, "no stack trace");
  });
});

describe("steplens serve with one model", () => {
  let s: InProcessServer;
  before(async () => {
    s = await startInProcess({ token: TOKEN });
  });
  after(async () => {
    await s.stop();
  });

  test("a pair method is a 400 that says how to start the server, on /v1/score, /v1/bon and through --backend remote", async () => {
    const score = await postJson(`${s.url}/v1/score`, { text: wrongText, method: "implicit" }, { token: TOKEN });
    assert.equal(score.status, 400);
    const body = (await score.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "no-pair");
    assert.match(body.error.message, /method implicit needs Implicit PRM's model pair, and this server holds one model: start it with `steplens serve --model POLICY --reference-model REF`/);
    const bon = await postJson(`${s.url}/v1/bon`, { problem: "1 + 1?", candidates: [{ text: "Step 1: 1 + 1 = 2.\nThe answer is 2." }], method: "implicit-min" }, { token: TOKEN });
    assert.equal(bon.status, 400);
    assert.equal(((await bon.json()) as { error: { code: string } }).error.code, "no-pair");

    const r = await cli(["score", WRONG, "--method", "implicit", "--backend", "remote", "--endpoint", s.url, "--token", TOKEN]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--reference-model/, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });
});

