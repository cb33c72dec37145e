// OpenAI-compatible completion servers (vLLM) as a backend. Teacher forcing uses the legacy
// completions API: `echo: true, logprobs: 1, max_tokens: 1` returns choices[i].logprobs.token_logprobs
// for every prompt token (the first is null) followed by one generated token. The prompt is sent as
// token ids from the server's own /tokenize, so the continuation's positions are known exactly and
// split with the local backend's rule (tokenize prefix+continuation as one string; a token merged
// across the boundary belongs to the continuation). vLLM's `prompt_logprobs` field, when a server
// returns it instead, is read the same way. See docs/openai-compatible.md.

import {
  BackendError,
  type Backend,
  type BackendInfo,
  type BackendSession,
  type ContinuationScore,
  type SampleOptions,
  type TokenCounters,
} from "./types.js";
import { DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, HttpStatusError, joinUrl, normaliseEndpoint, requestJson, type HttpOptions } from "./completionHttp.js";
import { cutAtStop } from "./sampleCut.js";
import { commonPrefixLength } from "./shared.js";

export interface OpenAiOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8000/v1 (without /v1, it is added). */
  endpoint: string;
  /** Model name to ask for; default: the first model the server lists at /v1/models. */
  model?: string;
  token?: string;
  timeoutMs?: number;
  retries?: number;
  /** Sessions at the same time (each sends its own requests; the server batches them). Default 4. */
  parallel?: number;
}

interface LegacyLogprobs {
  tokens?: unknown[];
  token_logprobs?: (number | null)[];
  text_offset?: number[];
}

interface CompletionChoice {
  index?: number;
  text?: string;
  logprobs?: LegacyLogprobs | null;
  /** vLLM: one entry per prompt token, null for the first, else {"<token id>": {logprob, rank, decoded_token}}. */
  prompt_logprobs?: (Record<string, { logprob?: number }> | null)[] | null;
}

interface CompletionResponse {
  choices: CompletionChoice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

const NO_PROMPT_LOGPROBS =
  "the server returned no log-probabilities for the prompt tokens. StepLens asks /v1/completions for " +
  "`echo: true, logprobs: 1, max_tokens: 1`; vLLM answers that when its --max-logprobs is at least 1 " +
  "(the default is 20). Servers without echo (OpenAI's hosted chat models, llama-server's /v1) cannot score " +
  "continuations: for llama.cpp use --backend llama-server.";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asCompletion(v: unknown, url: string): CompletionResponse {
  if (!isObject(v) || !Array.isArray(v.choices)) {
    throw new BackendError(`the OpenAI-compatible server at ${url} answered without "choices": is --endpoint the /v1 address of a completions server?`, "backend");
  }
  return v as unknown as CompletionResponse;
}

/** Choices in prompt order: the API numbers them with `index` and need not send them in order. */
function ordered(choices: CompletionChoice[]): CompletionChoice[] {
  return choices.every((c) => typeof c.index === "number") ? [...choices].sort((a, b) => a.index! - b.index!) : choices;
}

/** log p of prompt tokens [from, to) of one choice, from the echoed logprobs or vLLM's prompt_logprobs. */
export function promptLogprobs(choice: CompletionChoice, promptIds: readonly number[], from: number, to: number): number[] {
  const echoed = choice.logprobs?.token_logprobs;
  if (Array.isArray(echoed) && echoed.length >= promptIds.length) {
    const slice = echoed.slice(from, to);
    if (slice.every((v): v is number => typeof v === "number")) return slice;
  }
  const prompt = choice.prompt_logprobs;
  if (Array.isArray(prompt) && prompt.length >= promptIds.length) {
    const out: number[] = [];
    for (let p = from; p < to; p++) {
      const lp = prompt[p]?.[String(promptIds[p])]?.logprob;
      if (typeof lp !== "number") break;
      out.push(lp);
    }
    if (out.length === to - from) return out;
  }
  throw new BackendError(NO_PROMPT_LOGPROBS, "backend");
}

export class OpenAiBackend implements Backend {
  readonly counters: TokenCounters = { evaluated: 0, generated: 0 };
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  private constructor(
    readonly info: BackendInfo,
    readonly parallel: number,
    private readonly base: URL,
    /** The server root, where vLLM serves /tokenize (beside /v1, not under it). */
    private readonly root: URL,
    private readonly model: string,
    private readonly http: HttpOptions,
  ) {}

  static async connect(options: OpenAiOptions): Promise<OpenAiBackend> {
    const base = normaliseEndpoint(options.endpoint);
    if (!/\/v1$/.test(base.pathname)) base.pathname += "/v1";
    const root = new URL(base.href);
    root.pathname = root.pathname.replace(/\/v1$/, "");
    const http: HttpOptions = {
      token: options.token,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retries: options.retries ?? DEFAULT_RETRIES,
      serverName: "the OpenAI-compatible server",
    };
    const listed = await requestJson("GET", joinUrl(base, "/models"), undefined, http);
    const models = isObject(listed) && Array.isArray(listed.data) ? (listed.data as { id?: unknown; max_model_len?: unknown; owned_by?: unknown }[]) : [];
    if (models.some((m) => m.owned_by === "llamacpp")) {
      // llama-server's /v1/completions accepts echo but returns log-probabilities of generated tokens only.
      throw new BackendError(
        `the server at ${base.href} is llama.cpp's llama-server, whose OpenAI-compatible API returns no prompt log-probabilities. ` +
          `Use --backend llama-server --endpoint ${root.href.replace(/\/$/, "")}`,
        "backend",
      );
    }
    const ids = models.map((m) => m.id).filter((id): id is string => typeof id === "string");
    let model = options.model;
    if (!model) {
      if (ids.length === 0) throw new BackendError(`the server at ${base.href} lists no models at /v1/models: name one with --model NAME`, "backend");
      model = ids[0]!;
    } else if (ids.length > 0 && !ids.includes(model)) {
      throw new BackendError(`the server at ${base.href} does not serve model "${model}"; it serves ${ids.join(", ")}. Pass one of them with --model`, "backend");
    }
    const card = models.find((m) => m.id === model);
    const maxLen = typeof card?.max_model_len === "number" ? card.max_model_len : 4096;
    const info: BackendInfo = { kind: "openai", model, device: "remote", contextSize: maxLen };
    return new OpenAiBackend(info, Math.max(1, options.parallel ?? 4), base, root, model, http);
  }

  /** Token ids with the special tokens the server adds to a text prompt (BOS), as the model sees them. */
  async tokenizeWithSpecial(text: string, signal?: AbortSignal): Promise<number[]> {
    const url = joinUrl(this.root, "/tokenize");
    let res: unknown;
    try {
      res = await requestJson("POST", url, { model: this.model, prompt: text, add_special_tokens: true }, this.http, signal);
    } catch (err) {
      if (err instanceof HttpStatusError && (err.status === 404 || err.status === 405)) {
        throw new BackendError(
          `the server has no tokenizer endpoint at ${url} (HTTP ${err.status}). StepLens needs it to split a prefix from its ` +
            `continuation the way the local backend does; vLLM serves POST /tokenize beside /v1 (OpenAI's hosted API does not). ` +
            `Point --endpoint at a vLLM server, or use --backend llama-server for llama.cpp.`,
          "backend",
        );
      }
      throw err;
    }
    const tokens = isObject(res) ? res.tokens : undefined;
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "number") || (tokens.length === 0 && text.length > 0)) {
      throw new BackendError(`the server's ${url} answered without the text's tokens: it does not speak vLLM's tokenizer API ({prompt, add_special_tokens} -> {tokens})`, "backend");
    }
    return tokens;
  }

  async tokenize(text: string): Promise<number[]> {
    // Backend.tokenize is without BOS; the server's add_special_tokens=false gives exactly that.
    const url = joinUrl(this.root, "/tokenize");
    const res = await requestJson("POST", url, { model: this.model, prompt: text, add_special_tokens: false }, this.http);
    const tokens = isObject(res) ? res.tokens : undefined;
    if (!Array.isArray(tokens)) throw new BackendError(`the server's /tokenize answered without a "tokens" list`, "backend");
    return tokens as number[];
  }

  async completions(body: Record<string, unknown>, counters: TokenCounters, signal?: AbortSignal): Promise<CompletionResponse> {
    const url = joinUrl(this.base, "/completions");
    let raw: unknown;
    try {
      raw = await requestJson("POST", url, { model: this.model, ...body }, this.http, signal);
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 400 && body.echo === true && /echo|logprob/i.test(err.body)) {
        throw new BackendError(`${NO_PROMPT_LOGPROBS} (the server said: ${err.message})`, "backend");
      }
      throw err;
    }
    const res = asCompletion(raw, url);
    const evaluated = (res.usage?.prompt_tokens ?? 0) + (res.usage?.completion_tokens ?? 0);
    this.counters.evaluated += evaluated;
    counters.evaluated += evaluated;
    return res;
  }

  async openSession(): Promise<BackendSession> {
    if (this.active >= this.parallel) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    let released = false;
    const session = new OpenAiSession(this);
    return {
      counters: session.counters,
      scoreContinuations: (prefix, continuations, signal) => session.scoreContinuations(prefix, continuations, signal),
      sample: (prefix, options, signal) => session.sample(prefix, options, signal),
      release: () => {
        if (released) return;
        released = true;
        this.active--;
        this.waiting.shift()?.();
      },
    };
  }

  async dispose(): Promise<void> {
    // Nothing is held open beyond keep-alive sockets, which Node closes when idle.
  }
}

class OpenAiSession {
  readonly counters: TokenCounters = { evaluated: 0, generated: 0 };
  private lastPrefix: { text: string; tokens: number[] } | undefined;

  constructor(private readonly backend: OpenAiBackend) {}

  async scoreContinuations(prefix: string, continuations: readonly string[], signal?: AbortSignal): Promise<ContinuationScore[]> {
    if (this.lastPrefix?.text !== prefix) this.lastPrefix = { text: prefix, tokens: await this.backend.tokenizeWithSpecial(prefix, signal) };
    const prefixTokens = this.lastPrefix.tokens;
    const fulls = await Promise.all(continuations.map((c) => this.backend.tokenizeWithSpecial(prefix + c, signal)));
    const splits = fulls.map((full, k) => {
      const split = commonPrefixLength(prefixTokens, full);
      if (split === 0 || split === full.length) {
        throw new BackendError(`cannot split continuation ${JSON.stringify(continuations[k])} from its prefix after tokenizing`, "backend");
      }
      return split;
    });
    // One request for all continuations of this prefix: the server batches them and shares the
    // prefix through its prefix cache.
    const res = await this.backend.completions(
      { prompt: fulls, echo: true, logprobs: 1, max_tokens: 1, temperature: 0 },
      this.counters,
      signal,
    );
    const choices = ordered(res.choices);
    if (choices.length !== fulls.length) {
      throw new BackendError(`the server returned ${choices.length} choices for ${fulls.length} prompts`, "backend");
    }
    return fulls.map((full, k) => {
      const tokenLogprobs = promptLogprobs(choices[k]!, full, splits[k]!, full.length);
      return { tokenLogprobs, meanLogprob: tokenLogprobs.reduce((a, b) => a + b, 0) / tokenLogprobs.length };
    });
  }

  async sample(prefix: string, options: SampleOptions, signal?: AbortSignal): Promise<string[]> {
    // The API wants n >= 1; a caller with sampling turned off asks for none.
    if (options.n <= 0) return [];
    const res = await this.backend.completions(
      {
        prompt: prefix,
        n: options.n,
        max_tokens: options.maxTokens,
        temperature: options.temperature,
        top_p: 1,
        seed: options.seed,
        // A number is complete at a line break at the latest; other stop rules are applied here.
        ...(options.stopAt === "number" ? { stop: ["\n"] } : {}),
      },
      this.counters,
      signal,
    );
    const generated = res.usage?.completion_tokens ?? 0;
    this.counters.generated += generated;
    this.backend.counters.generated += generated;
    return ordered(res.choices).map((c) => cutAtStop(typeof c.text === "string" ? c.text : "", options.stopAt));
  }
}

