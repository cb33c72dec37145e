// A real llama-server on loopback for the llama-server backend's test and benchmark: built from
// node-llama-cpp's bundled llama.cpp by scripts/build-llama-server.mjs (once per machine), started on
// a free port with the demo model, stopped by the caller.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { DEMO_MODEL, REPO } from "./helpers.js";

export interface RunningLlamaServer {
  url: string;
  child: ChildProcess;
  /** The server's stderr so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Path of the llama-server binary, building it first when this machine has none (20-30 min on 2 cores). */
export function llamaServerBinary(): string {
  const script = path.join(REPO, "scripts/build-llama-server.mjs");
  const out = execFileSync(process.execPath, [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return out.trim().split("\n").at(-1)!;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startLlamaServer(options: { slots?: number; threads?: number; binary?: string } = {}): Promise<RunningLlamaServer> {
  const binary = options.binary ?? llamaServerBinary();
  const port = await freePort();
  const slots = options.slots ?? 1;
  const threads = String(options.threads ?? 1);
  // -c is per server; the demo model's training context (512) per slot, as the local backend uses.
  const args = ["-m", DEMO_MODEL, "--host", "127.0.0.1", "--port", String(port), "-t", threads, "-tb", threads,
    "-np", String(slots), "-c", String(512 * slots), "--no-warmup", "--no-webui"];
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode == null && child.signalCode == null) child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode == null && child.signalCode == null) child.kill("SIGKILL");
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode != null) throw new Error(`llama-server exited with code ${child.exitCode}:\n${stderr}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return { url, child, log: () => stderr, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`llama-server did not become healthy within 60 s:\n${stderr}`);
}
