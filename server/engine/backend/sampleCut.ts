// A server generates until max_tokens or a stop string; the local backend stops as soon as its stop
// rule holds. Cutting the server's text at the same rule gives callers the same kind of sample.

import { answerLineDone } from "./answerStop.js";
import { NumberStop } from "./numberStop.js";
import type { SampleOptions } from "./types.js";

/**
 * The shortest head of `text` at which the local backend would have stopped. The local backend stops
 * after a whole token, so its text may run a few characters past this cut; callers only read the
 * first number or the answer line, which both cuts contain.
 */
export function cutAtStop(text: string, stopAt: SampleOptions["stopAt"]): string {
  if (stopAt === "number") {
    const stop = new NumberStop();
    for (let end = 1; end <= text.length; end++) if (stop.done(text.slice(0, end))) return text.slice(0, end);
    return text;
  }
  if (stopAt === "line") {
    const nl = text.indexOf("\n");
    return nl >= 0 ? text.slice(0, nl + 1) : text;
  }
  if (stopAt === "answer") {
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", nl + 1)) {
      if (answerLineDone(text.slice(0, nl + 1))) return text.slice(0, nl + 1);
    }
    return text;
  }
  return text;
}
