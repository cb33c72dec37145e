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

export interface Backend {
  readonly info: BackendInfo;
  readonly counters: TokenCounters;
  /** How many sessions can work at the same time; more parallel work fills bigger batches. */
  readonly parallel: number;
  /** Tokens of `text` as the model sees it (no BOS). */
  tokenize(text: string): Promise<number[]>;
  /** The text of `tokens` (no BOS); optional, see implicit/tokenOffsets.ts for what needs it. */
  detokenize?(tokens: readonly number[]): Promise<string>;
  /** Waits for a free lane. */
  openSession(): Promise<BackendSession>;
  /** The model's own chat template, for chat-format prompts; absent for base models and servers. */
  readonly chat?: ChatPrompt;
  dispose(): Promise<void>;
}

/** A user-caused problem with the model or backend; the message says what to do. */
export class BackendError extends Error {
  constructor(message: string, readonly code: "model-not-found" | "model-invalid" | "context-overflow" | "cancelled" | "backend") {
    super(message);
    this.name = "BackendError";
  }
}
