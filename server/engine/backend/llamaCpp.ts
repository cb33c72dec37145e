import { existsSync, openSync, readSync, closeSync, statSync } from "node:fs";
import os from "node:os";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import {
  BackendError,
  type Backend,
  type BackendInfo,
  type BackendSession,
  type ContinuationScore,
  type SampleOptions,
  type SessionOptions,
  type TokenCounters,
  type TokenEntropies,
} from "./types.js";
import { NumberStop } from "./numberStop.js";
import { answerLineDone } from "./answerStop.js";
import { GPU_NAMES, gpuUnavailableMessage, surveyGpus, whyNoGpu } from "./gpu.js";
import { commonPrefixLength, LanePool } from "./shared.js";
import { checkGgufFile } from "./ggufHeader.js";

export type GpuSetting = "auto" | "off" | "cuda" | "vulkan" | "metal";

export interface LlamaCppOptions {
  modelPath: string;
  /** "auto" uses a GPU when llama.cpp finds one; "off" forces CPU. */
  gpu?: GpuSetting;
  /** Layers to offload to the GPU: "auto" (llama.cpp fits what the free VRAM holds) or a count; 0 = CPU only. */
  gpuLayers?: number | "auto";
  /** CPU threads. Defaults to os.availableParallelism(): node-llama-cpp's own default (4) oversubscribes
   * 2-core machines and was measured 20-100x slower there. */
  threads?: number;
  /** Tokens per sequence; defaults to the model's training context, at most 4096. */
  contextSize?: number;
  /** Sequences per lane that branch from the shared prefix (answer continuations, samples). */
  branches?: number;
  /** Walker sequences per lane; one per answer-cue template keeps every template's prefix cached. */
  walkers?: number;
  /** Lanes: independent scoring sessions that run at the same time and share llama.cpp batches. */
  parallel?: number;
  /** false = evaluate every prefix from scratch (the naive cost baseline for benchmarks). */
  reusePrefix?: boolean;
  /** Aborts the load: between its phases, and inside node-llama-cpp's model load and context creation. */
  signal?: AbortSignal;
}

const GGUF_MAGIC = "GGUF";

/** Checks the file before llama.cpp sees it, so a wrong path or a non-GGUF file gets a message, not a crash. */
function checkModelFile(modelPath: string): void {
  if (!existsSync(modelPath)) {
    throw new BackendError(
      `model file not found: ${modelPath}. Name a GGUF file (--model on the command line, the steplens.modelPath setting in the editor, or STEPLENS_MODEL); ` +
        `the demo model is looked for at ../shared/models/arith-demo-15m-f16.gguf beside the checkout.`,
      "model-not-found",
    );
  }
  const stat = statSync(modelPath);
  if (!stat.isFile()) throw new BackendError(`model path is not a file: ${modelPath}`, "model-invalid");
  const head = Buffer.alloc(4);
  const fd = openSync(modelPath, "r");
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString("latin1") !== GGUF_MAGIC) {
    throw new BackendError(
      `not a GGUF model file: ${modelPath} (it does not start with the GGUF magic bytes). ` +
        `Convert the model with llama.cpp's convert_hf_to_gguf.py or download a .gguf build.`,
      "model-invalid",
    );
  }
}

/** Loads node-llama-cpp lazily: it is ESM with native parts, and commands that need no model stay fast. */
async function importLlama(): Promise<typeof import("node-llama-cpp")> {
  return await import("node-llama-cpp");
}

let sharedLlama: Promise<Llama> | undefined;
let sharedLlamaGpu: GpuSetting | undefined;

async function getSharedLlama(gpu: GpuSetting, threads: number): Promise<Llama> {
  if (!sharedLlama || sharedLlamaGpu !== gpu) {
    const { getLlama, LlamaLogLevel } = await importLlama();
    sharedLlamaGpu = gpu;
    sharedLlama = getLlama({
      gpu: gpu === "off" ? false : gpu,
      // Never try to compile llama.cpp at run time: machines here are offline and users expect
      // the prebuilt binaries; a missing binary is reported instead.
      build: "never",
      maxThreads: threads,
      logLevel: LlamaLogLevel.error,
      progressLogs: false,
    });
  }
  return sharedLlama;
}

/** Which GPU runs the model and how much of it, or why it runs on the CPU. */
async function deviceNote(llama: Llama, requested: GpuSetting, offloaded: number): Promise<string> {
  if (llama.gpu === false) {
    if (requested === "off") return "CPU (GPU off by setting)";
    return `CPU: ${whyNoGpu(await surveyGpus())}`;
  }
  const names = await llama.getGpuDeviceNames().catch(() => [] as string[]);
  const name = GPU_NAMES[llama.gpu] ?? llama.gpu;
  return `${name}${names.length ? ` (${names.join(", ")})` : ""}, ${offloaded} layers offloaded`;
}

export class LlamaCppBackend implements Backend {
  readonly counters: TokenCounters = { evaluated: 0, generated: 0 };
  readonly parallel: number;
  /** Set once in load(): the lanes need the backend as the owner of their token counters. */
  private lanes!: LanePool<Lane>;

  private constructor(
    readonly info: BackendInfo,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    parallel: number,
  ) {
    this.parallel = parallel;
  }

  static async load(options: LlamaCppOptions): Promise<LlamaCppBackend> {
    checkModelFile(options.modelPath);
    await checkGgufFile(options.modelPath);
    const threads = Math.max(1, options.threads ?? os.availableParallelism());
    const gpu = options.gpu ?? "auto";
    let llama: Llama;
    try {
      llama = await getSharedLlama(gpu, threads);
    } catch (err) {
      sharedLlama = undefined;
      if (gpu === "auto" || gpu === "off") {
        throw new BackendError(`could not start llama.cpp with gpu=${gpu}: ${errorText(err)}. Set the GPU to off (--gpu off, or the steplens.gpu setting) to use the CPU build.`, "backend");
      }
      throw new BackendError(gpuUnavailableMessage(gpu, await surveyGpus().catch(() => undefined), errorText(err)), "backend");
    }
    // node-llama-cpp quietly falls back to the CPU for a GPU type the platform lacks (metal on Linux);
    // a setting that names one GPU must not end up somewhere else without saying so.
    if (gpu !== "auto" && gpu !== "off" && llama.gpu !== gpu) {
      sharedLlama = undefined;
      throw new BackendError(gpuUnavailableMessage(gpu, await surveyGpus().catch(() => undefined)), "backend");
    }
    const gpuLayers = gpu === "off" || llama.gpu === false ? 0 : (options.gpuLayers ?? "auto");
    throwIfLoadAborted(options.signal);
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers, loadSignal: options.signal });
    } catch (err) {
      throwIfLoadAborted(options.signal);
      throw new BackendError(
        `could not load model ${options.modelPath}: ${errorText(err)}. The file may be truncated or corrupt; download or convert it again.`,
        "model-invalid",
      );
    }
    const trainContext = model.trainContextSize || 2048;
    const contextSize = Math.min(options.contextSize ?? trainContext, 4096);
    const branchCount = Math.max(1, options.branches ?? 8);
    const laneCount = Math.max(1, options.parallel ?? 1);
    const walkerCount = Math.max(1, options.walkers ?? 2);
    let context: LlamaContext;
    try {
      context = await model.createContext({
        contextSize,
        sequences: laneCount * (branchCount + walkerCount),
        threads: { ideal: threads, min: threads },
        batchSize: Math.min(512, contextSize),
        createSignal: options.signal,
      });
    } catch (err) {
      await model.dispose();
      throwIfLoadAborted(options.signal);
      throw new BackendError(`could not create a llama.cpp context of ${contextSize} tokens: ${errorText(err)}`, "backend");
    }
    const info: BackendInfo = {
      kind: "llama.cpp",
      model: options.modelPath,
      device: llama.gpu === false ? "cpu" : llama.gpu,
      deviceNote: await deviceNote(llama, gpu, model.gpuLayers),
      contextSize: context.contextSize,
      vocabulary: vocabularySize(model),
      threads,
    };
    const backend: LlamaCppBackend = new LlamaCppBackend(info, model, context, laneCount);
    const lanes = Array.from(
      { length: laneCount },
      () =>
        new Lane(
          backend,
          model,
          context,
          Array.from({ length: walkerCount }, () => context.getSequence()),
          Array.from({ length: branchCount }, () => context.getSequence()),
          options.reusePrefix ?? true,
        ),
    );
    backend.lanes = new LanePool(lanes);
    return backend;
  }

  tokenize(text: string): Promise<number[]> {
    return Promise.resolve(this.model.tokenize(text));
  }

  detokenize(tokens: readonly number[]): Promise<string> {
    // An id outside the vocabulary aborts llama.cpp, so it is refused first (as a rejection, like every backend error).
    try {
      checkTokenIds(this.model, tokens);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve(this.model.detokenize(tokens as Token[]));
  }

  async openSession(options: SessionOptions = {}): Promise<BackendSession> {
    const lane = await this.lanes.acquire();
    if (options.fresh) {
      try {
        await lane.forget();
      } catch (err) {
        this.lanes.releaser(lane)();
        throw err;
      }
    }
    lane.sessionCounters = { evaluated: 0, generated: 0 };
    return {
      counters: lane.sessionCounters,
      scoreContinuations: (prefix, continuations, signal) => lane.scoreContinuations(prefix, continuations, signal),
      sample: (prefix, options, signal) => lane.sample(prefix, options, signal),
      tokenEntropies: (prefix, text, signal) => lane.tokenEntropies(prefix, text, signal),
      tokenLogprobs: (tokens, from, signal) => lane.tokenLogprobs(tokens, from, signal),
      release: this.lanes.releaser(lane),
    };
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}

/** A walker sequence and its branch sequences: one scoring session's share of the context. */
class Lane {
  private readonly bos: Token | undefined;
  private readonly walkerLock = new AsyncLock();
  private readonly lastUsed: number[];
  private clock = 0;

  constructor(
    private readonly owner: { counters: TokenCounters },
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    /**
     * Walkers hold the KV cache of a prefix and move along consecutive prefixes. With one walker per
     * template, each template's walk keeps its own cache, so re-scoring after an edit of step k
     * evaluates only the tokens from step k on.
     */
    private readonly walkers: LlamaContextSequence[],
    /** Each answer continuation or sample forks from the walker's KV cache into one of these. */
    private readonly branches: LlamaContextSequence[],
    private readonly reuse: boolean,
  ) {
    this.bos = model.tokens.bos ?? undefined;
    this.lastUsed = walkers.map(() => 0);
  }

  /**
   * Empties every sequence of the lane and the walkers' order of use. A prefix the walker still held
   * was evaluated in other batches than a fresh run would use, and llama.cpp's results depend slightly
   * on how tokens were batched (f16 KV rounding): reusing it made a record's rewards differ by up to
   * 2e-4 between an interrupted-and-resumed run and an uninterrupted one.
   */
  async forget(): Promise<void> {
    for (const seq of [...this.walkers, ...this.branches]) await seq.clearHistory();
    this.lastUsed.fill(0);
    this.clock = 0;
  }

  /** This lane's tokens since its current session opened. */
  sessionCounters: TokenCounters = { evaluated: 0, generated: 0 };

  private count(evaluated: number, generated = 0): void {
    this.owner.counters.evaluated += evaluated;
    this.owner.counters.generated += generated;
    this.sessionCounters.evaluated += evaluated;
    this.sessionCounters.generated += generated;
  }

  async scoreContinuations(prefix: string, continuations: readonly string[], signal?: AbortSignal): Promise<ContinuationScore[]> {
    throwIfAborted(signal);
    const prefixTokens = this.model.tokenize(prefix);
    const jobs: ContinuationJob[] = continuations.map((continuation) => {
      const full = this.model.tokenize(prefix + continuation);
      // Tokenize prefix+continuation as one string, like the reference implementation; when the
      // tokenizer merges across the boundary, the merged token counts as part of the continuation.
      const split = commonPrefixLength(prefixTokens, full);
      if (split === 0 || split === full.length) {
        throw new BackendError(`cannot split continuation ${JSON.stringify(continuation)} from its prefix after tokenizing`, "backend");
      }
      return { full, split };
    });
    if (jobs.length === 0) return [];
    return this.reuse ? await this.scoreContinuationsShared(jobs, signal) : await this.scoreContinuationsNaive(jobs, signal);
  }

  /**
   * The answers after one prefix share their first tokens (the space after the cue, often leading
   * digits: " 46." and " 45." differ in one token). The walker evaluates the prefix and that common
   * part once, reading the log-probabilities of every answer's tokens there from its own outputs; a
   * branch then evaluates only what follows the first differing token, which for answers of equal
   * length is a single token. Same numbers as evaluating each answer in full, a fraction of the tokens.
   */
  private async scoreContinuationsShared(jobs: readonly ContinuationJob[], signal?: AbortSignal): Promise<ContinuationScore[]> {
    const fulls = jobs.map((j) => j.full);
    const minSplit = Math.min(...jobs.map((j) => j.split));
    // Leave at least the last token of every answer to be predicted at or after the walker's end.
    const common = Math.min(commonPrefixOfAll(fulls), ...fulls.map((f) => f.length - 1));
    const lead = fulls[0]!.slice(0, common);
    const withBos = this.bos != null ? [this.bos, ...lead] : [...lead];
    const offset = withBos.length - lead.length;
    if (withBos.length + 1 >= this.context.contextSize) {
      throw new BackendError(
        `the text is ${withBos.length + 1} tokens long but the model's context holds ${this.context.contextSize}`,
        "context-overflow",
      );
    }
    // Output at withBos index i predicts full[i - offset + 1]; answer token k is predicted at index k - 1 + offset.
    const requests = new Map<number, Token[]>();
    for (let k = minSplit; k <= common; k++) {
      const targets = new Set<Token>();
      for (const j of jobs) if (k >= j.split && k < j.full.length) targets.add(j.full[k]!);
      if (targets.size > 0) requests.set(k - 1 + offset, [...targets]);
    }
    const tokenLogprobs: number[][] = jobs.map(() => []);
    const needBranch: number[] = [];
    await this.walkerLock.run(async () => {
      const { outputs } = await this.moveWalker(withBos, requests);
      jobs.forEach((job, n) => {
        for (let k = job.split; k <= common && k < job.full.length; k++) tokenLogprobs[n]!.push(logprobOf(outputs.get(k - 1 + offset), job.full[k]!));
        if (job.full.length - 1 > common) needBranch.push(n);
      });
    });
    for (let start = 0; start < needBranch.length; start += this.branches.length) {
      throwIfAborted(signal);
      const group = needBranch.slice(start, start + this.branches.length);
      // Fork every branch before evaluating any: the evaluations then start in the same tick and
      // node-llama-cpp decodes them as one batch.
      const copied = await this.walkerLock.run(async () => {
        const { seq: walker } = await this.moveWalker(withBos);
        const ok: boolean[] = [];
        for (let g = 0; g < group.length; g++) ok.push(await this.copyInto(this.branches[g]!, walker, withBos.length));
        return ok;
      });
      await Promise.all(
        group.map(async (n, g) => {
          const job = jobs[n]!;
          const seq = this.branches[g]!;
          if (!copied[g]) {
            await seq.clearHistory();
            await seq.controlledEvaluate(withBos);
            this.count(withBos.length);
          }
          // Evaluate full[common .. length-2]; each predicts the next answer token.
          const inputs = job.full.slice(common, -1);
          const items = inputs.map((token, i) => [
            token,
            { generateNext: { logits: { filter: { tokens: [job.full[common + i + 1]!], includeSelected: true } }, totalLogitWeight: true } },
          ] as const);
          this.count(items.length);
          const out = await seq.controlledEvaluate(items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
          inputs.forEach((_, i) => tokenLogprobs[n]!.push(logprobOf(out[i]?.next, job.full[common + i + 1]!)));
        }),
      );
    }
    return tokenLogprobs.map(scoreOf);
  }

  /** Naive baseline: every continuation evaluates its whole prefix from scratch in its own branch. */
  private async scoreContinuationsNaive(jobs: readonly ContinuationJob[], signal?: AbortSignal): Promise<ContinuationScore[]> {
    const results = new Array<ContinuationScore>(jobs.length);
    // Continuations that share the same token split branch together from one walker state.
    for (let start = 0; start < jobs.length; start += this.branches.length) {
      throwIfAborted(signal);
      const group = jobs.slice(start, start + this.branches.length);
      // Fork every branch before evaluating any: the evaluations then start in the same tick and
      // node-llama-cpp decodes them as one batch instead of one small decode per continuation.
      const stems = await this.forkAll(this.branches.slice(0, group.length), group.map((j) => j.full.slice(0, j.split)));
      await Promise.all(
        group.map(async (job, k) => {
          const seq = this.branches[k]!;
          const stem = stems[k]!;
          const answer = job.full.slice(job.split);
          const inputs = [stem, ...answer.slice(0, -1)];
          const items = inputs.map((token, j) => [
            token,
            {
              generateNext: {
                logits: { filter: { tokens: [answer[j]!], includeSelected: true } },
                totalLogitWeight: true,
              },
            },
          ] as const);
          this.count(items.length);
          const out = await seq.controlledEvaluate(items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
          const tokenLogprobs = answer.map((target, j) => logprobOf(out[j]?.next, target));
          results[start + k] = scoreOf(tokenLogprobs);
        }),
      );
    }
    return results;
  }

  async sample(prefix: string, options: SampleOptions, signal?: AbortSignal): Promise<string[]> {
    const prefixTokens = this.model.tokenize(prefix);
    const out: string[] = [];
    for (let start = 0; start < options.n; start += this.branches.length) {
      const seqs = this.branches.slice(0, Math.min(this.branches.length, options.n - start));
      const next: (Token | undefined)[] = await this.forkAll(seqs, seqs.map(() => prefixTokens));
      const generated: Token[][] = seqs.map(() => []);
      const stops = seqs.map(() => new NumberStop());
      // Lockstep: every live sample evaluates its next token in the same tick, so node-llama-cpp
      // puts them into one batch; free-running loops drift apart into one small decode each.
      for (let step = 0; step < options.maxTokens && next.some((t) => t != null); step++) {
        throwIfAborted(signal);
        await Promise.all(
          seqs.map(async (seq, k) => {
            const token = next[k];
            if (token == null) return;
            const res = await seq.controlledEvaluate([
              [
                token,
                {
                  generateNext: {
                    token: true,
                    options: {
                      temperature: options.temperature,
                      seed: options.seed + start + k,
                      // The reference samples from the full distribution: no top-k/top-p/min-p cut.
                      topK: 0,
                      topP: 1,
                      minP: 0,
                    },
                  },
                },
              ],
            ]);
            this.count(1);
            const sampled = res[0]?.next?.token;
            if (sampled == null || this.model.isEogToken(sampled)) {
              next[k] = undefined;
              return;
            }
            generated[k]!.push(sampled);
            this.count(0, 1);
            const text = this.model.detokenize(generated[k]!);
            const finished =
              options.stopAt === "number"
                ? stops[k]!.done(text)
                : options.stopAt === "answer"
                  ? answerLineDone(text)
                  : options.stopAt === "line" && text.includes("\n");
            next[k] = finished ? undefined : sampled;
          }),
        );
      }
      out.push(...generated.map((g) => this.model.detokenize(g)));
    }
    return out;
  }

  async tokenEntropies(prefix: string, text: string, signal?: AbortSignal): Promise<TokenEntropies> {
    throwIfAborted(signal);
    const prefixTokens = this.model.tokenize(prefix);
    const full = this.model.tokenize(prefix + text);
    const split = commonPrefixLength(prefixTokens, full);
    if (split === 0 || split >= full.length) throw new BackendError("cannot split the text from its prefix after tokenizing", "backend");
    const rest = full.slice(split);
    const seq = this.branches[0]!;
    const stem = await this.forkAt(seq, full.slice(0, split));
    const inputs = [stem, ...rest.slice(0, -1)];
    // The full distribution is needed for an entropy; a demo-sized vocabulary (1k) makes that cheap,
    // a 150k one costs a copy per token, which is why only segmentation asks for it.
    const items = inputs.map((token) => [token, { generateNext: { probabilities: true } }] as const);
    this.count(items.length);
    const out = await seq.controlledEvaluate(items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
    const entropies: number[] = [];
    const logprobs: number[] = [];
    const lineBreakProbs: number[] = [];
    const newline = this.model.tokenize("a\n").at(-1);
    rest.forEach((target, j) => {
      const probs = out[j]?.next?.probabilities;
      if (!probs) throw new BackendError("llama.cpp returned no probabilities", "backend");
      let h = 0;
      for (const p of probs.values()) if (p > 0) h -= p * Math.log(p);
      entropies.push(h);
      logprobs.push(Math.log(Math.max(probs.get(target) ?? 0, 1e-30)));
      lineBreakProbs.push(newline != null ? (probs.get(newline) ?? 0) : 0);
    });
    // Offsets: detokenize growing token prefixes; the shift absorbs a leading space the tokenizer adds
    // or drops, so that offsets index the caller's own string.
    const whole = prefix + text;
    const shift = whole.length - this.model.detokenize(full).length;
    const at = (k: number): number => Math.min(text.length, Math.max(0, this.model.detokenize(full.slice(0, k)).length + shift - prefix.length));
    const spans = rest.map((_, j) => ({ start: at(split + j), end: at(split + j + 1) }));
    return { spans, entropies, logprobs, lineBreakProbs };
  }

  /**
   * One forward pass over BOS + `tokens` in a branch sequence, asking for the logits only where a
   * token at index >= `from` is predicted. Nothing is reused from the walker: Implicit PRM reads each
   * model once per solution, so there is no earlier prefix to share.
   */
  async tokenLogprobs(tokens: readonly number[], from: number, signal?: AbortSignal): Promise<number[]> {
    throwIfAborted(signal);
    checkTokenIds(this.model, tokens);
    const withBos: Token[] = this.bos != null ? [this.bos, ...(tokens as Token[])] : [...(tokens as Token[])];
    const offset = withBos.length - tokens.length;
    if (withBos.length > this.context.contextSize) {
      throw new BackendError(`the text is ${withBos.length} tokens long but the model's context holds ${this.context.contextSize}`, "context-overflow");
    }
    // Input i predicts tokens[i - offset + 1]; the last input predicts nothing we need.
    const inputs = withBos.slice(0, -1);
    const items = inputs.map((token, i) => {
      const k = i - offset + 1;
      return k >= from && k >= 0
        ? ([token, { generateNext: { logits: { filter: { tokens: [tokens[k]! as Token], includeSelected: true } }, totalLogitWeight: true } }] as const)
        : token;
    });
    const seq = this.branches[0]!;
    await seq.clearHistory();
    const out = await seq.controlledEvaluate(items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
    // BOS and every token but the last went in: with BOS, exactly as many tokens as the text has.
    this.count(inputs.length);
    const logprobs = tokens.map(() => NaN);
    inputs.forEach((_, i) => {
      const k = i - offset + 1;
      if (k >= from && k >= 0) logprobs[k] = logprobOf(out[i]?.next, tokens[k]! as Token);
    });
    return logprobs;
  }

  private async forkAll(seqs: readonly LlamaContextSequence[], tokenLists: readonly (readonly Token[])[]): Promise<Token[]> {
    const out: Token[] = [];
    for (let k = 0; k < seqs.length; k++) out.push(await this.forkAt(seqs[k]!, tokenLists[k]!));
    return out;
  }

  /**
   * Puts `seq` in the state "everything of `tokens` but the last token is in the KV cache" and returns
   * that last token: the caller evaluates it to get the distribution of what follows `tokens`.
   * The walker moves to the prefix first, evaluating only what it lacks; the branch then copies the
   * walker's KV cells (a metadata copy in llama.cpp) instead of evaluating the prefix again.
   */
  private async forkAt(seq: LlamaContextSequence, tokens: readonly Token[]): Promise<Token> {
    const withBos = this.bos != null ? [this.bos, ...tokens] : [...tokens];
    if (withBos.length >= this.context.contextSize) {
      throw new BackendError(
        `the text is ${withBos.length} tokens long but the model's context holds ${this.context.contextSize}`,
        "context-overflow",
      );
    }
    const stem = withBos.slice(0, -1);
    const last = withBos[withBos.length - 1]!;
    if (!this.reuse) {
      // Naive baseline: every request evaluates its whole prefix from scratch.
      await seq.clearHistory();
      await seq.controlledEvaluate(stem);
      this.count(stem.length);
      return last;
    }
    // A fork must copy the walker while it stands at this stem, so the move and the copy share the lock.
    const copied = await this.walkerLock.run(async () => {
      const { seq: walker } = await this.moveWalker(stem);
      return await this.copyInto(seq, walker, stem.length);
    });
    if (!copied) {
      await seq.clearHistory();
      await seq.controlledEvaluate(stem);
      this.count(stem.length);
    }
    return last;
  }

  /**
   * Moves the walker that shares the longest prefix with `stem` (else the least recently used one)
   * so that it holds exactly `stem`. `requests` asks for logits at stem indices: those positions are
   * evaluated again even when the walker already holds them, since llama.cpp keeps no old outputs.
   */
  private async moveWalker(stem: readonly Token[], requests?: ReadonlyMap<number, readonly Token[]>): Promise<{ seq: LlamaContextSequence; outputs: Map<number, WalkerOutput> }> {
    let best = 0;
    let bestShared = -1;
    this.walkers.forEach((w, k) => {
      const shared = commonPrefixLength(w.contextTokens, stem);
      // A walker that shares only the BOS or a few tokens is worth less than an idle one.
      const score = shared > 8 ? shared : -1;
      if (score > bestShared || (score === bestShared && this.lastUsed[k]! < this.lastUsed[best]!)) {
        best = k;
        bestShared = score;
      }
    });
    this.lastUsed[best] = ++this.clock;
    const seq = this.walkers[best]!;
    let keep = commonPrefixLength(seq.contextTokens, stem);
    if (requests && requests.size > 0) keep = Math.min(keep, Math.min(...requests.keys()));
    if (keep < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    const outputs = new Map<number, WalkerOutput>();
    const rest = stem.slice(keep);
    if (rest.length > 0) {
      const items = rest.map((token, i) => {
        const targets = requests?.get(keep + i);
        return targets
          ? ([token, { generateNext: { logits: { filter: { tokens: [...targets], includeSelected: true } }, totalLogitWeight: true } }] as const)
          : token;
      });
      const out = await seq.controlledEvaluate(items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
      this.count(rest.length);
      rest.forEach((_, i) => {
        const next = out[i]?.next;
        if (requests?.has(keep + i) && next) outputs.set(keep + i, next);
      });
    }
    return { seq, outputs };
  }

  /** Makes `seq` a copy of the first `upTo` cells of `walker`; false when the copy is not possible. */
  private async copyInto(seq: LlamaContextSequence, walker: LlamaContextSequence, upTo: number): Promise<boolean> {
    // A branch may still hold cells of an earlier fork; llama.cpp's copy adds cells, it does not clear.
    await seq.clearHistory();
    // _copyStateFromOtherSequence is node-llama-cpp's internal fork (its LlamaDecisionContext uses it);
    // when it is missing or refuses, the caller evaluates the tokens instead.
    const fork = (seq as unknown as { _copyStateFromOtherSequence?: (o: LlamaContextSequence, upTo: number) => Promise<boolean> })
      ._copyStateFromOtherSequence;
    return fork ? await fork.call(seq, walker, upTo) : false;
  }
}

interface ContinuationJob {
  /** prefix + continuation, tokenized as one string. */
  full: Token[];
  /** Index of the continuation's first token in `full`. */
  split: number;
}

/** What a controlled evaluation returns for a position whose logits were asked for. */
interface WalkerOutput {
  logits?: Map<Token, number>;
  totalLogitWeight?: number;
}

/**
 * log p(target) from a filtered logits output. With greedy selection the selected token is the
 * arg-max, so its logit is the max logit that totalLogitWeight = sum(exp(logit - max)) is relative
 * to: an exact log-softmax without copying the whole vocabulary's distribution to JavaScript (a real
 * model has 150k tokens).
 */
function logprobOf(next: WalkerOutput | undefined, target: Token): number {
  if (!next?.logits || next.totalLogitWeight == null) throw new BackendError("llama.cpp returned no logits", "backend");
  let max = -Infinity;
  for (const v of next.logits.values()) max = Math.max(max, v);
  const logit = next.logits.get(target);
  if (logit == null) throw new BackendError("llama.cpp did not return the requested token's logit", "backend");
  return logit - max - Math.log(next.totalLogitWeight);
}

/** The length-normalised log-probability the CPMI paper uses (Appendix A). */
function scoreOf(tokenLogprobs: number[]): ContinuationScore {
  return { tokenLogprobs, meanLogprob: tokenLogprobs.reduce((a, b) => a + b, 0) / tokenLogprobs.length };
}

function commonPrefixOfAll(lists: readonly (readonly number[])[]): number {
  let n = lists[0]!.length;
  for (const l of lists.slice(1)) n = Math.min(n, commonPrefixLength(lists[0]!, l));
  return n;
}

/** Serialises walker moves: branches fork concurrently but must all see the walker at their stem. */
class AsyncLock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Token ids can come from a client over HTTP (steplens serve's /v1/backend/*), and llama.cpp looks
 * an id up unchecked: one outside the vocabulary aborts the whole process (a C++ out_of_range).
 */
function checkTokenIds(model: LlamaModel, tokens: readonly number[]): void {
  const vocabulary = vocabularySize(model);
  const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || (vocabulary != null && t >= vocabulary));
  if (bad !== undefined) throw new BackendError(`token id ${bad} is not in the model's vocabulary (ids 0 to ${vocabulary == null ? "?" : vocabulary - 1})`, "backend");
}

function vocabularySize(model: LlamaModel): number | undefined {
  return (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens?.length;
}

function throwIfLoadAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BackendError("the model load was cancelled", "cancelled");
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BackendError("scoring was cancelled", "cancelled");
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
