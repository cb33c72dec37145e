// Where each token of a text starts, so that per-token log-ratios can be summed per step. A
// SentencePiece or byte-level BPE token does not know its own text in isolation (a leading space
// appears only after an earlier token; a byte-fallback token may hold half a character), so the
// offsets come from detokenizing growing prefixes of the token list and matching them against the
// text. A token whose bytes complete a character begun by earlier tokens starts where that
// character starts; that is the rule "a token goes to the step where it starts".

import { BackendError, type Backend } from "../backend/types.js";

/**
 * offsets[k] = the UTF-16 offset in `text` where token k starts; offsets has tokens.length + 1
 * entries, the last being text.length. Throws when the tokens do not spell the text (a tokenizer
 * that normalises the text would make step boundaries meaningless).
 */
export async function tokenOffsets(backend: Backend, text: string, tokens: readonly number[]): Promise<number[]> {
  if (!backend.detokenize) throw new BackendError(`backend ${backend.info.kind} cannot detokenize, which Implicit PRM needs to map tokens to steps`, "backend");
  const whole = await backend.detokenize(tokens);
  // A tokenizer may add or drop one leading space (SentencePiece's dummy prefix): measure it once.
  const shift = text.length - whole.length;
  if (whole.slice(Math.max(0, -shift)) !== text.slice(Math.max(0, shift))) {
    throw new BackendError("the model's tokens do not spell the solution text back (the tokenizer normalises it); Implicit PRM cannot place tokens in steps", "backend");
  }
  const offsets: number[] = [0];
  for (let k = 1; k < tokens.length; k++) {
    const piece = await backend.detokenize(tokens.slice(0, k));
    // An incomplete character detokenizes to U+FFFD: the common prefix with the text stops before it.
    const shifted = Math.max(0, Math.min(text.length, commonPrefix(piece, whole) + shift));
    offsets.push(Math.max(offsets[k - 1]!, shifted));
  }
  offsets.push(text.length);
  return offsets;
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}
