// Starting a real `steplens serve` for tests: in-process on loopback port 0 with the demo model, or
// as the built CLI in a child process (for signals and exit codes).

import { spawn, type ChildProcess } from "node:child_process";
import { createEngine, type Engine } from "../server/engine/engineOptions.js";
import { startServer, type RunningServer, type ServeOptions } from "../server/serve/server.js";
import { CLI, DEMO_MODEL, REPO } from "./helpers.js";

export interface InProcessServer {
  engine: Engine;
  server: RunningServer;
  url: string;
  stop(): Promise<void>;
}

export async function startInProcess(options: Partial<ServeOptions> = {}): Promise<InProcessServer> {
  const engine = await createEngine({ modelPath: DEMO_MODEL, gpu: "off", threads: 1 });
  const server = await startServer(engine, { host: "127.0.0.1", port: 0, ...options });
  return {
    engine,
    server,
    url: server.url,
    async stop() {
      await server.shutdown(0);
      await engine.dispose();
    },
  };
}

export interface ChildServer {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

/** The built CLI's `steplens serve`, resolved once it prints "ready: URL". */
export async function startChild(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", "--threads", "1", "--gpu", "off", "--model", DEMO_MODEL, ...args], {
    cwd: REPO,
    env: { ...process.env, STEPLENS_TOKEN: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`steplens serve did not start in 60 s:\n${err}`)), 60_000);
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /ready: (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`steplens serve exited with ${code} before it was ready:\n${err}`));
    });
  });
  return { child, url, stderr: () => err, stdout: () => out, exited };
}

export async function postJson(url: string, body: unknown, init: { token?: string; signal?: AbortSignal } = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: JSON.stringify(body),
    signal: init.signal,
  });
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
