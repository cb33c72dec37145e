// Load on `steplens serve` over loopback, as many editors and scripts would put on one shared server:
// `--clients` clients each send `--per-client` /v1/score requests (distinct dev records, gold given),
// starting a new one every `--gap` ms without waiting for the previous answer, so each client's
// requests overlap. Two runs, each on a fresh server (the scorer memoises, a warm server would
// flatter the second): a small queue where the server must refuse some work with 429, and a queue
// larger than the load where it must refuse none. Each run also sends requests without a token and
// with an oversized body, which must be refused. Reported: answers by status, lost requests
// (network errors or no answer: must be 0), p50/p95 latency of the accepted ones, server throughput.
// Usage: node --import tsx bench/serveLoad.ts [--clients 20] [--per-client 10] [--gap 100] [--small-queue 8] [--json]
// Needs the built CLI (npm run build): the server runs as its own process, as it would in use.
// Requests go through node:http, not fetch: fetch gives up on a response whose headers take over 300 s
// (undici's headersTimeout), and with 200 jobs queued on one lane of a shared 2-core machine the last
// ones wait about that long; the bench measures the server, not that client default.

import { spawn } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import { CLI, DATA, DEMO_MODEL, readJsonlFile, REPO } from "../test/helpers.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "20" },
    "per-client": { type: "string", default: "10" },
    gap: { type: "string", default: "100" },
    "small-queue": { type: "string", default: "8" },
    json: { type: "boolean", default: false },
  },
});
const clients = Number(values.clients);
const perClient = Number(values["per-client"]);
const gapMs = Number(values.gap);
const total = clients * perClient;
const TOKEN = "bench-token-0123456789abcdef";
const records = readJsonlFile<{ problem: string; steps: string[]; gold_answer: string }>(path.join(DATA, "arith-processbench-dev.jsonl"));
if (records.length < total) throw new Error(`need ${total} distinct records, the dev set has ${records.length}`);

interface RunResult {
  name: string;
  maxQueue: number;
  requests: number;
  byStatus: Record<string, number>;
  lost: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  wallS: number;
  acceptedPerS: number;
  unauthenticatedRefused: string;
  oversizedRefused: string;
  serverCounts: Record<string, number>;
  exitCode: number | null;
}

async function startServer(maxQueue: number): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--threads", "1", "--gpu", "off", "--model", DEMO_MODEL, "--token", TOKEN, "--max-queue", String(maxQueue), "--quiet"], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const exited = new Promise<number | null>((r) => child.on("exit", r));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /ready: (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

function post(url: string, payload: unknown, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(payload);
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data), authorization: `Bearer ${TOKEN}` } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(data);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function oneRun(name: string, maxQueue: number): Promise<RunResult> {
  const server = await startServer(maxQueue);
  const byStatus: Record<string, number> = {};
  const latencies: number[] = [];
  let lost = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients * perClient });
  const send = async (i: number): Promise<void> => {
    const r = records[i]!;
    const t0 = performance.now();
    try {
      const { status, body } = await post(`${server.url}/v1/score`, { problem: r.problem, steps: r.steps, gold_answer: r.gold_answer }, agent);
      const ms = performance.now() - t0;
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (status === 200) {
        const steps = (JSON.parse(body) as { steps?: unknown[] }).steps;
        if (!Array.isArray(steps) || steps.length !== r.steps.length) lost++;
        latencies.push(ms);
      }
    } catch {
      lost++;
    }
  };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const mine: Promise<void>[] = [];
      for (let k = 0; k < perClient; k++) {
        mine.push(send(c * perClient + k));
        await new Promise((r) => setTimeout(r, gapMs));
      }
      await Promise.all(mine);
    }),
  );
  const wallS = (performance.now() - started) / 1000;
  const refusals = async (make: () => Promise<Response>, n: number, want: number): Promise<string> => {
    const got = await Promise.all(Array.from({ length: n }, () => make().then((r) => r.status, () => 0)));
    return `${got.filter((s) => s === want).length}/${n} got ${want}`;
  };
  const unauthenticatedRefused = await refusals(() => fetch(`${server.url}/v1/score`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ problem: "1+1?", steps: ["1 + 1 = 2."] }) }), 20, 401);
  const oversizedRefused = await refusals(
    () => fetch(`${server.url}/v1/score`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ problem: "x", text: "Step 1: 1 + 1 = 2.\n".repeat(120_000) }) }),
    5,
    413,
  );
  const metrics = (await (await fetch(`${server.url}/v1/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { queue: Record<string, number> };
  agent.destroy();
  const exitCode = await server.stop();
  latencies.sort((a, b) => a - b);
  const { accepted, completed, rejected, cancelled, failed } = metrics.queue;
  return {
    name,
    maxQueue,
    requests: total,
    byStatus,
    lost,
    p50Ms: Math.round(percentile(latencies, 50)),
    p95Ms: Math.round(percentile(latencies, 95)),
    maxMs: Math.round(latencies.at(-1) ?? NaN),
    wallS: Number(wallS.toFixed(1)),
    acceptedPerS: Number(((byStatus["200"] ?? 0) / wallS).toFixed(2)),
    unauthenticatedRefused,
    oversizedRefused,
    serverCounts: { accepted: accepted!, completed: completed!, rejected: rejected!, cancelled: cancelled!, failed: failed! },
    exitCode,
  };
}

const runs = [await oneRun(`--max-queue ${values["small-queue"]}`, Number(values["small-queue"])), await oneRun(`--max-queue ${total}`, total)];

if (values.json) process.stdout.write(JSON.stringify(runs, null, 2) + "\n");
else {
  console.log(`steplens serve under load: ${clients} clients × ${perClient} overlapping /v1/score requests (a new one every ${gapMs} ms per client), demo model, 1 lane, 1 thread`);
  console.log("| queue | 200 | 429 | other | lost | p50 ms | p95 ms | max ms | wall s | answers/s | no token | 2.3 MB body | server accepted/completed/rejected/cancelled | exit |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of runs) {
    const other = Object.entries(r.byStatus).filter(([s]) => s !== "200" && s !== "429").map(([s, n]) => `${s}×${n}`).join(" ") || "0";
    console.log(
      `| ${r.name} | ${r.byStatus["200"] ?? 0} | ${r.byStatus["429"] ?? 0} | ${other} | ${r.lost} | ${r.p50Ms} | ${r.p95Ms} | ${r.maxMs} | ${r.wallS} | ${r.acceptedPerS} | ${r.unauthenticatedRefused} | ${r.oversizedRefused} | ${r.serverCounts.accepted}/${r.serverCounts.completed}/${r.serverCounts.rejected}/${r.serverCounts.cancelled} | ${r.exitCode} |`,
    );
  }
  const answered = runs.every((r) => (r.byStatus["200"] ?? 0) + (r.byStatus["429"] ?? 0) === r.requests && r.lost === 0);
  console.log(answered ? "every request was answered (200 or 429); none lost" : "SOME REQUESTS WERE LOST OR FAILED");
}
