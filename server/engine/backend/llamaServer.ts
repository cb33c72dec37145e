// llama.cpp's own HTTP server (llama-server) as a backend. Its API returns no log-probabilities of
// prompt tokens (/v1/completions refuses echo, /completion has no prompt_logprobs), so teacher forcing
// is done the other way round: the continuation's tokens are *generated*, forced one by one with a
// grammar of token ids (`root ::= <[id1]> <[id2]> ...`), and n_probs = 1 reports, for each generated
// token, its probability from the raw logits before any sampler or grammar ran (populate_token_probs
// in tools/server/server-context.cpp, post_sampling_probs = false). That is exactly
// log p(token | prompt, earlier continuation tokens), the quantity the local backend computes.
// Each session pins one server slot (id_slot) with cache_prompt, so consecutive prefixes reuse the
// slot's KV cache the way the local backend's walker does. See docs/openai-compatible.md.

import {
  BackendError,
  type Backend,
  type BackendInfo,
  type BackendSession,
  type ContinuationScore,
  type SampleOptions,
  type TokenCounters,
} from "./types.js";
import { DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, joinUrl, normaliseEndpoint, requestJson, type HttpOptions } from "./completionHttp.js";
import { cutAtStop } from "./sampleCut.js";
import { commonPrefixLength, LanePool } from "./shared.js";

export interface LlamaServerOptions {
  /** Base URL of llama-server, e.g. http://127.0.0.1:8080 (a trailing /v1 is accepted and dropped). */
  endpoint: string;
  token?: string;
  timeoutMs?: number;
  retries?: number;
  /** Sessions at the same time; default: the server's slot count (`-np`). */
  parallel?: number;
}

/** float32 probabilities below ~1.4e-45 underflow to 0 and the server reports logprob null; this is log of the smallest float32. */
const FLOAT32_LOG_FLOOR = Math.log(1.401298464324817e-45);

interface Props {
  total_slots?: number;
  model_path?: string;
  model_alias?: string;
  default_generation_settings?: { n_ctx?: number };
}

interface TokenProb {
  id: number;
  logprob: number | null;
}

interface CompletionResult {
  content: string;
  tokens_predicted?: number;
  timings?: { prompt_n?: number; predicted_n?: number };
  completion_probabilities?: TokenProb[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asTokens(v: unknown, what: string): number[] {
  const tokens = isObject(v) ? v.tokens : undefined;
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "number")) {
    throw new BackendError(`llama-server's /tokenize answered without a token list for ${what}`, "backend");
  }
  return tokens;
}

function asCompletion(v: unknown): CompletionResult {
  if (!isObject(v) || typeof v.content !== "string") {
    throw new BackendError(`llama-server's /completion answered without "content": is --endpoint a llama-server?`, "backend");
  }
  return v as unknown as CompletionResult;
}

/** GBNF that accepts exactly this token sequence (llama.cpp grammars match token ids written <[id]>). */
export function forcedTokensGrammar(tokens: readonly number[]): string {
  return `root ::= ${tokens.map((t) => `<[${t}]>`).join(" ")}`;
}

export class LlamaServerBackend implements Backend {
  readonly counters: TokenCounters = { evaluated: 0, generated: 0 };
  private readonly slots: LanePool<number>;

  private constructor(
    readonly info: BackendInfo,
    readonly parallel: number,
    private readonly base: URL,
    private readonly http: HttpOptions,
    /** [BOS] when the model adds one (what llama-server puts before a text prompt), else []. */
    private readonly bos: number[],
  ) {
    this.slots = new LanePool(Array.from({ length: parallel }, (_, k) => k));
  }

  static async connect(options: LlamaServerOptions): Promise<LlamaServerBackend> {
    const base = normaliseEndpoint(options.endpoint);
    // People paste the OpenAI-style address; the native API lives at the root.
    base.pathname = base.pathname.replace(/\/v1$/, "");
    const http: HttpOptions = {
      token: options.token,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retries: options.retries ?? DEFAULT_RETRIES,
      serverName: "llama-server",
    };
    const raw = await requestJson("GET", joinUrl(base, "/props"), undefined, http);
    if (!isObject(raw)) throw new BackendError(`llama-server at ${base.href} answered /props without an object: is --endpoint a llama-server?`, "backend");
    const props = raw as Props;
    const slots = Math.max(1, Math.floor(props.total_slots ?? 1));
    const parallel = Math.max(1, Math.min(slots, options.parallel ?? slots));
    const bos = asTokens(await requestJson("POST", joinUrl(base, "/tokenize"), { content: "", add_special: true }, http), "BOS");
    const info: BackendInfo = {
      kind: "llama-server",
      model: props.model_path || props.model_alias || base.href,
      device: "remote",
      contextSize: props.default_generation_settings?.n_ctx ?? 4096,
    };
    return new LlamaServerBackend(info, parallel, base, http, bos);
  }

  async tokenize(text: string, signal?: AbortSignal): Promise<number[]> {
    // Special-token text is parsed, as the local backend does and as llama-server reads a prompt: a
    // chat template's <|im_start|> must be one token. (A solution that writes "<s>" gets that token.)
    const res = await requestJson("POST", joinUrl(this.base, "/tokenize"), { content: text, add_special: false, parse_special: true }, this.http, signal);
    return asTokens(res, JSON.stringify(text.slice(0, 40)));
  }

  async openSession(): Promise<BackendSession> {
    const slot = await this.slots.acquire();
    const session = new SlotSession(this, slot);
    return {
      counters: session.counters,
      scoreContinuations: (prefix, continuations, signal) => session.scoreContinuations(prefix, continuations, signal),
      sample: (prefix, options, signal) => session.sample(prefix, options, signal),
      release: this.slots.releaser(slot),
    };
  }

  /** One /completion call; counts its tokens on the backend and the session. */
  async complete(body: Record<string, unknown>, counters: TokenCounters, signal?: AbortSignal): Promise<CompletionResult> {
    const res = asCompletion(await requestJson("POST", joinUrl(this.base, "/completion"), body, this.http, signal));
    const evaluated = (res.timings?.prompt_n ?? 0) + Math.max(0, (res.tokens_predicted ?? 0) - 1);
    this.counters.evaluated += evaluated;
    counters.evaluated += evaluated;
    return res;
  }

  get bosTokens(): readonly number[] {
    return this.bos;
  }

  async dispose(): Promise<void> {
    // The server belongs to whoever started it; nothing to free here.
  }
}

class SlotSession {
  readonly counters: TokenCounters = { evaluated: 0, generated: 0 };
  private lastPrefix: { text: string; tokens: number[] } | undefined;

  constructor(
    private readonly backend: LlamaServerBackend,
    private readonly slot: number,
  ) {}

  private async prefixTokens(prefix: string, signal?: AbortSignal): Promise<number[]> {
    if (this.lastPrefix?.text !== prefix) this.lastPrefix = { text: prefix, tokens: await this.backend.tokenize(prefix, signal) };
    return this.lastPrefix.tokens;
  }

  async scoreContinuations(prefix: string, continuations: readonly string[], signal?: AbortSignal): Promise<ContinuationScore[]> {
    const prefixTokens = await this.prefixTokens(prefix, signal);
    const fulls = await Promise.all(continuations.map((c) => this.backend.tokenize(prefix + c, signal)));
    const out: ContinuationScore[] = [];
    for (let k = 0; k < continuations.length; k++) {
      const full = fulls[k]!;
      // The local backend's rule: tokenize prefix+continuation as one string; a token merged across
      // the boundary belongs to the continuation.
      const split = commonPrefixLength(prefixTokens, full);
      if (split === 0 || split === full.length) {
        throw new BackendError(`cannot split continuation ${JSON.stringify(continuations[k])} from its prefix after tokenizing`, "backend");
      }
      const answer = full.slice(split);
      const res = await this.backend.complete(
        {
          prompt: [...this.backend.bosTokens, ...full.slice(0, split)],
          n_predict: answer.length,
          n_probs: 1,
          post_sampling_probs: false,
          grammar: forcedTokensGrammar(answer),
          temperature: 0,
          cache_prompt: true,
          id_slot: this.slot,
          return_tokens: true,
        },
        this.counters,
        signal,
      );
      const probs = res.completion_probabilities;
      if (!Array.isArray(probs) || probs.length !== answer.length) {
        throw new BackendError(
          `llama-server returned ${Array.isArray(probs) ? probs.length : "no"} token probabilities for a ${answer.length}-token continuation: ` +
            `it needs n_probs and grammar support (llama.cpp b4000 or later)`,
          "backend",
        );
      }
      const tokenLogprobs = probs.map((p, j) => {
        if (p.id !== answer[j]) {
          throw new BackendError(`llama-server generated token ${p.id} where the forcing grammar allows only ${answer[j]}`, "backend");
        }
        return p.logprob == null ? FLOAT32_LOG_FLOOR : Math.max(p.logprob, FLOAT32_LOG_FLOOR);
      });
      out.push({ tokenLogprobs, meanLogprob: tokenLogprobs.reduce((a, b) => a + b, 0) / tokenLogprobs.length });
    }
    return out;
  }

  async sample(prefix: string, options: SampleOptions, signal?: AbortSignal): Promise<string[]> {
    const prompt = [...this.backend.bosTokens, ...(await this.prefixTokens(prefix, signal))];
    const out: string[] = [];
    for (let k = 0; k < options.n; k++) {
      const res = await this.backend.complete(
        {
          prompt,
          n_predict: options.maxTokens,
          temperature: options.temperature,
          seed: options.seed + k,
          // The reference samples from the full distribution: no top-k/top-p/min-p cut.
          top_k: 0,
          top_p: 1,
          min_p: 0,
          // A number is complete at a line break at the latest: let the server stop there.
          stop: options.stopAt === "number" ? ["\n"] : [],
          cache_prompt: true,
          id_slot: this.slot,
        },
        this.counters,
        signal,
      );
      const generated = res.tokens_predicted ?? 0;
      this.counters.generated += generated;
      this.backend.counters.generated += generated;
      out.push(cutAtStop(res.content, options.stopAt));
    }
    return out;
  }
}

