import { parseAnswerLine } from "../parse/answer.js";

/**
 * Decides when a Monte Carlo rollout has reached its final answer: at the newline that ends the
 * first answer line the parser recognises (`The answer is 24.`, `Final answer: 24`, `#### 24`, ...).
 * Ending on the newline rather than on the last digit costs one token but cannot cut "24" off as
 * "2", and it is the same rule the parser applies to written solutions.
 */
export function answerLineDone(text: string): boolean {
  let start = 0;
  for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
    if (parseAnswerLine(text.slice(start, nl))) return true;
    start = nl + 1;
  }
  return false;
}

/** The final answer of a rollout: the value of its first answer line, or undefined if it never wrote one. */
export function rolloutAnswer(text: string): string | undefined {
  for (const line of text.split("\n")) {
    const a = parseAnswerLine(line);
    if (a) return a.value;
  }
  return undefined;
}
