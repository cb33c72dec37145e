// What the CPMI engine needs from a language model, and nothing more. The local llama.cpp backend
// implements it today; a remote backend (steplens serve, OpenAI-compatible servers) is one more
// implementation of the same interface, so nothing above this file knows where the model runs.

import type { ChatPrompt } from "./chatPrompt.js";

export interface BackendInfo {
  /** "llama.cpp" for local inference, "remote" for a server. */
  kind: string;
  /** Model file or model name. */
  model: string;
  /** Where the math runs: "cpu", "cuda", "vulkan", "metal" or "remote". */
  device: string;
  /** For people: which GPU and how many layers, or why the CPU (e.g. no CUDA driver found). */
  deviceNote?: string;
  /** Tokens of context one sequence can hold (a local backend allocates it as texts need it). */
  contextSize: number;
  /** Token ids the model knows: 0 to vocabulary − 1 (known for local models; a server checks client ids against it). */
  vocabulary?: number;
  threads?: number;
}

/** Log-probabilities of one continuation after a prefix (teacher forcing). */
export interface ContinuationScore {
  /** log p(token | everything before it), one per continuation token. */
  tokenLogprobs: number[];
  /** Mean of tokenLogprobs: the length-normalised log-probability the CPMI paper uses (Appendix A). */
  meanLogprob: number;
}

export interface SampleOptions {
  /** How many independent samples. */
  n: number;
  /** Upper bound on generated tokens per sample. */
  maxTokens: number;
  temperature: number;
  /** Base seed; sample k uses seed + k, so results are reproducible. */
  seed: number;
  /** "number": stop a sample as soon as the first number in it is complete. "answer": stop at the end
   * of the first answer line (`The answer is N.`, `#### N`, ...): a Monte Carlo rollout to a final answer. */
  stopAt?: "number" | "line" | "answer";
}

/** The model's uncertainty at each token of a text: what entropy-driven segmentation (EDU-PRM) cuts on. */
export interface TokenEntropies {
  /** Per token of the text: [start, end) UTF-16 offsets into the text (not the prefix). */
  spans: { start: number; end: number }[];
  /** Entropy (nats) of the next-token distribution that predicts each token. */
  entropies: number[];
  /** log p of each actual token (its surprisal, negated). */
  logprobs: number[];
  /** Probability that a line break comes instead of each token: where the model would end a step. */
  lineBreakProbs: number[];
}

/** Token accounting, so cost can be compared with a from-scratch implementation. */
export interface TokenCounters {
  /** Tokens pushed through the model (prompt and generated tokens alike). */
  evaluated: number;
  /** Tokens produced by sampling. */
  generated: number;
}

/**
 * One lane of work: its calls run one after another and may reuse each other's state (a session of
 * the local backend keeps the KV cache of the prefix it last saw). Sessions run in parallel.
 */
export interface BackendSession {
  /** Tokens this session evaluated and generated. */
  readonly counters: TokenCounters;
  /**
   * Log-probabilities of each continuation after `prefix`. Implementations should reuse work
   * between calls whose prefixes extend each other (the scorer walks prefixes in order).
   */
  scoreContinuations(prefix: string, continuations: readonly string[], signal?: AbortSignal): Promise<ContinuationScore[]>;
  /** Short samples after `prefix`, e.g. candidate answers after an answer cue. */
  sample(prefix: string, options: SampleOptions, signal?: AbortSignal): Promise<string[]>;
  /**
   * Entropy of the next-token distribution at every token of `text` written after `prefix` (which
   * is evaluated from the lane's cached prefix like any other). Optional: a remote backend that
   * returns no distributions cannot offer entropy segmentation.
   */
  tokenEntropies?(prefix: string, text: string, signal?: AbortSignal): Promise<TokenEntropies>;
  /**
   * log p(tokens[k] | BOS, tokens[<k]) for every k >= `from`, from ONE forward pass over the whole
   * sequence (teacher forcing): what Implicit PRM reads from each model of its pair. Entries before
   * `from` are NaN (not asked for). Optional: a server backend offers it once it can take token ids.
   */
  tokenLogprobs?(tokens: readonly number[], from: number, signal?: AbortSignal): Promise<number[]>;
  /** Gives the lane back to the backend. */
  release(): void;
}

export interface SessionOptions {
  /**
   * Start from an empty cache: nothing the lane computed for earlier sessions is reused, so the
   * results depend on this session's requests alone (a labeled record is the same bits whether its
   * run was interrupted or not). Backends that keep no state of their own between sessions ignore it.
   */
  fresh?: boolean;
}

export interface Backend {
  readonly info: BackendInfo;
  readonly counters: TokenCounters;
  /** How many sessions can work at the same time; more parallel work fills bigger batches. */
  readonly parallel: number;
  /** Tokens of `text` as the model sees it (no BOS). */
  tokenize(text: string): Promise<number[]>;
  /** The text of `tokens` (no BOS); optional, see implicit/tokenOffsets.ts for what needs it. */
  detokenize?(tokens: readonly number[]): Promise<string>;
  /**
   * Where each token of `text` starts (implicit/tokenOffsets.ts). Optional: a server backend computes
   * them where the model is, in one request instead of one detokenize call per token.
   */
  tokenOffsets?(text: string, tokens: readonly number[]): Promise<number[]>;
  /** Waits for a free lane. */
  openSession(options?: SessionOptions): Promise<BackendSession>;
  /** The model's own chat template, for chat-format prompts; absent for base models and servers. */
  readonly chat?: ChatPrompt;
  dispose(): Promise<void>;
}

/**
 * What kind of failure a BackendError is, for the code that must react to it: a pool moves the call
 * to another endpoint, the editor reconnects or asks for a token, `steplens serve` picks its HTTP
 * status. The message is for people and differs per server; nothing may be decided by reading it.
 */
export type BackendErrorCode =
  | "model-not-found"
  | "model-invalid"
  | "context-overflow"
  | "cancelled"
  /** Nothing answered: connection refused or reset, no such host, or the server (or a proxy in front of it) says it is not there to take work (HTTP 502, 503, 504). */
  | "unreachable"
  /** The server took the request and gave no answer in time. */
  | "timeout"
  /** The server refused the token or API key, or wants one (HTTP 401, 403). */
  | "unauthorized"
  /** The server is busy and said so (HTTP 429). */
  | "rate-limited"
  /** The server failed on the request (HTTP 500 and other 5xx not above). */
  | "server-error"
  /** It answered, but not as the expected server and version do: another API version, not JSON, a route it lacks. */
  | "incompatible"
  /** Anything else: a request the server refused as it stands, a model that failed. */
  | "backend";

/** A user-caused problem with the model or backend; the message says what to do. */
export class BackendError extends Error {
  /** The HTTP status the server answered with, when the failure is one. */
  readonly status?: number;

  constructor(
    message: string,
    readonly code: BackendErrorCode,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BackendError";
    if (options.status !== undefined) this.status = options.status;
  }
}
