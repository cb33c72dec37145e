// A hostile document must not freeze the servers that parse it (issue 10 item 2): one 60 KB request
// made `steplens serve`'s /health wait 11.9 s, and the language server froze 23 s per parse. With
// every parser rule linear and the input bounded (1 MB, 5,000 lines), parsing stays on the event
// loop: bench/regex.ts measures a 1 MB parse at tens of ms. These tests watch the servers from
// outside, as separate processes, while they parse such a document. The limit on an answer's wait
// is generous (2 s, for what takes a few ms; the old rules took seconds on these inputs) because the
// machine running the tests is shared.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import type { ServerStatus } from "../protocol/index.js";
import { CLI, DEMO_MODEL, REPO } from "./helpers.js";
import { fileUri, TestClient } from "./lsp-client.js";
import { postJson, startChild, type ChildServer } from "./serveHelpers.js";

const WAIT_LIMIT_MS = 2000;

/** 60 KB: a 30k-character front-matter answer and a 30k-character heading, then one real step. */
const HOSTILE =
  `---\nanswer: ${".".repeat(30_000)}x\n---\n# a${"*".repeat(30_000)}a\n\n` +
  "Question: Tom has 3 pens and buys 4 more. How many pens does he have?\n\nStep 1: 3 + 4 = 7\n\nThe answer is 7.\n";

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

describe("steplens serve stays responsive while it parses a hostile document", () => {
  let s: ChildServer;
  before(async () => {
    s = await startChild([]);
  });
  after(async () => {
    s.child.kill("SIGTERM");
    await s.exited;
  });

  test("/health answers within 2 s all the while a 60 KB hostile /v1/score runs; the score comes back", { timeout: 600_000 }, async () => {
    let done = false;
    const scoring = postJson(`${s.url}/v1/score`, { text: HOSTILE, file_name: "hostile.md", gold_answer: "7" }).finally(() => (done = true));
    const waits: number[] = [];
    while (!done) {
      const { value: res, ms } = await timed(() => fetch(`${s.url}/health`));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      waits.push(ms);
    }
    const res = await scoring;
    const body = (await res.json()) as { steps?: { text: string }[]; warnings?: string[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(body.steps?.map((st) => st.text), ["3 + 4 = 7"]);
    assert.ok(waits.length > 0);
    assert.ok(Math.max(...waits) < WAIT_LIMIT_MS, `/health waited ${Math.max(...waits).toFixed(0)} ms (${waits.length} probes)`);
  });
});

describe("the language server stays responsive on a hostile document", () => {
  let child: ChildProcess;
  let client: TestClient;
  before(async () => {
    child = spawn(process.execPath, [CLI, "lsp", "--stdio"], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
    client = await TestClient.onStreams(child.stdout!, child.stdin!, {
      configuration: { modelPath: DEMO_MODEL, gpu: "off", check: { frequency: "manual" } },
    });
  });
  after(async () => {
    await client.close().catch(() => {});
    child.kill();
  });

  test("code lenses for each new version of it come back within 2 s", { timeout: 600_000 }, async () => {
    // Measured once the model is loaded: what the load itself holds up is not the parser's (issue 12).
    await client.waitFor<ServerStatus>("steplens/status", (st) => st.state === "ready");
    const uri = fileUri("/tmp/hostile.md");
    client.open(uri, HOSTILE, "markdown", 1);
    for (let version = 2; version <= 4; version++) {
      // Each edit makes a new version, which the server parses afresh.
      client.change(uri, version, HOSTILE + `\nStep ${version}: 7 + 0 = 7\n`);
      const { value: lenses, ms } = await timed(() => client.request<unknown[]>("textDocument/codeLens", { textDocument: { uri } }));
      assert.ok(Array.isArray(lenses) && lenses.length > 0, "lenses for the solution");
      assert.ok(ms < WAIT_LIMIT_MS, `codeLens for version ${version} took ${ms.toFixed(0)} ms`);
    }
  });
});
