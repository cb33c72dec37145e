import { existsSync, statSync } from "node:fs";
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
import { chatPromptOf, type ChatPrompt } from "./chatPrompt.js";
import { TokensStartingWith } from "./boundaryTokens.js";
import { SamplerMemory } from "./samplerMemory.js";
import { checkGgufFile, startsWithGgufMagic } from "./ggufHeader.js";
import { resolveThreads } from "./threads.js";

export type GpuSetting = "auto" | "off" | "cuda" | "vulkan" | "metal";

export interface LlamaCppOptions {
  modelPath: string;
  /** "auto" uses a GPU when llama.cpp finds one; "off" forces CPU. */
  gpu?: GpuSetting;
  /** Layers to offload to the GPU: "auto" (llama.cpp fits what the free VRAM holds) or a count; 0 = CPU only. */
  gpuLayers?: number | "auto";
  /** CPU threads. Defaults to $STEPLENS_THREADS, else os.availableParallelism(): node-llama-cpp's own
   * default (4) oversubscribes 2-core machines, and oversubscribed llama.cpp threads run many times
   * slower (threads.ts). */
  threads?: number;
  /** Most tokens per sequence; defaults to the model's training context. The context starts at
   * `initialContextSize` and grows to what the documents need (LlamaCppBackend.grow). */
  contextSize?: number;
  /** Tokens per sequence at load (default 1024, at most contextSize). */
  initialContextSize?: number;
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
  if (!startsWithGgufMagic(modelPath)) {
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
  /** The model's own chat template, when its GGUF has one (chat-format prompts). */
  chat?: ChatPrompt;
  /** Set once in load(): the lanes need the backend as the owner of their token counters. */
  private lanes!: LanePool<Lane>;
  private allLanes: Lane[] = [];
  readonly gate = new ResizeGate();
  readonly samplerMemory: SamplerMemory;
  private readonly bos: Token | undefined;

  private constructor(
    readonly info: BackendInfo,
    private readonly model: LlamaModel,
    private context: LlamaContext,
    parallel: number,
    private readonly shape: ContextShape,
  ) {
    this.parallel = parallel;
    // The model's metadata decides (`tokenizer.ggml.add_bos_token`): Llama-style models read a BOS
    // first, Qwen2.5 has a BOS token but was trained without it in front of every text.
    this.bos = model.tokens.shouldPrependBosToken ? (model.tokens.bos ?? undefined) : undefined;
    const vocabulary = (model.fileInfo.metadata?.tokenizer as { ggml?: { tokens?: readonly unknown[] } } | undefined)?.ggml?.tokens?.length ?? 0;
    this.samplerMemory = new SamplerMemory(vocabulary);
  }

  static async load(options: LlamaCppOptions): Promise<LlamaCppBackend> {
    checkModelFile(options.modelPath);
    await checkGgufFile(options.modelPath);
    const threads = resolveThreads(options.threads);
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
    // Every sequence gets the whole context size in llama.cpp (node-llama-cpp allocates
    // contextSize x sequences cells), so the size follows what the documents need, not the model's
    // maximum: 32k x 11 sequences of a 7B model would be gigabytes of KV cache. It starts small and
    // grows (grow()) up to the model's training context or the user's --context.
    const maxContextSize = Math.max(64, options.contextSize ?? trainContext);
    const shape: ContextShape = {
      threads,
      branches: Math.max(1, options.branches ?? 8),
      walkers: Math.max(1, options.walkers ?? 2),
      lanes: Math.max(1, options.parallel ?? 1),
      maxContextSize,
    };
    const contextSize = Math.min(maxContextSize, options.initialContextSize ?? INITIAL_CONTEXT);
    let context: LlamaContext;
    try {
      context = await createContext(model, shape, contextSize, options.signal);
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
      // What a text may need; the allocation grows to it on demand (grow()).
      contextSize: maxContextSize,
      vocabulary: vocabularySize(model),
      threads,
    };
    const backend: LlamaCppBackend = new LlamaCppBackend(info, model, context, shape.lanes, shape);
    backend.chat = await chatPromptOf(model);
    const healing = new TokensStartingWith(model);
    backend.allLanes = Array.from({ length: shape.lanes }, () => {
      const { walkers, branches } = sequencesOf(context, shape);
      return new Lane(backend, model, context, walkers, branches, options.reusePrefix ?? true, healing);
    });
    backend.lanes = new LanePool(backend.allLanes);
    return backend;
  }

  /** Tokens of `text` without BOS; special-token text (a chat template's `<|im_start|>`) is parsed, as llama-server does for prompts. */
  tokenize(text: string): Promise<number[]> {
    return Promise.resolve(this.model.tokenize(text, true));
  }

  /** The tokens the model is given for `text`: BOS first when the model's metadata asks for one. */
  promptTokens(text: string): Token[] {
    return this.withBos(this.model.tokenize(text, true));
  }

  /** `tokens` as the model reads them: BOS first when the metadata asks for one and the text did not write it. */
  withBos(tokens: readonly Token[]): Token[] {
    // A chat template may write the BOS itself (Llama 3's starts with <|begin_of_text|>).
    if (this.bos != null && tokens[0] !== this.bos) return [this.bos, ...tokens];
    return [...tokens];
  }

  /** For `--explain-prompt`: how a prompt and one answer continuation are cut into tokens. */
  describePrompt(prefix: string, continuation: string): PromptDescription {
    const prefixTokens = this.promptTokens(prefix);
    const full = this.promptTokens(prefix + continuation);
    const split = commonPrefixLength(prefixTokens, full);
    const piece = (t: Token): string => this.model.detokenize([t], true);
    return {
      bos: this.model.tokens.bos != null && prefixTokens[0] === this.model.tokens.bos ? piece(this.model.tokens.bos) : undefined,
      promptTokens: split,
      answerTokens: full.slice(split).map(piece),
      answerText: this.model.detokenize(full.slice(split), true, full.slice(Math.max(0, split - 8), split)),
      mergedTail: split < prefixTokens.length ? this.model.detokenize(prefixTokens.slice(split), true) : undefined,
    };
  }

  /** Tokens per sequence allocated now (info.contextSize is what it may grow to). */
  get allocatedContextSize(): number {
    return this.context.contextSize;
  }

  /**
   * Grows every sequence's context to hold `tokens` (rounded up to a power of two, at most
   * info.contextSize). llama.cpp cannot resize a context: a new one replaces it once no lane is inside
   * a call, and the lanes start over with empty caches. Without memory for the larger context the
   * backend keeps its size and lowers info.contextSize, so callers truncate from then on.
   */
  async grow(tokens: number): Promise<void> {
    await this.gate.resize(async () => {
      const current = this.context.contextSize;
      if (tokens <= current) return;
      let target = INITIAL_CONTEXT;
      while (target < tokens) target *= 2;
      target = Math.min(target, this.shape.maxContextSize);
      if (target <= current) return;
      await this.context.dispose();
      try {
        this.context = await createContext(this.model, this.shape, target);
      } catch {
        this.context = await createContext(this.model, this.shape, current);
        this.shape.maxContextSize = current;
        this.info.contextSize = current;
      }
      for (const lane of this.allLanes) lane.rebind(this.context, sequencesOf(this.context, this.shape));
    });
  }

  /** Special tokens are written as their text, the inverse of tokenize(), which parses them. */
  detokenize(tokens: readonly number[]): Promise<string> {
    // An id outside the vocabulary aborts llama.cpp, so it is refused first (as a rejection, like every backend error).
    try {
      checkTokenIds(this.model, tokens);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve(this.model.detokenize(tokens as Token[], true));
  }

  async openSession(options: SessionOptions = {}): Promise<BackendSession> {
    // A resize holds every lane; a session opened meanwhile waits for the new context.
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

/** What `--explain-prompt` shows about the tokens of one prompt and answer. */
export interface PromptDescription {
  /** The BOS token's text when the model's input starts with it (added by metadata or written by a chat template). */
  bos?: string;
  /** Tokens before the first token that carries answer text (BOS included). */
  promptTokens: number;
  /** The scored tokens, each as text (a SentencePiece token's leading space may show only in answerText). */
  answerTokens: string[];
  /** The scored tokens as one text, read after the prompt. */
  answerText: string;
  /** Prompt text the tokenizer merged into the first answer token (then healed, see boundaryTokens.ts). */
  mergedTail?: string;
}

/** Enough for a GSM8K-length solution in a chat template; doubled on demand (grow). */
const INITIAL_CONTEXT = 1024;

interface ContextShape {
  threads: number;
  branches: number;
  walkers: number;
  lanes: number;
  maxContextSize: number;
}

async function createContext(model: LlamaModel, shape: ContextShape, contextSize: number, signal?: AbortSignal): Promise<LlamaContext> {
  return await model.createContext({
    contextSize,
    sequences: shape.lanes * (shape.branches + shape.walkers),
    threads: { ideal: shape.threads, min: shape.threads },
    batchSize: Math.min(512, contextSize),
    createSignal: signal,
  });
}

function sequencesOf(context: LlamaContext, shape: ContextShape): { walkers: LlamaContextSequence[]; branches: LlamaContextSequence[] } {
  return {
    walkers: Array.from({ length: shape.walkers }, () => context.getSequence()),
    branches: Array.from({ length: shape.branches }, () => context.getSequence()),
  };
}

/** What a lane needs from its backend. */
interface LaneOwner {
  readonly counters: TokenCounters;
  readonly samplerMemory: SamplerMemory;
  readonly info: BackendInfo;
  readonly gate: ResizeGate;
  promptTokens(text: string): Token[];
  withBos(tokens: readonly Token[]): Token[];
  grow(tokens: number): Promise<void>;
}

/** A walker sequence and its branch sequences: one scoring session's share of the context. */
class Lane {
  private readonly walkerLock = new AsyncLock();
  private lastUsed: number[];
  private clock = 0;

  constructor(
    private readonly owner: LaneOwner,
    private readonly model: LlamaModel,
    private context: LlamaContext,
    /**
     * Walkers hold the KV cache of a prefix and move along consecutive prefixes. With one walker per
     * template, each template's walk keeps its own cache, so re-scoring after an edit of step k
     * evaluates only the tokens from step k on.
     */
    private walkers: LlamaContextSequence[],
    /** Each answer continuation or sample forks from the walker's KV cache into one of these. */
    private branches: LlamaContextSequence[],
    private readonly reuse: boolean,
    private readonly healing: TokensStartingWith,
  ) {
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

  /** After the backend grew its context: the new context's sequences (their caches start empty). */
  rebind(context: LlamaContext, seqs: { walkers: LlamaContextSequence[]; branches: LlamaContextSequence[] }): void {
    this.context = context;
    this.walkers = seqs.walkers;
    this.branches = seqs.branches;
    this.lastUsed = this.walkers.map(() => 0);
  }

  /** This lane's tokens since its current session opened. */
  sessionCounters: TokenCounters = { evaluated: 0, generated: 0 };

  /** Every evaluation goes through here, so that node-llama-cpp's per-call sampler memory is accounted for. */
  private async evaluate(seq: LlamaContextSequence, items: Parameters<LlamaContextSequence["controlledEvaluate"]>[0]): ReturnType<LlamaContextSequence["controlledEvaluate"]> {
    try {
      return await seq.controlledEvaluate(items);
    } finally {
      this.owner.samplerMemory.note();
    }
  }

  private count(evaluated: number, generated = 0): void {
    this.owner.counters.evaluated += evaluated;
    this.owner.counters.generated += generated;
    this.sessionCounters.evaluated += evaluated;
    this.sessionCounters.generated += generated;
  }

  async scoreContinuations(prefix: string, continuations: readonly string[], signal?: AbortSignal): Promise<ContinuationScore[]> {
    throwIfAborted(signal);
    const prefixTokens = this.owner.promptTokens(prefix);
    const jobs: ContinuationJob[] = continuations.map((continuation) => {
      // Tokenize prefix+continuation as one string, like the reference implementation: these are
      // the tokens the model would see. The answer starts at the first token that is not the
      // prefix's; when the tokenizer merged the prefix's end into it, that token is healed.
      const full = this.owner.promptTokens(prefix + continuation);
      const split = commonPrefixLength(prefixTokens, full);
      if (split === 0 || split === full.length) {
        throw new BackendError(`cannot split continuation ${JSON.stringify(continuation)} from its prefix after tokenizing`, "backend");
      }
      if (split === prefixTokens.length) return { full, split };
      const tail = this.model.detokenize(prefixTokens.slice(split), true, prefixTokens.slice(Math.max(0, split - 4), split));
      const heal = this.healing.get(tail);
      return heal.includes(full[split]!) ? { full, split, heal } : { full, split };
    });
    if (jobs.length === 0) return [];
    const longest = Math.max(...jobs.map((j) => j.full.length));
    return await this.withRoom(longest, () => (this.reuse ? this.scoreContinuationsShared(jobs, signal) : this.scoreContinuationsNaive(jobs, signal)));
  }

  /**
   * Runs one call with `tokens` of room in every sequence: the backend's context grows first when
   * needed, and no resize happens while the call runs (the lane's sequences stay valid).
   */
  private async withRoom<T>(tokens: number, fn: () => Promise<T>): Promise<T> {
    const overflow = (): BackendError =>
      new BackendError(`the text is ${tokens} tokens long but the model's context holds ${this.owner.info.contextSize}`, "context-overflow");
    if (tokens > this.owner.info.contextSize) throw overflow();
    if (tokens > this.context.contextSize) await this.owner.grow(tokens);
    await this.owner.gate.enter();
    try {
      if (tokens > this.context.contextSize) throw overflow();
      return await fn();
    } finally {
      this.owner.gate.exit();
    }
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
    // Output at index i of `lead` predicts token i + 1.
    const requests = new Map<number, Token[]>();
    for (let k = minSplit; k <= common; k++) {
      const targets = new Set<Token>();
      for (const j of jobs) for (const t of targetsAt(j, k)) targets.add(t);
      if (targets.size > 0) requests.set(k - 1, [...targets]);
    }
    const tokenLogprobs: number[][] = jobs.map(() => []);
    const needBranch: number[] = [];
    await this.walkerLock.run(async () => {
      const { outputs } = await this.moveWalker(lead, requests);
      jobs.forEach((job, n) => {
        for (let k = job.split; k <= common && k < job.full.length; k++) tokenLogprobs[n]!.push(answerLogprob(outputs.get(k - 1), job, k));
        if (job.full.length - 1 > common) needBranch.push(n);
      });
    });
    for (let start = 0; start < needBranch.length; start += this.branches.length) {
      throwIfAborted(signal);
      const group = needBranch.slice(start, start + this.branches.length);
      // Fork every branch before evaluating any: the evaluations then start in the same tick and
      // node-llama-cpp decodes them as one batch.
      const copied = await this.walkerLock.run(async () => {
        const { seq: walker } = await this.moveWalker(lead);
        const ok: boolean[] = [];
        for (let g = 0; g < group.length; g++) ok.push(await this.copyInto(this.branches[g]!, walker, lead.length));
        return ok;
      });
      await Promise.all(
        group.map(async (n, g) => {
          const job = jobs[n]!;
          const seq = this.branches[g]!;
          if (!copied[g]) {
            await seq.clearHistory();
            await this.evaluate(seq, lead);
            this.count(lead.length);
          }
          // Evaluate full[common .. length-2]; each predicts the next answer token.
          const inputs = job.full.slice(common, -1);
          const items = inputs.map((token, i) => [token, logitsRequest(targetsAt(job, common + i + 1))] as const);
          this.count(items.length);
          const out = await this.evaluate(seq, items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
          inputs.forEach((_, i) => {
            const k = common + i + 1;
            if (k >= job.split) tokenLogprobs[n]!.push(answerLogprob(out[i]?.next, job, k));
          });
        }),
      );
    }
    return tokenLogprobs.map(scoreOf);
  }

  /** Naive baseline: every continuation evaluates its whole prefix from scratch in its own branch. */
  private async scoreContinuationsNaive(jobs: readonly ContinuationJob[], signal?: AbortSignal): Promise<ContinuationScore[]> {
    const results = new Array<ContinuationScore>(jobs.length);
    for (let start = 0; start < jobs.length; start += this.branches.length) {
      throwIfAborted(signal);
      const group = jobs.slice(start, start + this.branches.length);
      // Fork every branch before evaluating any: the evaluations then start in the same tick and
      // node-llama-cpp decodes them as one batch instead of one small decode per continuation.
      const stems = await this.forkAll(this.branches.slice(0, group.length), group.map((j) => j.full.slice(0, j.split)));
      await Promise.all(
        group.map(async (job, k) => {
          const seq = this.branches[k]!;
          const answer = job.full.slice(job.split);
          const inputs = [stems[k]!, ...answer.slice(0, -1)];
          const items = inputs.map((token, j) => [token, logitsRequest(targetsAt(job, job.split + j))] as const);
          this.count(items.length);
          const out = await this.evaluate(seq, items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
          results[start + k] = scoreOf(answer.map((_, j) => answerLogprob(out[j]?.next, job, job.split + j)));
        }),
      );
    }
    return results;
  }

  async sample(prefix: string, options: SampleOptions, signal?: AbortSignal): Promise<string[]> {
    const prefixTokens = this.owner.promptTokens(prefix);
    // Room for the prompt and as much of the samples as the context can take; they stop at its end.
    const room = Math.max(prefixTokens.length + 1, Math.min(prefixTokens.length + options.maxTokens + 1, this.owner.info.contextSize));
    return await this.withRoom(room, () => this.sampleIn(prefixTokens, options, signal));
  }

  private async sampleIn(prefixTokens: Token[], options: SampleOptions, signal?: AbortSignal): Promise<string[]> {
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
        // A sample that would run past the context ends where it is.
        if (prefixTokens.length + step >= this.context.contextSize) break;
        await Promise.all(
          seqs.map(async (seq, k) => {
            const token = next[k];
            if (token == null) return;
            const res = await this.evaluate(seq, [
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
    const prefixTokens = this.owner.promptTokens(prefix);
    const full = this.owner.promptTokens(prefix + text);
    const split = commonPrefixLength(prefixTokens, full);
    if (split === 0 || split >= full.length) throw new BackendError("cannot split the text from its prefix after tokenizing", "backend");
    return await this.withRoom(full.length, () => this.tokenEntropiesIn(prefix, text, full, split));
  }

  private async tokenEntropiesIn(prefix: string, text: string, full: Token[], split: number): Promise<TokenEntropies> {
    const rest = full.slice(split);
    const seq = this.branches[0]!;
    const stem = await this.forkAt(seq, full.slice(0, split));
    const inputs = [stem, ...rest.slice(0, -1)];
    // The full distribution is needed for an entropy; a demo-sized vocabulary (1k) makes that cheap,
    // a 150k one costs a copy per token, which is why only segmentation asks for it.
    const items = inputs.map((token) => [token, { generateNext: { probabilities: true } }] as const);
    this.count(items.length);
    const out = await this.evaluate(seq, items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
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
    // or drops (and a BOS), so that offsets index the caller's own string.
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
    // The BOS by the model's metadata, as every prompt gets it (none for Qwen2.5).
    const withBos = this.owner.withBos(tokens as Token[]);
    return await this.withRoom(withBos.length, () => this.tokenLogprobsIn(tokens, withBos, from));
  }

  private async tokenLogprobsIn(tokens: readonly number[], withBos: readonly Token[], from: number): Promise<number[]> {
    const offset = withBos.length - tokens.length;
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
    const out = await this.evaluate(seq, items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
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
   * Puts `seq` in the state "everything of `tokens` (the model's input, BOS included) but the last
   * token is in the KV cache" and returns that last token: the caller evaluates it to get the
   * distribution of what follows `tokens`. The walker moves to the prefix first, evaluating only
   * what it lacks; the branch then copies the walker's KV cells instead of evaluating the prefix again.
   */
  private async forkAt(seq: LlamaContextSequence, tokens: readonly Token[]): Promise<Token> {
    if (tokens.length >= this.context.contextSize) {
      throw new BackendError(
        `the text is ${tokens.length} tokens long but the model's context holds ${this.context.contextSize}`,
        "context-overflow",
      );
    }
    const stem = tokens.slice(0, -1);
    const last = tokens[tokens.length - 1]!;
    if (!this.reuse) {
      // Naive baseline: every request evaluates its whole prefix from scratch.
      await seq.clearHistory();
      await this.evaluate(seq, stem);
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
      await this.evaluate(seq, stem);
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
        return targets ? ([token, logitsRequest(targets)] as const) : token;
      });
      const out = await this.evaluate(seq, items as unknown as Parameters<LlamaContextSequence["controlledEvaluate"]>[0]);
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
  /** The model's input for prefix + continuation tokenized as one string (BOS included). */
  full: Token[];
  /** Index of the first token in `full` that carries continuation text. */
  split: number;
  /**
   * Set when full[split] also spells the prefix's last characters: every token whose text starts
   * with those characters, whose summed probability heals full[split]'s (boundaryTokens.ts).
   */
  heal?: readonly Token[];
}

/** Tokens whose logits the prediction of full[k] needs. */
function targetsAt(job: ContinuationJob, k: number): readonly Token[] {
  if (k < job.split || k >= job.full.length) return [];
  return k === job.split && job.heal ? [job.full[k]!, ...job.heal] : [job.full[k]!];
}

function logitsRequest(targets: readonly Token[]): { generateNext: { logits: { filter: { tokens: Token[]; includeSelected: true } }; totalLogitWeight: true } } {
  return { generateNext: { logits: { filter: { tokens: [...targets], includeSelected: true } }, totalLogitWeight: true } };
}

/** log p(full[k]) from the output that predicts it, healed for a merged first token. */
function answerLogprob(next: WalkerOutput | undefined, job: ContinuationJob, k: number): number {
  const lp = logprobOf(next, job.full[k]!);
  return k === job.split && job.heal ? lp - logMassOf(next!, job.heal) : lp;
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

/** log of the summed probability of `tokens`, from the same filtered output as logprobOf. */
function logMassOf(next: WalkerOutput, tokens: readonly Token[]): number {
  if (!next.logits || next.totalLogitWeight == null) throw new BackendError("llama.cpp returned no logits", "backend");
  let max = -Infinity;
  for (const v of next.logits.values()) max = Math.max(max, v);
  let sum = 0;
  for (const t of tokens) {
    const logit = next.logits.get(t);
    if (logit != null) sum += Math.exp(logit - max);
  }
  return Math.log(sum) - Math.log(next.totalLogitWeight);
}

function commonPrefixOfAll(lists: readonly (readonly number[])[]): number {
  let n = lists[0]!.length;
  for (const l of lists.slice(1)) n = Math.min(n, commonPrefixLength(lists[0]!, l));
  return n;
}

/**
 * Lets the backend replace its llama.cpp context between calls: lanes enter for the length of one
 * call; a resize waits until none is inside and holds new calls back until it is done.
 */
class ResizeGate {
  private inside = 0;
  private resizing: Promise<void> | undefined;
  private idle: (() => void) | undefined;

  async enter(): Promise<void> {
    while (this.resizing) await this.resizing;
    this.inside++;
  }

  exit(): void {
    this.inside--;
    if (this.inside === 0) this.idle?.();
  }

  async resize(fn: () => Promise<void>): Promise<void> {
    while (this.resizing) await this.resizing;
    let done!: () => void;
    this.resizing = new Promise<void>((r) => (done = r));
    try {
      while (this.inside > 0) await new Promise<void>((r) => (this.idle = r));
      await fn();
    } finally {
      this.idle = undefined;
      this.resizing = undefined;
      done();
    }
  }
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
