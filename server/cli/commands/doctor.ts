// `steplens doctor`: what this machine runs StepLens with, and whether it works, in one place, so a
// bug report or a "why is it slow / why no GPU" question starts from facts. Every check that fails
// says what to do, and the exit code is 1 when anything is broken.

import { existsSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { defaultModelPath } from "../../engine/backend/modelPath.js";
import { GPU_NAMES, surveyGpus, whyNoGpu, type GpuSurvey } from "../../engine/backend/gpu.js";
import { isBackendKind, openBackend } from "../../engine/backend/create.js";
import { checkGgufFile } from "../../engine/backend/ggufHeader.js";
import type { GpuSetting } from "../../engine/backend/llamaCpp.js";
import type { Backend } from "../../engine/backend/types.js";
import { addEngineFlags, engineOptionsFrom, type EngineFlagValues } from "../engineFlags.js";
import { VERSION } from "../../version.js";
import { resolveThreads } from "../../engine/backend/threads.js";

interface DoctorFlags extends EngineFlagValues {
  json?: boolean;
  run: boolean;
}

/** A finding that breaks StepLens, and what to do about it. */
export interface Problem {
  check: string;
  message: string;
}

interface RunCheck {
  ok: boolean;
  loadSeconds?: number;
  device?: string;
  deviceNote?: string;
  contextSize?: number;
  /** One tiny scoring call: tokens pushed through the model and how fast. */
  scoreMs?: number;
  tokensEvaluated?: number;
  tokensPerSecond?: number;
  /** Reading a prompt: tokens evaluated in one batch per second (what scoring a step mostly is). */
  promptTokensPerSecond?: number;
  promptTokens?: number;
  /** Writing: tokens sampled one at a time per second, one sequence (what sampling negatives is). */
  generationTokensPerSecond?: number;
  generatedTokens?: number;
  threads?: number;
  error?: string;
}

export interface DoctorReport {
  ok: boolean;
  steplens: string;
  platform: { os: string; release: string; arch: string; cpus: number; cpuModel: string; memoryGiB: number; freeMemoryGiB: number };
  node: { version: string; ok: boolean };
  nodeLlamaCpp: { version?: string; llamaCpp?: { repo?: string; release?: string }; prebuilt: string[]; packageDir?: string };
  gpu: { setting: string; gpuLayers: number | "auto"; types: { type: string; name: string; usable: boolean; reason?: string }[]; summary: string };
  backend: string;
  model?: {
    path: string;
    exists: boolean;
    bytes?: number;
    architecture?: string;
    name?: string;
    sizeLabel?: string;
    parameters?: number;
    contextLength?: number;
    layers?: number;
    fileType?: string;
    error?: string;
  };
  run?: RunCheck;
  endpoints?: { url: string; reachable: boolean; model?: string; device?: string; parallel?: number; connectMs?: number; scoreMs?: number; error?: string }[];
  problems: Problem[];
}

export function registerDoctor(program: Command): void {
  addEngineFlags(
    program
      .command("doctor")
      .description("check the set-up: platform, Node, node-llama-cpp and its llama.cpp build, GPU types (and why not), the model file, one timed scoring, and server endpoints; exit code 1 when something is broken")
      .option("--json", "print the report as one JSON object")
      .option("--no-run", "do not load the model or call the endpoints (file and platform checks only)"),
  ).action(async (flags: DoctorFlags) => {
    const report = await runDoctor(flags);
    process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + "\n" : formatDoctor(report));
    process.exitCode = report.ok ? 0 : 1;
  });
}

const GiB = 1024 ** 3;
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function runDoctor(flags: DoctorFlags): Promise<DoctorReport> {
  const options = engineOptionsFrom(flags);
  const problems: Problem[] = [];
  const backend = options.backend ?? "local";
  const nodeMajor = Number(process.versions.node.split(".")[0]);
  const report: DoctorReport = {
    ok: true,
    steplens: VERSION,
    platform: {
      os: `${os.type()} (${process.platform})`,
      release: os.release(),
      arch: process.arch,
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
      memoryGiB: round(os.totalmem() / GiB),
      freeMemoryGiB: round(os.freemem() / GiB),
    },
    node: { version: process.version, ok: nodeMajor >= 20 },
    nodeLlamaCpp: { prebuilt: [] },
    gpu: { setting: options.gpu ?? "auto", gpuLayers: options.gpuLayers ?? "auto", types: [], summary: "" },
    backend,
    problems,
  };
  if (!report.node.ok) problems.push({ check: "node", message: `Node ${process.version} is too old: StepLens needs Node 20 or later; install a current LTS release` });

  let survey: GpuSurvey | undefined;
  try {
    survey = await surveyGpus();
    report.nodeLlamaCpp.packageDir = survey.packageDir;
    report.nodeLlamaCpp.prebuilt = survey.prebuilt;
    if (survey.packageDir) {
      report.nodeLlamaCpp.version = readJson<{ version?: string }>(path.join(survey.packageDir, "package.json"))?.version;
      const info = readJson<{ tag?: string; llamaCppGithubRepo?: string }>(path.join(survey.packageDir, "llama", "llama.cpp.info.json"));
      if (info) report.nodeLlamaCpp.llamaCpp = { repo: info.llamaCppGithubRepo, release: info.tag };
    }
    const cpuBinary = `${survey.platform}-${survey.arch}`;
    if (!survey.prebuilt.some((p) => p === cpuBinary || p.startsWith(`${cpuBinary}-`) || (survey!.platform === "mac" && p.startsWith(cpuBinary)))) {
      problems.push({ check: "node-llama-cpp", message: `no prebuilt llama.cpp binary for ${cpuBinary} is installed (found: ${survey.prebuilt.join(", ") || "none"}); reinstall with \`npm install\` (optional dependencies on) or use the StepLens build for this platform` });
    }
    report.gpu.types = survey.types.map((t) => ({ type: t.type, name: GPU_NAMES[t.type], usable: t.usable, ...(t.reason ? { reason: t.reason } : {}) }));
    const usable = survey.types.filter((t) => t.usable).map((t) => GPU_NAMES[t.type]);
    report.gpu.summary = usable.length > 0 ? `usable: ${usable.join(", ")}` : whyNoGpu(survey);
    const setting = options.gpu;
    if (setting && setting !== "auto" && setting !== "off") {
      const t = survey.types.find((x) => x.type === setting);
      if (t && !t.usable) problems.push({ check: "gpu", message: `--gpu / steplens.gpu is "${setting}" but ${GPU_NAMES[t.type]} cannot be used here: ${t.reason}. Use "auto" or "off"` });
    }
  } catch (err) {
    problems.push({ check: "node-llama-cpp", message: `node-llama-cpp cannot be loaded: ${errorText(err)}; run \`npm install\` in the StepLens folder` });
  }

  // The model file is checked for the local backend, and for a server backend only when named.
  const modelPath = options.modelPath ? path.resolve(options.modelPath) : backend === "local" ? defaultModelPath() : undefined;
  if (modelPath) report.model = await inspectModel(modelPath, problems);

  if (flags.run && backend === "local" && report.model?.exists && !report.model.error) {
    report.run = await tryLocal(options.gpu ?? "auto", options.gpuLayers, resolveThreads(options.threads, 1), modelPath!, options.contextSize);
    // A GPU setting this machine cannot use is already a problem, with the same message.
    if (!report.run.ok && !problems.some((x) => x.check === "gpu")) problems.push({ check: "run", message: report.run.error ?? "the model did not run" });
  }
  if (backend !== "local") {
    if (!isBackendKind(backend)) problems.push({ check: "backend", message: `unknown backend "${backend}": use local, remote, openai or llama-server` });
    else if (options.endpoints?.length === 0) problems.push({ check: "endpoints", message: `backend "${backend}" needs the server's address: pass --endpoint URL` });
    else if (flags.run) {
      report.endpoints = [];
      for (const url of options.endpoints ?? []) {
        const e = await probeEndpoint(backend, url, options.token, options.timeoutMs, options.modelPath);
        report.endpoints.push(e);
        if (!e.reachable) problems.push({ check: "endpoint", message: `${url}: ${e.error}` });
      }
    }
  }
  report.ok = problems.length === 0;
  return report;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

async function inspectModel(modelPath: string, problems: Problem[]): Promise<NonNullable<DoctorReport["model"]>> {
  if (!existsSync(modelPath)) {
    problems.push({
      check: "model",
      message: `model file not found: ${modelPath}. Pass --model PATH to a GGUF file (or set STEPLENS_MODEL, or steplens.modelPath in the editor); the demo model is looked for at ../shared/models/arith-demo-15m-f16.gguf beside the checkout`,
    });
    return { path: modelPath, exists: false };
  }
  const stat = statSync(modelPath);
  if (!stat.isFile()) {
    problems.push({ check: "model", message: `model path is a folder, not a file: ${modelPath}; name the .gguf file inside it` });
    return { path: modelPath, exists: true, error: "not a file" };
  }
  const model: NonNullable<DoctorReport["model"]> = { path: modelPath, exists: true, bytes: stat.size };
  try {
    // node-llama-cpp's reader trusts the header's counts: a crafted one kept it busy for minutes.
    await checkGgufFile(modelPath);
  } catch (err) {
    model.error = errorText(err);
    problems.push({ check: "model", message: model.error });
    return model;
  }
  try {
    const { readGgufFileInfo, GgufFileType } = await import("node-llama-cpp");
    // The vocabulary is most of a small model's header and tells nothing here.
    const info = await readGgufFileInfo(modelPath, { logWarnings: false, ignoreKeys: ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"] });
    const general = info.metadata.general;
    model.architecture = general.architecture;
    if (general.name) model.name = general.name;
    if (general.size_label) model.sizeLabel = general.size_label;
    if (typeof general.file_type === "number") model.fileType = GgufFileType[general.file_type] ?? String(general.file_type);
    const arch = info.architectureMetadata as { context_length?: number; block_count?: number };
    if (arch.context_length != null) model.contextLength = Number(arch.context_length);
    if (arch.block_count != null) model.layers = Number(arch.block_count);
    let params = 0;
    for (const t of info.fullTensorInfo ?? info.tensorInfo ?? []) params += t.dimensions.reduce((a: number, d) => a * Number(d), 1);
    if (params > 0) model.parameters = params;
  } catch (err) {
    model.error = errorText(err);
    problems.push({ check: "model", message: `${modelPath} is not a readable GGUF file (${model.error}); download it again or convert it with llama.cpp's convert_hf_to_gguf.py` });
  }
  return model;
}

async function tryLocal(gpu: GpuSetting, gpuLayers: number | "auto" | undefined, threads: number, modelPath: string, contextSize?: number): Promise<RunCheck> {
  const t0 = performance.now();
  let backend: Backend | undefined;
  try {
    backend = await openBackend({ kind: "local", modelPath, gpu, gpuLayers, threads, contextSize, branches: 2, walkers: 1, parallel: 1 });
    const loadSeconds = (performance.now() - t0) / 1000;
    return { ...(await timedScore(backend)), loadSeconds: round(loadSeconds, 2) };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  } finally {
    await backend?.dispose();
  }
}

/** One tiny scoring: the smallest call that exercises the whole path a step score takes. */
async function timedScore(backend: Backend): Promise<RunCheck> {
  const session = await backend.openSession();
  try {
    const t = performance.now();
    const scores = await session.scoreContinuations("Question: What is 2 + 3?\nAnswer: 2 + 3 =", [" 5.", " 6."]);
    const ms = performance.now() - t;
    if (!scores.every((s) => Number.isFinite(s.meanLogprob))) throw new Error("the model returned log-probabilities that are not numbers");
    const tokens = session.counters.evaluated;
    const speed = await throughput(session);
    return {
      ok: true,
      device: backend.info.device,
      ...(backend.info.deviceNote ? { deviceNote: backend.info.deviceNote } : {}),
      contextSize: backend.info.contextSize,
      scoreMs: round(ms, 1),
      tokensEvaluated: tokens,
      tokensPerSecond: ms > 0 ? Math.round((tokens / ms) * 1000) : undefined,
      ...speed,
      ...(backend.info.threads != null ? { threads: backend.info.threads } : {}),
    };
  } finally {
    session.release();
  }
}

/**
 * The two speeds a user of a real model needs: reading (a ~200-token prompt in one batch, what every
 * step's scoring mostly costs) and writing (32 tokens sampled one at a time, what sampling negatives
 * and Monte Carlo rollouts cost). Measured on the loaded model, on whatever device it runs on.
 */
async function throughput(session: Awaited<ReturnType<Backend["openSession"]>>): Promise<Partial<RunCheck>> {
  const prompt = `Question: ${"Tom has 3 apples and buys 4 more, then gives 2 away. ".repeat(12)}How many apples does Tom have?\nAnswer:`;
  const before = session.counters.evaluated;
  let t = performance.now();
  await session.scoreContinuations(prompt, [" 5."]);
  const readMs = performance.now() - t;
  const read = session.counters.evaluated - before;
  const generatedBefore = session.counters.generated;
  t = performance.now();
  await session.sample(prompt, { n: 1, maxTokens: 32, temperature: 1, seed: 7 });
  const writeMs = performance.now() - t;
  const written = session.counters.generated - generatedBefore;
  return {
    promptTokens: read,
    promptTokensPerSecond: readMs > 0 ? Math.round((read / readMs) * 1000) : undefined,
    generatedTokens: written,
    generationTokensPerSecond: writeMs > 0 && written > 0 ? round((written / writeMs) * 1000, 1) : undefined,
  };
}

async function probeEndpoint(kind: string, url: string, token: string | undefined, timeoutMs: number | undefined, model: string | undefined): Promise<NonNullable<DoctorReport["endpoints"]>[number]> {
  if (!isBackendKind(kind)) return { url, reachable: false, error: `unknown backend ${kind}` };
  const t0 = performance.now();
  let backend: Backend | undefined;
  try {
    backend = await openBackend({ kind, endpoints: [url], token, timeoutMs: timeoutMs ?? 10_000, modelPath: model ?? defaultModelPath(), parallel: 1 });
    const connectMs = performance.now() - t0;
    const run = await timedScore(backend);
    return { url, reachable: true, model: backend.info.model, device: backend.info.device, parallel: backend.parallel, connectMs: Math.round(connectMs), scoreMs: run.scoreMs };
  } catch (err) {
    return { url, reachable: false, error: errorText(err) };
  } finally {
    await backend?.dispose().catch(() => {});
  }
}

function formatBytes(n: number): string {
  return n >= GiB ? `${(n / GiB).toFixed(2)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const mark = (ok: boolean): string => (ok ? "ok " : "!! ");
  const p = r.platform;
  lines.push(`steplens ${r.steplens}`);
  lines.push(`    platform      ${p.os} ${p.release}, ${p.arch}, ${p.cpus} CPUs (${p.cpuModel}), ${p.memoryGiB} GiB memory (${p.freeMemoryGiB} free)`);
  lines.push(`${mark(r.node.ok)} node          ${r.node.version}`);
  const n = r.nodeLlamaCpp;
  lines.push(`${mark(!!n.version)} node-llama-cpp ${n.version ?? "not found"}; llama.cpp ${n.llamaCpp?.release ?? "?"} (${n.llamaCpp?.repo ?? "?"})`);
  lines.push(`    prebuilt      ${n.prebuilt.join(", ") || "none"}`);
  const usable = r.gpu.types.filter((t) => t.usable).map((t) => t.name);
  lines.push(`    gpu           setting ${r.gpu.setting}, layers ${r.gpu.gpuLayers}; ${usable.length ? `usable: ${usable.join(", ")}` : "no usable GPU, so llama.cpp runs on the CPU"}`);
  for (const t of r.gpu.types) lines.push(`      ${t.name.padEnd(7)} ${t.usable ? "usable" : `no: ${t.reason}`}`);
  if (r.model) {
    const m = r.model;
    const good = m.exists && !m.error;
    lines.push(`${mark(good)} model         ${m.path}${m.bytes != null ? ` (${formatBytes(m.bytes)})` : ""}${m.exists ? "" : ": not found"}`);
    if (good) {
      const params = m.parameters != null ? `${(m.parameters / 1e6).toFixed(1)}M parameters` : m.sizeLabel;
      lines.push(`                  ${[m.architecture, m.name, params, m.fileType, m.layers != null ? `${m.layers} layers` : undefined, m.contextLength != null ? `context ${m.contextLength}` : undefined].filter(Boolean).join(", ")}`);
    }
  }
  lines.push(`    backend       ${r.backend}`);
  if (r.run) {
    if (r.run.ok) {
      lines.push(`ok  runs          loaded in ${r.run.loadSeconds} s on ${r.run.device === "cpu" ? "the CPU" : (r.run.deviceNote ?? r.run.device)}`);
      lines.push(`                  one scoring: ${r.run.tokensEvaluated} tokens in ${r.run.scoreMs} ms (${r.run.tokensPerSecond} tokens/s)`);
      if (r.run.promptTokensPerSecond != null) {
        lines.push(
          `    speed         reading ${r.run.promptTokensPerSecond} tokens/s (a ${r.run.promptTokens}-token prompt), writing ${r.run.generationTokensPerSecond ?? "?"} tokens/s (${r.run.generatedTokens} sampled)` +
            `${r.run.threads != null && r.run.device === "cpu" ? ` on ${r.run.threads} CPU thread${r.run.threads === 1 ? "" : "s"}` : ""}`,
        );
      }
    } else lines.push(`!!  runs          ${r.run.error}`);
  }
  for (const e of r.endpoints ?? []) {
    lines.push(e.reachable ? `ok  endpoint      ${e.url}: ${e.model} on ${e.device}, ${e.parallel} parallel, connected in ${e.connectMs} ms, one scoring in ${e.scoreMs} ms` : `!!  endpoint      ${e.url}: ${e.error}`);
  }
  lines.push("");
  if (r.ok) lines.push("everything needed works");
  else {
    lines.push(`${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}:`);
    for (const x of r.problems) lines.push(`  - ${x.check}: ${x.message}`);
  }
  return lines.join("\n") + "\n";
}
