// Shared fixtures: where the real demo model and data live, and one loaded backend per test file.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { LlamaCppBackend, type LlamaCppOptions } from "../server/engine/backend/llamaCpp.js";

export const REPO = path.resolve(import.meta.dirname, "..");
export const SHARED = path.resolve(REPO, "../shared");
export const DEMO_MODEL = path.join(SHARED, "models/arith-demo-15m-f16.gguf");
export const DATA = path.join(SHARED, "data");
export const CLI = path.join(REPO, "dist/cli.mjs");

if (!existsSync(DEMO_MODEL)) {
  throw new Error(`the demo model is missing at ${DEMO_MODEL}: the tests need ../shared beside the checkout`);
}

export function readJsonlFile<T = Record<string, unknown>>(file: string): T[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

export async function loadDemo(options: Partial<LlamaCppOptions> = {}): Promise<LlamaCppBackend> {
  return LlamaCppBackend.load({ modelPath: DEMO_MODEL, gpu: "off", ...options });
}

/** Reference records' steps carry their written prefix; the reference strips it before scoring. */
export function stripPrefix(step: string): string {
  return step.replace(/^(Step \d+: |\d+\. |- )/, "");
}

/** The built CLI as a user runs it, without a token from the environment; resolves when it exits. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, STEPLENS_TOKEN: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  return { code, stdout, stderr };
}
