// The remote backend against a real `steplens serve` on loopback: the same engine on both ends must
// give the same scores, and every way a user can get the connection wrong gets a message that says
// what to do. Retry behaviour is checked against small real HTTP servers that answer 429/503/400.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { createEngine, type Engine } from "../server/engine/engineOptions.js";
import { connectRemote, probeRemote, REMOTE_API_VERSION } from "../server/engine/backend/remote.js";
import { BackendError } from "../server/engine/backend/types.js";
import { DATA, DEMO_MODEL, readJsonlFile, runCli, stripPrefix } from "./helpers.js";
import { startInProcess, type InProcessServer } from "./serveHelpers.js";

const TOKEN = "remote-test-token-abcdef0123456789";
const records = readJsonlFile<{ id: string; problem: string; steps: string[]; gold_answer: string }>(path.join(DATA, "arith-processbench-dev.jsonl")).slice(0, 10);

/** A real HTTP server on loopback answering with `reply`; counts the requests it got. */
async function tinyServer(reply: (n: number, res: http.ServerResponse) => void): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => reply(n++, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, hits: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

const MODEL_INFO = (api: number) => ({ api_version: api, version: "9.9.9", name: "m.gguf", kind: "llama.cpp", device: "cpu", context_size: 512, parallel: 1 });

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(args, { NO_COLOR: "1" });
}

describe("remote backend against steplens serve", () => {
  let s: InProcessServer;
  let local: Engine;
  let remote: Engine;
  before(async () => {
    s = await startInProcess({ token: TOKEN });
    local = await createEngine({ modelPath: DEMO_MODEL, gpu: "off", threads: 1 });
    remote = await createEngine({ modelPath: DEMO_MODEL, backend: "remote", endpoints: [s.url], token: TOKEN });
  });
  after(async () => {
    await remote.dispose();
    await local.dispose();
    await s.stop();
  });

  test("remote scores equal local scores on 10 dev records, and the server's tokens are counted", async (t) => {
    assert.equal(remote.backend.info.kind, "remote");
    assert.equal(remote.backend.info.model, "arith-demo-15m-f16.gguf");
    assert.equal(remote.backend.info.contextSize, local.backend.info.contextSize);
    let maxDiff = 0;
    let steps = 0;
    for (const r of records) {
      const request = { problem: r.problem, steps: r.steps.map(stripPrefix), gold: { value: r.gold_answer, source: "record" as const } };
      const a = await local.scorer.score(request);
      const b = await remote.scorer.score(request);
      assert.deepEqual(b.negatives.map((n) => n.value), a.negatives.map((n) => n.value), `negatives of ${r.id}`);
      assert.equal(b.firstError, a.firstError, r.id);
      assert.deepEqual(b.tokens, a.tokens, `token cost of ${r.id}`);
      a.steps.forEach((x, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(x.softLabel - b.steps[i]!.softLabel));
        steps++;
      });
    }
    t.diagnostic(`${steps} steps, max |soft label difference| ${maxDiff}`);
    assert.ok(steps >= 20);
    assert.ok(maxDiff < 1e-9, `max |soft label difference| = ${maxDiff}`);
    assert.ok(remote.backend.counters.evaluated > 0 && remote.backend.counters.generated > 0);
  });

  test("token entropies (segmentation) come through unchanged", async () => {
    const prefix = `Question: ${records[0]!.problem}\n`;
    const text = records[0]!.steps.map(stripPrefix).join(" ");
    const [a, b] = await Promise.all([local, remote].map(async (e) => {
      const session = await e.backend.openSession();
      try {
        return await session.tokenEntropies!(prefix, text);
      } finally {
        session.release();
      }
    }));
    assert.deepEqual(b, a);
  });

  test("a wrong or missing token: BackendError naming the server and --token / $STEPLENS_TOKEN", async () => {
    for (const token of ["wrong", undefined]) {
      await assert.rejects(connectRemote(s.url, { token }), (err: Error) => {
        assert.ok(err instanceof BackendError);
        assert.match(err.message, new RegExp(`steplens serve at ${s.url} refused the token.*--token or \\$STEPLENS_TOKEN`));
        return true;
      });
    }
  });

  test("probeRemote: reachable with the model info, unauthorized, unreachable", async () => {
    const ok = await probeRemote(s.url, TOKEN);
    assert.equal(ok.state, "reachable");
    assert.equal(ok.state === "reachable" && ok.model.name, "arith-demo-15m-f16.gguf");
    assert.equal((await probeRemote(s.url, "nope")).state, "unauthorized");
    const gone = await tinyServer(() => {});
    await gone.close();
    const down = await probeRemote(gone.url, TOKEN);
    assert.equal(down.state, "unreachable");
    assert.equal((await probeRemote("not a url")).state, "unreachable");
  });

  test("`steplens score --backend remote` prints the same table as a local run", async () => {
    const file = "examples/shopping.md";
    const [a, b] = await Promise.all([
      run(["score", "--threads", "1", "--gpu", "off", "--model", DEMO_MODEL, file]),
      run(["score", "--backend", "remote", "--endpoint", s.url, "--token", TOKEN, file]),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    // Line 2 names the model and device ("cpu" here, "remote" there); everything else is the same.
    const body = (out: string) => out.split("\n").filter((_, i) => i !== 1);
    assert.deepEqual(body(b.stdout), body(a.stdout));
    assert.match(b.stdout.split("\n")[1]!, /model arith-demo-15m-f16\.gguf · remote/);
    assert.ok(body(a.stdout).filter((l) => /^\s+\d+\s+[+-]\d\.\d{3}/.test(l)).length >= 3, a.stdout);
  });
});

describe("remote backend: connection failures and retries", () => {
  test("nothing listening: 'cannot reach ... ECONNREFUSED; is it running?', after retrying", async () => {
    const gone = await tinyServer(() => {});
    await gone.close();
    await assert.rejects(connectRemote(gone.url, { retries: 2, retryBaseMs: 20 }), (err: Error) => {
      assert.match(err.message, new RegExp(`cannot reach steplens serve at ${gone.url}: ECONNREFUSED; is it running\\? start it with \`steplens serve\``));
      return true;
    });
    // How long giving up takes is measured in bench/timings.ts, not bounded here (load makes it flaky).
  });

  test("429 with Retry-After and 503 are retried; the answer after them is used", async () => {
    const srv = await tinyServer((n, res) => {
      if (n === 0) res.writeHead(429, { "retry-after": "1", "content-type": "application/json" }).end(JSON.stringify({ error: { code: "queue-full", message: "busy" } }));
      else if (n === 1) res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "shutting-down", message: "restarting" } }));
      else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(MODEL_INFO(REMOTE_API_VERSION)));
    });
    try {
      const started = Date.now();
      const backend = await connectRemote(srv.url, { retryBaseMs: 10 });
      assert.equal(srv.hits(), 3);
      assert.ok(Date.now() - started >= 950, "Retry-After: 1 was honoured");
      assert.equal(backend.info.model, "m.gguf");
    } finally {
      await srv.close();
    }
  });

  test("400 and 413 are not retried; their message reaches the user", async () => {
    for (const status of [400, 413]) {
      const srv = await tinyServer((_, res) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "x", message: `server says ${status}` } })));
      try {
        await assert.rejects(connectRemote(srv.url, { retryBaseMs: 10 }), new RegExp(`server says ${status}`));
        assert.equal(srv.hits(), 1);
      } finally {
        await srv.close();
      }
    }
  });

  test("a server of another API version, or not a steplens serve at all, is named as such", async () => {
    const other = await tinyServer((_, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(MODEL_INFO(REMOTE_API_VERSION + 1))));
    const html = await tinyServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>hello</html>"));
    try {
      await assert.rejects(connectRemote(other.url), /speaks API v2 \(steplens 9\.9\.9\), this client speaks v1; run the same steplens version on both ends/);
      assert.equal((await probeRemote(other.url)).state, "incompatible");
      await assert.rejects(connectRemote(html.url), /malformed response to \/v1\/model.*not another web server/);
      await assert.rejects(connectRemote("ftp://host"), /not an http:\/\/ or https:\/\/ URL/);
    } finally {
      await other.close();
      await html.close();
    }
  });

  test("a request that takes longer than the timeout fails with a message naming the timeout", async () => {
    const slow = await tinyServer((_, res) => setTimeout(() => res.writeHead(200).end("{}"), 2000));
    try {
      await assert.rejects(connectRemote(slow.url, { timeoutMs: 200 }), /did not answer \/v1\/model within 200 ms/);
    } finally {
      await slow.close();
    }
  });
});
