/**
 * Decides when a sampled answer is complete: as soon as its first number can no longer grow. The
 * CPMI negatives only need that number, and on CPU every extra sampled token costs a decode.
 */
export class NumberStop {
  private static readonly NUMBER = /-?\d+(?:[.,]\d+)*/;

  done(text: string): boolean {
    const m = NumberStop.NUMBER.exec(text);
    if (!m) return /\n/.test(text);
    const after = text.slice(m.index + m[0].length);
    if (after.length === 0) return false;
    // "46." may still become "46.5"; "46.\n" or "46 " cannot grow any more.
    if (after[0] === "." || after[0] === ",") return after.length > 1;
    return true;
  }
}

/** The first number in a sampled text, normalised (thousands separators dropped), or undefined. */
export function firstNumber(text: string): string | undefined {
  const m = /-?\d+(?:,\d{3})*(?:\.\d+)?/.exec(text);
  if (!m) return undefined;
  return m[0].replace(/,/g, "");
}
