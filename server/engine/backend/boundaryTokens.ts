// When a BPE tokenizer merges the end of a prompt with the start of an answer (Qwen and Llama 3 write
// `{-` in `\boxed{-3}` as one token), the joined text's tokens are what the model sees, but the first
// answer token then also spells the prompt's last character(s), the "tail". Its log-probability is
// log P(tail + answer start | before the tail); dividing by P(text goes on with the tail | before the
// tail) = the summed probability of every token whose text starts with the tail leaves
// log P(answer start | tail), the same quantity an answer that does not merge gets (token healing).
// The vocabulary scan below finds those tokens once per tail text.

import type { LlamaModel, Token } from "node-llama-cpp";

export class TokensStartingWith {
  private readonly cache = new Map<string, readonly Token[]>();
  private texts: string[] | undefined;

  constructor(private readonly model: LlamaModel) {}

  /** Every token whose text starts with `tail`; empty when the vocabulary size is unknown. */
  get(tail: string): readonly Token[] {
    const hit = this.cache.get(tail);
    if (hit) return hit;
    const texts = this.vocabulary();
    const out: Token[] = [];
    for (let id = 0; id < texts.length; id++) if (texts[id]!.startsWith(tail)) out.push(id as Token);
    this.cache.set(tail, out);
    return out;
  }

  /** Each token's text, once per model (about a second for a 150k vocabulary). */
  private vocabulary(): string[] {
    if (this.texts) return this.texts;
    // llama.cpp aborts the process on a token id past the vocabulary, so the size must be known:
    // the GGUF's token list gives it.
    const tokens = (this.model.fileInfo.metadata?.tokenizer as { ggml?: { tokens?: readonly unknown[] } } | undefined)?.ggml?.tokens;
    const size = Array.isArray(tokens) ? tokens.length : 0;
    this.texts = Array.from({ length: size }, (_, id) => this.model.detokenize([id as Token], false));
    return this.texts;
  }
}
