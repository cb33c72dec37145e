// `steplens serve` against a hostile caller (issue 10 items 3, 9, the HTTP half of 8 and the serve
// part of 1), over real loopback HTTP with the demo model: cross-site requests and DNS rebinding,
// content types, hostile bodies, hang-ups, what reaches the log, the token's file and strength, and
// the Retry-After estimate.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chooseToken } from "../server/serve/auth.js";
import { DATA, readJsonlFile } from "./helpers.js";
import { postJson, startChild, startInProcess, waitFor, type ChildServer, type InProcessServer } from "./serveHelpers.js";

interface LabelRecord {
  id: string;
  problem: string;
  steps: string[];
  gold_answer: string;
}
const records = readJsonlFile<LabelRecord>(path.join(DATA, "arith-processbench-dev.jsonl"));
const TOKEN = "test-token-0123456789abcdef";

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** node:http rather than fetch: a browser's requests carry Host, Origin and Sec-Fetch-Site headers fetch will not let us forge. */
function raw(base: string, route: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(route, base), { method: init.method ?? "GET", headers: init.headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

const errorOf = (a: RawAnswer): { code: string; message: string } => (JSON.parse(a.text) as { error: { code: string; message: string } }).error;

function accepted(s: InProcessServer): number {
  return s.server.queue.stats().accepted;
}

describe("cross-site requests to a token-less loopback server (issue 10 item 3)", () => {
  let s: InProcessServer;
  let port: string;
  before(async () => {
    s = await startInProcess({ concurrency: 1, allowHosts: ["steplens.test"], allowOrigins: ["http://localhost:5173"] });
    port = new URL(s.url).port;
  });
  after(async () => s.stop());

  test("the reported attack (text/plain, Origin and Host evil.example) is refused and runs nothing; so is each of its three parts alone", async () => {
    const body = JSON.stringify({ problem: records[0]!.problem, steps: records[0]!.steps, gold_answer: records[0]!.gold_answer });
    const before = accepted(s);
    const attack = await raw(s.url, "/v1/score", { method: "POST", headers: { host: "evil.example", origin: "http://evil.example", "content-type": "text/plain" }, body });
    assert.equal(attack.status, 403, attack.text);
    const hostOnly = await raw(s.url, "/v1/score", { method: "POST", headers: { host: `evil.example:${port}`, "content-type": "application/json" }, body });
    assert.equal(hostOnly.status, 403, hostOnly.text);
    assert.equal(errorOf(hostOnly).code, "forbidden-host");
    const originOnly = await raw(s.url, "/v1/score", { method: "POST", headers: { origin: "http://evil.example", "content-type": "application/json" }, body });
    assert.equal(originOnly.status, 403, originOnly.text);
    assert.equal(errorOf(originOnly).code, "forbidden-origin");
    const typeOnly = await raw(s.url, "/v1/score", { method: "POST", headers: { "content-type": "text/plain" }, body });
    assert.equal(typeOnly.status, 415, typeOnly.text);
    assert.equal(accepted(s), before, "no refused request reached the queue");
  });

  test("Host: names of this machine and --allow-host names pass; any other name (DNS rebinding) gets 403", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "LOCALHOST.", `[::1]:${port}`, `127.0.0.2:${port}`, `steplens.test:${port}`]) {
      const r = await raw(s.url, "/v1/model", { headers: { host } });
      assert.equal(r.status, 200, `Host ${host}: ${r.text}`);
    }
    for (const host of [`evil.example:${port}`, "localhost.evil.example", "127.0.0.1.nip.io", "steplens.test.evil.example", "a b", `[::1`]) {
      const r = await raw(s.url, "/health", { headers: { host } });
      assert.equal(r.status, 403, `Host ${host}: ${r.text}`);
      assert.match(errorOf(r).message, /--allow-host/);
    }
  });

  test("Origin: none passes; a foreign one (or null) gets 403; an --allow-origin one gets CORS headers and its preflight answered", async () => {
    for (const origin of ["http://evil.example", "null", `http://127.0.0.1:${port}`, "http://localhost:5174"]) {
      const r = await raw(s.url, "/v1/model", { headers: { origin } });
      assert.equal(r.status, 403, `Origin ${origin}: ${r.text}`);
      assert.match(errorOf(r).message, /--allow-origin/);
      assert.equal(r.headers["access-control-allow-origin"], undefined);
    }
    const preflightEvil = await raw(s.url, "/v1/score", { method: "OPTIONS", headers: { origin: "http://evil.example", "access-control-request-method": "POST" } });
    assert.equal(preflightEvil.status, 403);
    const preflight = await raw(s.url, "/v1/score", {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers["access-control-allow-origin"], "http://localhost:5173");
    assert.match(String(preflight.headers["access-control-allow-headers"]), /content-type/i);
    const allowed = await raw(s.url, "/v1/backend/tokenize", { method: "POST", headers: { origin: "http://localhost:5173", "content-type": "application/json" }, body: JSON.stringify({ text: "1 + 1 = 2" }) });
    assert.equal(allowed.status, 200, allowed.text);
    assert.equal(allowed.headers["access-control-allow-origin"], "http://localhost:5173");
    // No Origin, but the browser says the request comes from another site (an <img>, a no-cors GET).
    const img = await raw(s.url, "/v1/metrics", { headers: { "sec-fetch-site": "cross-site" } });
    assert.equal(img.status, 403);
    const typed = await raw(s.url, "/v1/metrics", { headers: { "sec-fetch-site": "none" } });
    assert.equal(typed.status, 200);
  });

  test("POST bodies must be JSON (NDJSON too on /v1/label): anything else gets 415 saying what to send, before the body is read", async () => {
    const body = JSON.stringify({ text: "1 + 1 = 2" });
    for (const type of [undefined, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/x-ndjson"]) {
      const r = await raw(s.url, "/v1/backend/tokenize", { method: "POST", headers: type ? { "content-type": type } : {}, body });
      assert.equal(r.status, 415, `${type}: ${r.text}`);
      assert.equal(errorOf(r).code, "unsupported-media-type");
      assert.match(errorOf(r).message, /Content-Type: application\/json/);
    }
    const ok = await raw(s.url, "/v1/backend/tokenize", { method: "POST", headers: { "content-type": "Application/JSON; charset=utf-8" }, body });
    assert.equal(ok.status, 200, ok.text);
    const label = await raw(s.url, "/v1/label", { method: "POST", headers: { "content-type": "text/plain" }, body: JSON.stringify(records[0]) });
    assert.equal(label.status, 415);
    assert.match(errorOf(label).message, /application\/x-ndjson/);
  });

  test("the policy by bind address: any Host on 0.0.0.0 / :: / another address (a token is required there), only this machine's names on loopback", async () => {
    const { hostAllowed } = await import("../server/serve/requestGuard.js");
    const policy = (bindHost: string) => ({ bindHost, allowHosts: [], allowOrigins: [] });
    for (const bind of ["0.0.0.0", "::", "192.168.1.5"]) assert.equal(hostAllowed("gpu-box.example:8734", policy(bind)), true, bind);
    for (const bind of ["127.0.0.1", "::1", "localhost"]) {
      assert.equal(hostAllowed("gpu-box.example:8734", policy(bind)), false, bind);
      assert.equal(hostAllowed("[::1]:8734", policy(bind)), true, bind);
    }
    assert.equal(hostAllowed("gpu-box:8734", policy("gpu-box")), true, "the bound name itself");
  });

  test("/v1/label labels a copy of the batch in its own temp dir, never over its input, and removes it (issue 10 item 1, serve part)", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-serve-tmp-"));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const batch = records.slice(60, 64);
      const res = await postJson(`${s.url}/v1/label`, { records: batch });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let text = "";
      while (!text.includes('"event":"progress"')) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the batch ended before its first record");
        text += Buffer.from(value).toString();
      }
      // Mid-run: one private dir; the input there is the batch as sent, the output another file.
      const dirs = readdirSync(tmp).filter((d) => d.startsWith("steplens-serve-label-"));
      assert.equal(dirs.length, 1, `temp dirs: ${readdirSync(tmp).join(", ")}`);
      const dir = path.join(tmp, dirs[0]!);
      const input = path.join(dir, "input.jsonl");
      const output = path.join(dir, "output.jsonl");
      assert.deepEqual(readJsonlFile(input), batch);
      assert.notEqual(statSync(input).ino, statSync(output).ino, "input and output are different files");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
      const labeled = text.trim().split("\n").map((l) => JSON.parse(l) as { event: string; record?: LabelRecord & { cpmi: number[] } }).filter((l) => l.event === "record").map((l) => l.record!);
      assert.deepEqual(labeled.map((r) => [r.id, r.problem, r.steps]), batch.map((r) => [r.id, r.problem, r.steps]));
      await waitFor("the temp dir to be removed", () => (existsSync(dir) ? undefined : true));
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  test("every POST body is checked against its schema: a wrong field gets 400 naming it (issue 10 item 8, HTTP half)", async () => {
    const cases: [string, unknown, RegExp][] = [
      ["/v1/label", { records: [records[0]], options: { use_negatives: 7 } }, /options\.use_negatives/],
      ["/v1/label", { records: [records[0]], options: "trl" }, /options/],
      ["/v1/label", { records: "one" }, /records/],
      ["/v1/score", { text: "Step 1: 1 + 1 = 2.\nThe answer is 2.", file_name: 5 }, /file_name/],
      ["/v1/score", { problem: "1+1?", steps: ["1 + 1 = 2.", 3] }, /steps\[1\]/],
      ["/v1/bon", { problem: "1+1?", candidates: [{ text: "2" }, { text: 2 }] }, /candidates\[1\]\.text/],
      ["/v1/backend/continuations", { prefix: "x", continuations: "ab" }, /continuations/],
      ["/v1/backend/sample", { prefix: "x", options: { n: 1, maxTokens: 4, temperature: 1, seed: 1, stopAt: "never" } }, /options\.stopAt/],
    ];
    const before = accepted(s);
    for (const [route, body, field] of cases) {
      const r = await postJson(`${s.url}${route}`, body);
      const text = await r.text();
      assert.equal(r.status, 400, `${route} ${JSON.stringify(body).slice(0, 80)}: ${text}`);
      assert.match(text, field);
    }
    assert.equal(accepted(s), before, "no malformed request reached the queue");
  });
});

describe("hostile bodies, hang-ups and the log (issue 10 item 9)", () => {
  let s: InProcessServer;
  const logs: string[] = [];
  before(async () => {
    s = await startInProcess({ token: TOKEN, concurrency: 1, log: (line) => logs.push(line) });
  });
  after(async () => s.stop());

  test("deeply nested JSON is 400 on every body route (JSON and NDJSON), never a 500 stack overflow", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const bodies: [string, string, string][] = [
      ["/v1/label", "application/json", `{"records":[${deep}]}`],
      ["/v1/label", "application/x-ndjson", `${JSON.stringify(records[0])}\n{"id":"x","problem":${deep}}\n`],
      ["/v1/score", "application/json", `{"problem":"1+1?","steps":["1 + 1 = 2."],"extra":${deep}}`],
    ];
    for (const [route, type, body] of bodies) {
      const r = await raw(s.url, route, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": type }, body });
      assert.equal(r.status, 400, `${route} ${type}: ${r.text.slice(0, 200)}`);
      assert.match(errorOf(r).message, /nest/);
    }
    assert.doesNotMatch(logs.join("\n"), /Maximum call stack/);
  });

  test("a client hanging up mid-body is logged in one line, without a stack trace", async () => {
    const { port } = new URL(s.url);
    for (const route of ["/v1/label", "/v1/score"]) {
      const seen = logs.length;
      await new Promise<void>((resolve, reject) => {
        const sock = net.connect(Number(port), "127.0.0.1", () => {
          sock.write(`POST ${route} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"records":[`, () => {
            sock.destroy();
            resolve();
          });
        });
        sock.on("error", reject);
      });
      const line = await waitFor(`the server to log the hang-up on ${route}`, () => logs.slice(seen).find((l) => l.includes(route)));
      assert.match(line, /closed the connection/);
      assert.doesNotMatch(line, /\n|\bat .*:\d+:\d+/, "no stack trace");
    }
    // And mid-answer: a label batch whose client leaves after its first record.
    const seen = logs.length;
    const stop = new AbortController();
    const res = await postJson(`${s.url}/v1/label`, { records: records.slice(70, 76) }, { token: TOKEN, signal: stop.signal });
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes('"event":"progress"')) {
      const { value, done } = await reader.read();
      assert.ok(!done, "the batch ended before its first record");
      text += Buffer.from(value).toString();
    }
    stop.abort();
    const line = await waitFor("the server to log the cancelled batch", () => logs.slice(seen).find((l) => l.includes("/v1/label")));
    assert.match(line, /closed the connection/);
    assert.doesNotMatch(line, /\n|\bat .*:\d+:\d+/, "no stack trace");
  });

  test("a token sent in the query string is refused and never written to the log", async () => {
    const secret = "query-secret-1b9f2c7d6e";
    const r = await raw(s.url, `/v1/model?token=${secret}&x=1`);
    assert.equal(r.status, 401);
    assert.match(errorOf(r).message, /Authorization: Bearer/);
    const m = await raw(s.url, `/nothing?access_token=${secret}`);
    assert.equal(m.status, 404);
    assert.doesNotMatch(m.text, new RegExp(secret));
    const line = await waitFor("the request to be logged", () => logs.find((l) => l.startsWith("GET /v1/model")));
    assert.match(line, /token=/, "the log still says a token parameter was sent");
    assert.doesNotMatch(logs.join("\n"), new RegExp(secret));
  });
});

describe("refused uploads, against a server in its own process", () => {
  // In one process the client writes the whole body before the server reads a byte, so a connection
  // closed too early cannot show: the server runs as users run it.
  let server: ChildServer;
  before(async () => {
    server = await startChild(["--token", TOKEN]);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
  });

  test("an oversized body the client is still uploading gets its 413, not a reset; one past the drain limit is cut", async () => {
    // 2.3 MB against the 1 MiB limit, five at once, as bench/serveLoad.ts sends them.
    const body = JSON.stringify({ problem: "x", text: "Step 1: 1 + 1 = 2.\n".repeat(120_000) });
    const got = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const r = await fetch(`${server.url}/v1/score`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body });
        return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
      }),
    );
    assert.deepEqual(got, Array.from({ length: 5 }, () => ({ status: 413, code: "body-too-large" })));
    // 100 MB declared: past the drain limit, so the connection is closed long before that much is sent.
    const { port } = new URL(server.url);
    const { head, sent } = await new Promise<{ head: string; sent: number }>((resolve, reject) => {
      const sock = net.connect(Number(port), "127.0.0.1");
      let head = "";
      let sent = 0;
      let open = true;
      sock.on("data", (d: Buffer) => (head += d.toString()));
      sock.on("close", () => {
        open = false;
        resolve({ head, sent });
      });
      sock.on("error", () => {}); // the reset of a cut upload; "close" follows
      const upload = async (): Promise<void> => {
        sock.write(`POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`);
        const chunk = Buffer.alloc(1024 * 1024, 32);
        while (open && sent < 100 * 1024 * 1024) {
          sent += chunk.length;
          if (!sock.write(chunk)) await new Promise((r) => sock.once("drain", r).once("close", r));
        }
        if (open) reject(new Error("the whole 100 MB went through: the upload was not cut"));
      };
      sock.on("connect", () => void upload().catch(reject));
    });
    // The 413 goes out first, but a client still sending when the connection closes may get a reset
    // that discards it: the price of not reading 100 MB for nothing.
    assert.ok(head === "" || /^HTTP\/1\.1 413 /.test(head), head);
    assert.ok(sent < 100 * 1024 * 1024, `${sent} bytes sent before the cut`);
  });
});

describe("Retry-After (issue 10 item 9)", () => {
  let s: InProcessServer;
  before(async () => {
    s = await startInProcess({ concurrency: 1, limits: { maxQueue: 0 } });
  });
  after(async () => s.stop());

  test("Retry-After follows a typical job, not a long batch before it", async () => {
    // Typical jobs: the remote backend's small calls. Then one long one: a label batch run to the end.
    const short: number[] = [];
    for (const r of records.slice(100, 105)) {
      const t0 = performance.now();
      const res = await postJson(`${s.url}/v1/backend/continuations`, { prefix: `Question: ${r.problem}\nAnswer:`, continuations: [` ${r.gold_answer}.`, " 1."] });
      assert.equal(res.status, 200);
      await res.json();
      short.push(performance.now() - t0);
    }
    const t0 = performance.now();
    const long = await postJson(`${s.url}/v1/label`, { records: records.slice(110, 118) });
    assert.equal(long.status, 200);
    await long.text();
    const longMs = performance.now() - t0;
    // A batch's stream ends inside its job; the lane is free a moment later.
    await waitFor("the batch to leave its lane", () => (s.server.queue.stats().running === 0 ? true : undefined));
    // A job running, another refused: how long does the server say to wait?
    const stop = new AbortController();
    const running = postJson(`${s.url}/v1/label`, { records: records.slice(130, 150) }, { signal: stop.signal }).catch(() => undefined);
    await waitFor("the next batch to run", () => (s.server.queue.stats().running === 1 ? true : undefined));
    const refused = await postJson(`${s.url}/v1/score`, { problem: records[106]!.problem, steps: records[106]!.steps, gold_answer: records[106]!.gold_answer });
    stop.abort();
    await running;
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(
      retryAfter >= 1 && retryAfter <= Math.ceil(Math.max(...short) / 1000),
      `Retry-After ${retryAfter} s; typical jobs took ${short.map((x) => Math.round(x)).join(", ")} ms, the long one ${Math.round(longMs)} ms`,
    );
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, new RegExp(`retry after ${retryAfter} s`));
    await waitFor("the cancelled batch to leave its lane", () => (s.server.queue.stats().running === 0 ? true : undefined));
  });
});

describe("the serve token's file and strength (issue 10 item 9)", () => {
  const withConfig = <T>(fn: (home: string, env: NodeJS.ProcessEnv) => T): T => {
    const home = mkdtempSync(path.join(os.tmpdir(), "steplens-serve-token-"));
    const saved = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = home;
    try {
      return fn(home, { XDG_CONFIG_HOME: home });
    } finally {
      if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved;
    }
  };

  test("a stored token file readable by others is tightened to 0600 when reused, and the choice says it was", () => {
    withConfig((home, env) => {
      const file = path.join(home, "steplens", "serve-token");
      mkdirSync(path.dirname(file), { recursive: true });
      const token = randomBytes(32).toString("base64url");
      writeFileSync(file, token + "\n");
      chmodSync(file, 0o644);
      const choice = chooseToken("0.0.0.0", undefined, env);
      assert.equal(choice.source, "stored");
      assert.equal(choice.token, token);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal((choice as { loosenedMode?: number }).loosenedMode, 0o644);
      assert.equal((chooseToken("0.0.0.0", undefined, env) as { loosenedMode?: number }).loosenedMode, undefined, "a private file is reused as it is");
    });
  });

  test("off loopback a weak --token or $STEPLENS_TOKEN is refused with how to make a strong one; on loopback any token goes", () => {
    withConfig((_home, env) => {
      for (const weak of ["a", "secret", "password123", "hunter2hunter2", "0123456789"]) {
        assert.throws(() => chooseToken("0.0.0.0", weak, env), /too weak[\s\S]*openssl rand/, weak);
        assert.throws(() => chooseToken("::", undefined, { ...env, STEPLENS_TOKEN: weak }), /too weak/, weak);
        assert.equal(chooseToken("127.0.0.1", weak, env).token, weak);
      }
      for (const strong of [randomBytes(16).toString("hex"), randomBytes(32).toString("base64url"), "b9afa3b4-65cb-4124-9e87-8172cdaf2789", TOKEN]) {
        assert.equal(chooseToken("0.0.0.0", strong, env).token, strong);
      }
    });
  });

  test("`steplens serve --host 0.0.0.0 --token a` exits 2 before it loads the model or listens", async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "steplens-serve-token-"));
    const started = startChild(["--host", "0.0.0.0", "--token", "a"], { XDG_CONFIG_HOME: home });
    const outcome = await started.then(
      (srv) => {
        srv.child.kill("SIGKILL");
        return "started";
      },
      (err: Error) => err.message,
    );
    assert.match(outcome, /exited with 2 before it was ready[\s\S]*--token is too weak/);
    assert.doesNotMatch(outcome, /\n\s+at /, "no stack trace");
    assert.ok(!existsSync(path.join(home, "steplens", "serve-token")), "no token file written");
  });
});
