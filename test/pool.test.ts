// PoolBackend on real parts: two real llama.cpp backends (the demo GGUF, one thread each) as healthy
// endpoints, and real loopback HTTP servers that answer 503, 401 or drop the connection as broken
// ones. Labeling through the pool must give the same records and scores as one local backend.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PoolBackend, describePoolEvent, isRetryable, type PoolEvent } from "../server/engine/backend/pool.js";
import { BackendError, type Backend, type BackendSession, type TokenCounters } from "../server/engine/backend/types.js";
import { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { CpmiScorer } from "../server/engine/cpmi/scorer.js";
import { cpmiConfigFrom, type Engine } from "../server/engine/engineOptions.js";
import { labelDataset } from "../server/engine/data/labelDataset.js";
import { createEngine } from "../server/engine/engineOptions.js";
import { DATA, DEMO_MODEL, loadDemo, readJsonlFile } from "./helpers.js";
import { startChild, type ChildServer } from "./serveHelpers.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-pool-"));
const CONFIG = cpmiConfigFrom({ samples: 2, negatives: 2 }, DEMO_MODEL);
const BRANCHES = Math.max(CONFIG.samplesPerPrefix, CONFIG.negatives + 1);

/** A loopback server that misbehaves on purpose; `hits` counts the requests it saw. */
async function brokenServer(mode: "503" | "401" | "drop"): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    if (mode === "drop") return req.socket.destroy();
    res.writeHead(mode === "503" ? 503 : 401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: mode === "503" ? "overloaded" : "bad token" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A Backend for one HTTP endpoint that turns a non-2xx answer into an error carrying its status. */
function httpBackend(url: string): Backend {
  const counters: TokenCounters = { evaluated: 0, generated: 0 };
  const call = async (route: string, body: unknown): Promise<never> => {
    const res = await fetch(`${url}${route}`, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    throw Object.assign(new Error(`${url}${route} answered HTTP ${res.status}: ${text}`), { status: res.status });
  };
  return {
    info: { kind: "http-test", model: url, device: "remote", contextSize: 512 },
    counters,
    parallel: 2,
    tokenize: (text) => call("/tokenize", { text }),
    openSession: (): Promise<BackendSession> =>
      Promise.resolve({
        counters: { evaluated: 0, generated: 0 },
        scoreContinuations: (prefix, continuations) => call("/score", { prefix, continuations }),
        sample: (prefix, options) => call("/sample", { prefix, options }),
        release: () => {},
      }),
    dispose: async () => {},
  };
}

function engineOn(backend: Backend): Engine {
  return { backend, scorer: new CpmiScorer(backend, CONFIG), modelPath: DEMO_MODEL, method: "cpmi", dispose: () => backend.dispose() };
}

const loadLane = (): Promise<LlamaCppBackend> => loadDemo({ threads: 1, parallel: 1, branches: BRANCHES, walkers: CONFIG.templates.length });

const input = path.join(tmp, "input.jsonl");
const RECORDS = 4;

describe("PoolBackend", () => {
  let a: LlamaCppBackend;
  let b: LlamaCppBackend;
  let reference: Record<string, unknown>[];

  before(async () => {
    const lines = readFileSync(path.join(DATA, "arith-processbench-dev.jsonl"), "utf8").split("\n").filter(Boolean).slice(0, RECORDS);
    writeFileSync(input, lines.join("\n") + "\n");
    [a, b] = await Promise.all([loadLane(), loadLane()]);
    // The reference: the same records on one local backend, no pool.
    const out = path.join(tmp, "reference.jsonl");
    await labelDataset(engineOn(a), input, out);
    reference = readJsonlFile(out);
    assert.equal(reference.length, RECORDS);
  });

  after(async () => {
    await Promise.all([a.dispose(), b.dispose()]);
  });

  /** A pool whose dispose leaves the shared local backends loaded for the next test. */
  function pool(members: { name: string; backend: Backend }[], options: ConstructorParameters<typeof PoolBackend>[1] = {}): PoolBackend {
    const keep = members.map((m) => ({ name: m.name, backend: { ...delegate(m.backend), dispose: async () => {} } }));
    return new PoolBackend(keep, options);
  }

  function assertSameAsReference(file: string): void {
    const got = readJsonlFile(file);
    assert.deepEqual(
      got.map((r) => r.id),
      reference.map((r) => r.id),
      "every record exactly once, in input order",
    );
    got.forEach((r, i) => {
      const want = reference[i]!.cpmi as number[];
      (r.cpmi as number[]).forEach((x, k) => assert.ok(Math.abs(x - want[k]!) < 5e-3, `record ${String(r.id)} step ${k}: ${x} vs ${want[k]}`));
    });
  }

  test("spreads records over two endpoints, within each one's in-flight bound, with the local scores", async () => {
    const p = pool([
      { name: "lane-a", backend: a },
      { name: "lane-b", backend: b },
    ]);
    assert.equal(p.parallel, 2, "parallel is the sum of the endpoints' capacity");
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, ...p.status().map((s) => s.inFlight))), 5);
    const out = path.join(tmp, "two.jsonl");
    const run = await labelDataset(engineOn(p), input, out);
    clearInterval(timer);
    assert.equal(run.stats.records, RECORDS);
    assertSameAsReference(out);
    const status = p.status();
    assert.ok(status.every((s) => s.served > 0), `both endpoints did work: ${JSON.stringify(status)}`);
    assert.ok(peak <= 1, `never more sessions on an endpoint than its capacity (peak ${peak})`);
    assert.ok(run.stats.tokens_evaluated > 0 && p.counters.evaluated >= run.stats.tokens_evaluated);
  });

  test("calls failing with HTTP 503 move to the healthy endpoint; the failing one is taken out and reported", async () => {
    const broken = await brokenServer("503");
    const events: PoolEvent[] = [];
    let hitsWhenDown = -1;
    const p = pool(
      [
        { name: broken.url, backend: httpBackend(broken.url) },
        { name: "lane-a", backend: a },
      ],
      {
        maxInFlight: 1,
        backoffMs: 1,
        failuresToEject: 2,
        cooldownMs: 60_000,
        onEvent: (e) => {
          events.push(e);
          if (e.type === "down") hitsWhenDown = broken.hits();
        },
      },
    );
    const out = path.join(tmp, "with-503.jsonl");
    const run = await labelDataset(engineOn(p), input, out);
    await broken.close();
    assert.equal(run.stats.records, RECORDS);
    assertSameAsReference(out);
    assert.ok(broken.hits() >= 1, "the broken endpoint was really called");
    assert.ok(events.some((e) => e.type === "retry" && e.endpoint === broken.url && /HTTP 503/.test(e.error)), JSON.stringify(events));
    const down = events.find((e) => e.type === "down");
    assert.ok(down && down.endpoint === broken.url && down.forMs === 60_000, JSON.stringify(events));
    // Taken out after two failures in a row; afterwards at most a call already on its way reaches it.
    assert.ok(hitsWhenDown >= 2 && broken.hits() - hitsWhenDown <= 1, `hits: ${hitsWhenDown} when taken out, ${broken.hits()} in all`);
    assert.equal(p.status().find((s) => s.endpoint === broken.url)!.down, true);
  });

  test("a dropped connection and a closed port are retried elsewhere too", async () => {
    const dropping = await brokenServer("drop");
    const closed = await brokenServer("503");
    await closed.close(); // nothing listens there any more: ECONNREFUSED
    const events: PoolEvent[] = [];
    const p = pool(
      [
        { name: dropping.url, backend: httpBackend(dropping.url) },
        { name: closed.url, backend: httpBackend(closed.url) },
        { name: "lane-b", backend: b },
      ],
      { maxInFlight: 1, backoffMs: 1, failuresToEject: 1, cooldownMs: 60_000, onEvent: (e) => events.push(e) },
    );
    const scorer = new CpmiScorer(p, CONFIG);
    const rec = reference[0]!;
    const results = await Promise.all(
      [0, 1, 2].map(() => scorer.score({ problem: rec.problem as string, steps: (rec.steps as string[]).map((s) => s.replace(/^- /, "")), gold: { value: String(rec.gold_answer), source: "record" } })),
    );
    await dropping.close();
    for (const r of results) r.steps.forEach((s, k) => assert.ok(Math.abs(s.reward - (rec.cpmi as number[])[k]!) < 5e-3));
    const downs = events.filter((e) => e.type === "down").map((e) => e.endpoint);
    assert.deepEqual(new Set(downs), new Set([dropping.url, closed.url]), JSON.stringify(events));
  });

  test("an error another endpoint cannot fix (HTTP 401) is not retried", async () => {
    const refusing = await brokenServer("401");
    const p = pool([{ name: refusing.url, backend: httpBackend(refusing.url) }, { name: "lane-a", backend: a }], { maxInFlight: 1, backoffMs: 1 });
    const s = await p.openSession(); // the least loaded endpoint first: the refusing one
    await assert.rejects(s.scoreContinuations("1 + 1 =", [" 2"]), /HTTP 401/);
    s.release();
    await refusing.close();
    assert.equal(refusing.hits(), 1);
  });

  test("when every endpoint keeps failing, the call gives up with the endpoints and what to do", async () => {
    const x = await brokenServer("503");
    const y = await brokenServer("drop");
    const p = pool([{ name: x.url, backend: httpBackend(x.url) }, { name: y.url, backend: httpBackend(y.url) }], { backoffMs: 1, failuresToEject: 100, maxAttempts: 4 });
    const s = await p.openSession();
    await assert.rejects(s.scoreContinuations("1 + 1 =", [" 2"]), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.match(err.message, /^4 tries failed/);
      assert.ok(err.message.includes(x.url) && err.message.includes(y.url), err.message);
      assert.match(err.message, /steplens doctor/);
      return true;
    });
    s.release();
    await Promise.all([x.close(), y.close()]);
    assert.equal(x.hits() + y.hits(), 4);
  });

  test("sessions beyond the capacity wait for a free slot", async () => {
    const p = pool([{ name: "lane-a", backend: a }], { maxInFlight: 2 });
    const s1 = await p.openSession();
    const s2 = await p.openSession();
    const got: BackendSession[] = [];
    const waiting = p.openSession().then((s) => got.push(s));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got.length, 0, "a third session waits while two hold the slots");
    s1.release();
    await waiting;
    const third = got[0]!;
    assert.equal(p.status()[0]!.inFlight, 2);
    s2.release();
    third.release();
    assert.equal(p.status()[0]!.inFlight, 0);
  });

  test("isRetryable reads real fetch failures", async () => {
    const closed = await brokenServer("503");
    await closed.close();
    const refused = await fetch(closed.url).catch((e: unknown) => e);
    assert.equal(isRetryable(refused), true, "ECONNREFUSED");
    assert.equal(isRetryable(Object.assign(new Error("x"), { status: 429 })), true);
    assert.equal(isRetryable(Object.assign(new Error("x"), { status: 404 })), false);
    assert.equal(isRetryable(new BackendError("cancelled", "cancelled")), false);
    assert.equal(isRetryable(new BackendError("model file not found", "model-not-found")), false);
  });

  test("a run stopped mid-way through the pool and started again loses no record and writes none twice", async () => {
    const p = pool([
      { name: "lane-a", backend: a },
      { name: "lane-b", backend: b },
    ]);
    const out = path.join(tmp, "resumed.jsonl");
    const stop = new AbortController();
    const first = await labelDataset(engineOn(p), input, out, {}, { signal: stop.signal, onProgress: (x) => x.labeled >= 2 && stop.abort() });
    assert.equal(first.interrupted, true);
    const kept = readJsonlFile(out).length;
    assert.ok(kept >= 2 && kept < RECORDS, `stopped mid-way with ${kept} records written`);
    const second = await labelDataset(engineOn(p), input, out);
    assert.equal(second.stats.resumed, kept);
    assert.equal(second.stats.records, RECORDS - kept);
    const ids = readJsonlFile(out).map((r) => r.id);
    assert.deepEqual([...ids].sort(), reference.map((r) => r.id).sort(), "every record exactly once");
  });

  test("duplicate endpoints are refused", () => {
    assert.throws(() => new PoolBackend([{ name: "u", backend: a }, { name: "u", backend: b }]), /listed twice/);
  });
});

/** The same backend behind a plain object, so a test can replace dispose. */
function delegate(backend: Backend): Backend {
  return {
    get info() {
      return backend.info;
    },
    get counters() {
      return backend.counters;
    },
    get parallel() {
      return backend.parallel;
    },
    tokenize: (t) => backend.tokenize(t),
    openSession: () => backend.openSession(),
    dispose: () => backend.dispose(),
  };
}

describe("labeling across two real steplens serve processes, one killed mid-run", () => {
  const N = 6;
  const file = path.join(tmp, "serve-input.jsonl");
  let servers: ChildServer[] = [];

  before(async () => {
    const lines = readFileSync(path.join(DATA, "arith-processbench-dev.jsonl"), "utf8").split("\n").filter(Boolean).slice(10, 10 + N);
    writeFileSync(file, lines.join("\n") + "\n");
    servers = await Promise.all([startChild(["--quiet"]), startChild(["--quiet"])]);
  });

  after(() => {
    for (const s of servers) if (s.child.exitCode == null) s.child.kill("SIGKILL");
  });

  test("every record is labeled exactly once, with the local scores", async (t) => {
    const local = await createEngine({ modelPath: DEMO_MODEL, gpu: "off", threads: 1 });
    const localOut = path.join(tmp, "serve-local.jsonl");
    await labelDataset(local, file, localOut);
    await local.dispose();

    const events: PoolEvent[] = [];
    const t0 = performance.now();
    const remote = await createEngine({
      modelPath: DEMO_MODEL,
      backend: "remote",
      endpoints: servers.map((s) => s.url),
      maxInFlight: 1,
      onPoolEvent: (e) => {
        events.push(e);
        t.diagnostic(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${describePoolEvent(e)}`);
      },
    });
    assert.equal(remote.backend.parallel, 2);
    const victim = servers[1]!;
    let killedAt = -1;
    const out = path.join(tmp, "serve-pool.jsonl");
    const run = await labelDataset(remote, file, out, {}, {
      onProgress: (p) => {
        if (killedAt < 0 && p.labeled >= 2) {
          killedAt = p.labeled;
          victim.child.kill("SIGKILL");
        }
      },
    });
    await remote.dispose();
    assert.ok(killedAt >= 2 && killedAt < N, `killed after ${killedAt} of ${N} records`);
    assert.equal(await victim.exited, null, "the server really died (by signal)");
    assert.equal(run.stats.records, N);
    assert.ok(events.some((e) => e.endpoint === victim.url && (e.type === "retry" || e.type === "down")), JSON.stringify(events));

    const want = readJsonlFile(localOut);
    const got = readJsonlFile(out);
    assert.deepEqual(got.map((r) => r.id), want.map((r) => r.id), "every record exactly once, in input order");
    let maxDiff = 0;
    got.forEach((r, i) => (r.cpmi as number[]).forEach((x, k) => (maxDiff = Math.max(maxDiff, Math.abs(x - (want[i]!.cpmi as number[])[k]!)))));
    // Not bit-equal: a record that moved restarts on a server whose KV cache holds other prefixes, and
    // llama.cpp's sums depend on how tokens fall into batches (the local backend against itself
    // differs by up to 5e-3 in parallel sessions, see backend.test.ts).
    t.diagnostic(`${N} records in ${((performance.now() - t0) / 1000).toFixed(1)} s, server killed after ${killedAt}; max |cpmi difference| from local ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff < 5e-3, `max |cpmi difference| ${maxDiff}`);
    got.forEach((r, i) => assert.equal(r.first_error, want[i]!.first_error, `first error of ${String(r.id)}`));
  });
});
