// Every failure of a model server reaches the code that acts on it as a typed kind (BackendError.code),
// from each HTTP client StepLens has: steplens serve's (remote.ts) and the completion servers' (vLLM
// and other OpenAI-compatible servers, llama-server; completionHttp.ts). Real loopback servers answer
// as a broken, busy, locked or absent server does; nothing reads a message to decide.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { connectRemote, probeRemote, REMOTE_API_VERSION } from "../server/engine/backend/remote.js";
import { OpenAiBackend } from "../server/engine/backend/openai.js";
import { LlamaServerBackend } from "../server/engine/backend/llamaServer.js";
import { BackendError, type BackendErrorCode } from "../server/engine/backend/types.js";
import { failureKind, isRetryable } from "../server/engine/backend/failure.js";
import { backoffMs, MAX_RETRY_AFTER_MS, retryAfterMs } from "../server/engine/backend/backoff.js";
import { classifyRemoteFailure } from "../server/lsp/remoteState.js";

type Reply = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A real HTTP server on loopback; `hits` counts the requests it got. */
async function loopback(reply: Reply): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    req.resume();
    req.on("end", () => reply(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => (_req, res) => res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));

/** The three clients, each connecting once with no retries. */
const CLIENTS: { name: string; connect: (url: string, timeoutMs: number) => Promise<unknown> }[] = [
  { name: "steplens serve (remote.ts)", connect: (url, timeoutMs) => connectRemote(url, { retries: 0, timeoutMs }) },
  { name: "OpenAI-compatible (openai.ts)", connect: (url, timeoutMs) => OpenAiBackend.connect({ endpoint: `${url}/v1`, retries: 0, timeoutMs }) },
  { name: "llama-server (llamaServer.ts)", connect: (url, timeoutMs) => LlamaServerBackend.connect({ endpoint: url, retries: 0, timeoutMs }) },
];

/** Long enough that a loaded machine never turns an answer into a timeout; short where a timeout is the point. */
const PATIENT_MS = 30_000;
const IMPATIENT_MS = 300;

/** What each kind is, as a real server shows it. */
const CASES: { kind: BackendErrorCode; what: string; reply: Reply | "closed" }[] = [
  { kind: "unreachable", what: "nothing listens on the port", reply: "closed" },
  { kind: "unreachable", what: "HTTP 503 (shutting down, or a proxy that lost the server)", reply: json(503, { error: { code: "shutting-down", message: "restarting" } }) },
  { kind: "unauthorized", what: "HTTP 401", reply: json(401, { error: { code: "unauthorized", message: "bad token" } }) },
  { kind: "unauthorized", what: "HTTP 403", reply: json(403, { error: { message: "forbidden" } }) },
  { kind: "rate-limited", what: "HTTP 429", reply: json(429, { error: { code: "queue-full", message: "busy" } }, { "retry-after": "0" }) },
  { kind: "server-error", what: "HTTP 500", reply: json(500, { error: { code: "internal", message: "boom" } }) },
  { kind: "timeout", what: "no answer in time", reply: () => {} },
  { kind: "incompatible", what: "a web page instead of JSON", reply: (_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>hello</html>") },
];

async function failureOf(connect: (url: string, timeoutMs: number) => Promise<unknown>, reply: Reply | "closed", timeoutMs = PATIENT_MS): Promise<unknown> {
  const server = await loopback(reply === "closed" ? () => {} : reply);
  if (reply === "closed") await server.close();
  try {
    return await connect(server.url, timeoutMs).then(
      () => assert.fail("the connection should have failed"),
      (err: unknown) => err,
    );
  } finally {
    if (reply !== "closed") await server.close();
  }
}

describe("BackendError kinds from real loopback servers", () => {
  for (const client of CLIENTS) {
    for (const c of CASES) {
      test(`${client.name}: ${c.what} is "${c.kind}"`, async () => {
        const err = await failureOf(client.connect, c.reply, c.kind === "timeout" ? IMPATIENT_MS : PATIENT_MS);
        assert.ok(err instanceof BackendError, String(err));
        assert.equal(err.code, c.kind, err.message);
        assert.equal(failureKind(err), c.kind);
      });
    }
  }

  test("an HTTP failure carries its status", async () => {
    for (const client of CLIENTS) {
      const err = await failureOf(client.connect, json(429, { error: { message: "busy" } }));
      assert.ok(err instanceof BackendError && err.status === 429, `${client.name}: ${String(err)}`);
    }
  });

  test("a steplens serve of another API version is incompatible, and the probe says so", async () => {
    const other = await loopback(json(200, { api_version: REMOTE_API_VERSION + 1, version: "9.9.9", name: "m.gguf", kind: "llama.cpp", device: "cpu", context_size: 512, parallel: 1 }));
    try {
      const err = await connectRemote(other.url).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof BackendError && err.code === "incompatible", String(err));
      assert.equal((await probeRemote(other.url)).state, "incompatible");
    } finally {
      await other.close();
    }
  });

  test("steplens serve's 400 with code context-overflow is context-overflow, whatever its words", async () => {
    const full = await loopback(json(400, { error: { code: "context-overflow", message: "the prompt is too long for the model" } }));
    const other = await loopback(json(400, { error: { code: "invalid-request", message: "the context field is missing" } }));
    try {
      const err = await connectRemote(full.url, { retries: 0 }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof BackendError && err.code === "context-overflow", String(err));
      const bad = await connectRemote(other.url, { retries: 0 }).then(() => undefined, (e: unknown) => e);
      assert.ok(bad instanceof BackendError && bad.code === "backend", String(bad));
    } finally {
      await full.close();
      await other.close();
    }
  });

  test("probeRemote names a 403 as unauthorized, as the editor does", async () => {
    const locked = await loopback(json(403, { error: { message: "forbidden" } }));
    try {
      assert.equal((await probeRemote(locked.url)).state, "unauthorized");
    } finally {
      await locked.close();
    }
  });
});

describe("what acts on the kinds", () => {
  const kinds: BackendErrorCode[] = ["unreachable", "timeout", "unauthorized", "rate-limited", "server-error", "incompatible", "backend", "cancelled", "context-overflow", "model-not-found", "model-invalid"];

  test("a pool moves a call elsewhere when the server was away, slow, busy or failed; never for a refused token or a bad request", () => {
    const moved = kinds.filter((k) => isRetryable(new BackendError("HTTP 503, ECONNRESET, timed out", k)));
    assert.deepEqual(moved, ["unreachable", "timeout", "rate-limited", "server-error"]);
  });

  test("the editor reconnects when the server is away or silent, asks for a token when refused, and otherwise shows the error", () => {
    // Words that name other failures, so that only the kind can decide (a model file named gpt-401.gguf, a body quoting a timeout).
    const misleading = (k: BackendErrorCode) => new BackendError("model gpt-401.gguf: the upstream said forbidden, ECONNREFUSED, timed out", k);
    const seen = Object.fromEntries(kinds.map((k) => [k, classifyRemoteFailure(misleading(k)) ?? "error"]));
    assert.deepEqual(seen, {
      unreachable: "unreachable",
      timeout: "unreachable",
      unauthorized: "unauthorized",
      "rate-limited": "error",
      "server-error": "error",
      incompatible: "error",
      backend: "error",
      cancelled: "error",
      "context-overflow": "error",
      "model-not-found": "error",
      "model-invalid": "error",
    });
  });

  test("errors from outside StepLens are read by status and network code, not message", async () => {
    const closed = await loopback(() => {});
    await closed.close();
    const refused = await fetch(closed.url).catch((e: unknown) => e);
    assert.equal(failureKind(refused), "unreachable", String(refused));
    assert.equal(failureKind(Object.assign(new Error("whatever"), { status: 503 })), "unreachable");
    assert.equal(failureKind(Object.assign(new Error("whatever"), { status: 500 })), "server-error");
    assert.equal(failureKind(new Error("HTTP 503 ECONNREFUSED fetch failed timed out 401")), "backend", "words in a message decide nothing");
  });
});

describe("one backoff and one Retry-After", () => {
  test("Retry-After as seconds or as an HTTP date, capped at 30 s for every client", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(retryAfterMs("2", now), 2000);
    assert.equal(retryAfterMs("0.5", now), 500);
    assert.equal(retryAfterMs(new Date(now + 5000).toUTCString(), now), 5000);
    assert.equal(retryAfterMs("120", now), MAX_RETRY_AFTER_MS);
    assert.equal(retryAfterMs(new Date(now + 600_000).toUTCString(), now), MAX_RETRY_AFTER_MS);
    assert.equal(retryAfterMs(new Date(now - 5000).toUTCString(), now), 0);
    assert.equal(retryAfterMs("soon", now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
  });

  test("backoff doubles from the first wait up to the cap; jitter takes at most its share", () => {
    const policy = { firstMs: 100, maxMs: 1000, jitter: 0.5 };
    assert.deepEqual([0, 1, 2, 3, 4, 10].map((r) => backoffMs(r, policy, () => 0)), [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual([0, 1, 4].map((r) => backoffMs(r, policy, () => 1)), [50, 100, 500]);
    assert.deepEqual([0, 1, 2].map((r) => backoffMs(r, { ...policy, jitter: 0 })), [100, 200, 400]);
  });

  test("an OpenAI-compatible server's Retry-After as an HTTP date is honoured", async () => {
    let n = 0;
    const busy = await loopback((req, res) => {
      // A date two seconds ahead: with one-second resolution the wait is over one second.
      if (n++ === 0) return json(429, { error: { message: "busy" } }, { "retry-after": new Date(Date.now() + 2000).toUTCString() })(req, res);
      json(200, { data: [{ id: "m", max_model_len: 512 }] })(req, res);
    });
    try {
      const started = performance.now();
      const backend = await OpenAiBackend.connect({ endpoint: `${busy.url}/v1`, retries: 1 });
      assert.equal(backend.info.model, "m");
      assert.equal(busy.hits(), 2);
      assert.ok(performance.now() - started >= 1000, `waited ${Math.round(performance.now() - started)} ms`);
    } finally {
      await busy.close();
    }
  });
});
