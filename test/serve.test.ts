// `steplens serve` over real HTTP on loopback with the real demo model: auth, limits, the bounded
// queue, cancellation when a client goes away, the engine endpoints, and graceful shutdown of the
// built CLI on SIGTERM.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseDocument } from "../server/engine/parse/index.js";
import { scoreDocument } from "../server/engine/scoreDocument.js";
import { chooseToken } from "../server/serve/auth.js";
import { DATA, readJsonlFile, REPO } from "./helpers.js";
import { postJson, startChild, startInProcess, waitFor, type InProcessServer } from "./serveHelpers.js";

const TOKEN = "test-token-0123456789abcdef";
const records = readJsonlFile<{ id: string; problem: string; steps: string[]; gold_answer: string }>(path.join(DATA, "arith-processbench-dev.jsonl"));

interface QueueStats {
  running: number;
  waiting: number;
  cancelled: number;
  rejected: number;
  completed: number;
}

async function metrics(s: InProcessServer): Promise<QueueStats> {
  const res = await fetch(`${s.url}/v1/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { queue: QueueStats }).queue;
}

describe("steplens serve (in-process)", () => {
  let s: InProcessServer;
  before(async () => {
    s = await startInProcess({ token: TOKEN, limits: { maxBodyBytes: 64 * 1024, maxSteps: 20, maxQueue: 1 }, concurrency: 1 });
  });
  after(async () => s.stop());

  test("/health answers without a token and tells nothing else", async () => {
    const res = await fetch(`${s.url}/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  });

  test("no token or a wrong one: 401 with a JSON error; the right one: the model info", async () => {
    const wrong: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }];
    for (const headers of wrong) {
      const res = await fetch(`${s.url}/v1/model`, { headers });
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate") ?? "", /Bearer/);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "unauthorized");
    }
    const res = await postJson(`${s.url}/v1/score`, { problem: "1+1?", steps: ["1 + 1 = 2."] });
    assert.equal(res.status, 401, "POST endpoints need the token too");
    const ok = await fetch(`${s.url}/v1/model`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    const info = (await ok.json()) as { name: string; device: string; context_size: number; engine: { negatives: number }; limits: { max_queue: number } };
    assert.equal(info.name, "arith-demo-15m-f16.gguf");
    assert.equal(info.device, "cpu");
    assert.ok(info.context_size > 0);
    assert.equal(info.engine.negatives, 4);
    assert.equal(info.limits.max_queue, 1);
  });

  test("an oversized body is refused with 413 before it is parsed; too many steps too", async () => {
    const big = await postJson(`${s.url}/v1/score`, { problem: "x", text: "Step 1: 1 + 1 = 2.\n".repeat(5000) }, { token: TOKEN });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, "body-too-large");
    const long = await postJson(`${s.url}/v1/score`, { problem: "x", steps: Array.from({ length: 21 }, (_, i) => `${i} + 1 = ${i + 1}.`) }, { token: TOKEN });
    assert.equal(long.status, 413);
    assert.match(((await long.json()) as { error: { message: string } }).error.message, /21 steps.*at most 20/);
    const bad = await fetch(`${s.url}/v1/score`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: "{not json" });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, "invalid-json");
  });

  test("/v1/score on a Markdown file equals scoreDocument, as `steplens score` prints it", async () => {
    const text = readFileSync(path.join(REPO, "examples/shopping.md"), "utf8");
    const res = await postJson(`${s.url}/v1/score`, { text, file_name: "shopping.md" }, { token: TOKEN });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { steps: { soft_label: number; reward: number; rank: number; negative_gains: number[] }[]; gold: { value: string }; first_error: number; tokens: { evaluated: number } };
    const local = await scoreDocument(s.engine.scorer, parseDocument(text, { fileName: "shopping.md" }));
    const want = local.solutions[0]!.result;
    assert.equal(body.gold.value, want.gold.value);
    assert.equal(body.first_error, want.firstError);
    assert.deepEqual(body.steps.map((x) => x.soft_label), want.steps.map((x) => x.softLabel));
    assert.deepEqual(body.steps.map((x) => x.rank), want.steps.map((x) => x.rank));
    assert.equal(body.steps[0]!.negative_gains.length, 4);
  });

  test("/v1/bon picks among candidates with the engine's Best-of-N", async () => {
    const r = records[0]!;
    const wrong = records.find((x) => x.problem === r.problem && x.gold_answer !== undefined && x.steps.join() !== r.steps.join()) ?? records[1]!;
    const candidates = [r, wrong].map((x) => ({ text: `${x.steps.join("\n")}\nThe answer is ${x === r ? r.gold_answer : "1"}.` }));
    const res = await postJson(`${s.url}/v1/bon`, { problem: r.problem, candidates, gold_answer: r.gold_answer }, { token: TOKEN });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { scores: number[]; pick: number; target: { value: string; source: string } };
    assert.equal(body.scores.length, 2);
    assert.equal(body.target.source, "gold");
    assert.equal(body.pick, body.scores.indexOf(Math.max(...body.scores)));
  });

  test("more jobs than the queue holds: 429 with Retry-After, the others are answered", async () => {
    const before = await metrics(s);
    const req = (i: number) => postJson(`${s.url}/v1/score`, { problem: records[i]!.problem, steps: records[i]!.steps, gold_answer: records[i]!.gold_answer }, { token: TOKEN });
    const answers = await Promise.all([2, 3, 4, 5, 6].map(req));
    const statuses = answers.map((r) => r.status);
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 1, `statuses ${statuses.join(",")}`);
    assert.ok(statuses.filter((x) => x === 200).length >= 2, `statuses ${statuses.join(",")}`);
    for (const r of refused) {
      assert.ok(Number(r.headers.get("retry-after")) >= 1);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, "queue-full");
    }
    for (const r of answers) if (r.status === 200) await r.json();
    const after = await metrics(s);
    assert.equal(after.rejected - before.rejected, refused.length);
  });

  test("a client that goes away mid-request gets its job cancelled", async () => {
    const before = await metrics(s);
    const stop = new AbortController();
    const batch = records.slice(0, 12);
    const res = await postJson(`${s.url}/v1/label`, { records: batch }, { token: TOKEN, signal: stop.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /ndjson/);
    // Read up to the first progress line: the job is running and streaming.
    const reader = res.body!.getReader();
    let seen = "";
    while (!seen.includes('"event":"progress"')) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += Buffer.from(value).toString();
    }
    assert.match(seen, /"event":"progress","done":1,"total":12/);
    stop.abort();
    const m = await waitFor("the job to be cancelled", async () => {
      const q = await metrics(s);
      return q.cancelled > before.cancelled && q.running === 0 ? q : undefined;
    });
    assert.equal(m.cancelled - before.cancelled, 1);
    assert.equal(m.completed, before.completed, "the cancelled batch did not run to completion");
  });

  test("/v1/label streams one progress line per record, then the labeled records and a summary", async () => {
    const batch = records.slice(0, 3);
    const res = await fetch(`${s.url}/v1/label`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/x-ndjson" },
      body: batch.map((r) => JSON.stringify(r)).join("\n"),
    });
    assert.equal(res.status, 200);
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as { event: string; record?: { id: string; cpmi: number[]; soft_label: number[] }; stats?: { records: number } });
    assert.deepEqual(lines.filter((l) => l.event === "progress").length, 3);
    const labeled = lines.filter((l) => l.event === "record").map((l) => l.record!);
    assert.deepEqual(labeled.map((r) => r.id), batch.map((r) => r.id));
    assert.equal(labeled[0]!.cpmi.length, batch[0]!.steps.length);
    assert.equal(lines.at(-1)!.event, "summary");
    assert.equal(lines.at(-1)!.stats!.records, 3);
  });

  test("the low-level backend endpoints answer like the local backend", async () => {
    const prefix = `Question: ${records[0]!.problem}\nAnswer:`;
    const res = await postJson(`${s.url}/v1/backend/continuations`, { prefix, continuations: [" 46.", " 47."] }, { token: TOKEN });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { scores: { meanLogprob: number }[]; tokens: { evaluated: number } };
    const session = await s.engine.backend.openSession();
    const local = await session.scoreContinuations(prefix, [" 46.", " 47."]);
    session.release();
    assert.deepEqual(body.scores.map((x) => x.meanLogprob), local.map((x) => x.meanLogprob));
    assert.ok(body.tokens.evaluated > 0);
    const bad = await postJson(`${s.url}/v1/backend/sample`, { prefix, options: { n: 0, maxTokens: 4, temperature: 1, seed: 1 } }, { token: TOKEN });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /options\.n/);
  });
});

describe("serve tokens", () => {
  test("loopback without a configured token needs none; another address gets one generated once, stored 0600, reused", () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "steplens-serve-token-"));
    const env = { XDG_CONFIG_HOME: home } as NodeJS.ProcessEnv;
    const saved = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = home;
    try {
      assert.deepEqual(chooseToken("127.0.0.1", undefined, env), { source: "none" });
      assert.equal(chooseToken("127.0.0.1", undefined, { ...env, STEPLENS_TOKEN: "from-env" }).token, "from-env");
      const first = chooseToken("0.0.0.0", undefined, env);
      assert.equal(first.source, "generated");
      assert.ok(first.token!.length >= 40);
      assert.equal(statSync(first.file!).mode & 0o777, 0o600);
      const again = chooseToken("0.0.0.0", undefined, env);
      assert.equal(again.source, "stored");
      assert.equal(again.token, first.token);
      assert.equal(chooseToken("0.0.0.0", "flag-token-9f8e7d6c5b4a3210", env).token, "flag-token-9f8e7d6c5b4a3210");
    } finally {
      if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved;
    }
  });
});

describe("steplens serve (child process)", () => {
  test("SIGTERM with a job running: the job finishes, new requests are refused, exit code 0", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "steplens-serve-child-"));
    const srv = await startChild(["--grace", "60000"], { XDG_CONFIG_HOME: home });
    try {
      const res = await postJson(`${srv.url}/v1/label`, { records: records.slice(0, 4) });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let text = "";
      while (!text.includes('"event":"progress"')) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the batch ended before the first record");
        text += Buffer.from(value).toString();
      }
      srv.child.kill("SIGTERM");
      await waitFor("the server to log the shutdown", () => (/SIGTERM: finishing 1 running/.test(srv.stderr()) ? true : undefined));
      const refused = await postJson(`${srv.url}/v1/score`, { problem: "1+1?", steps: ["1 + 1 = 2."] }).then(
        (r) => r.status,
        (err: Error) => (err.cause as { code?: string } | undefined)?.code ?? err.message,
      );
      assert.ok(refused === 503 || refused === "ECONNREFUSED" || refused === "ECONNRESET", `new request got ${refused}`);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
      const lines = text.trim().split("\n").map((l) => JSON.parse(l) as { event: string; stats?: { records: number }; interrupted?: boolean });
      assert.equal(lines.filter((l) => l.event === "record").length, 4, "the running batch finished");
      assert.equal(lines.at(-1)!.event, "summary");
      assert.equal(lines.at(-1)!.interrupted, false);
      assert.equal(await srv.exited, 0, srv.stderr());
      assert.match(srv.stderr(), /all work finished; stopped/);
    } finally {
      srv.child.kill("SIGKILL");
    }
  });

  test("SIGTERM with a short grace: the running batch is cut (interrupted summary), the queued job gets 503 JSON, exit code 0", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "steplens-serve-child-"));
    const srv = await startChild(["--grace", "300"], { XDG_CONFIG_HOME: home });
    try {
      const res = await postJson(`${srv.url}/v1/label`, { records: records.slice(0, 40) });
      const reader = res.body!.getReader();
      let text = "";
      while (!text.includes('"event":"progress"')) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the batch ended before the first record");
        text += Buffer.from(value).toString();
      }
      const queued = postJson(`${srv.url}/v1/score`, { problem: records[50]!.problem, steps: records[50]!.steps, gold_answer: records[50]!.gold_answer });
      await waitFor("the score job to queue", async () => {
        const m = (await (await fetch(`${srv.url}/v1/metrics`)).json()) as { queue: QueueStats };
        return m.queue.waiting === 1 ? true : undefined;
      });
      srv.child.kill("SIGTERM");
      const late = await queued;
      assert.equal(late.status, 503);
      assert.equal(((await late.json()) as { error: { code: string } }).error.code, "shutting-down");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
      const last = JSON.parse(text.trim().split("\n").at(-1)!) as { event: string; interrupted: boolean; stats: { records: number } };
      assert.equal(last.event, "summary");
      assert.equal(last.interrupted, true);
      assert.ok(last.stats.records < 40);
      assert.equal(await srv.exited, 0, srv.stderr());
      assert.match(srv.stderr(), /grace period over/);
    } finally {
      srv.child.kill("SIGKILL");
    }
  });
});
