// Hard negatives: plausible wrong final answers. The paper samples them from the model itself (so
// that positives and negatives come from the same answer distribution, Section 4.2) and falls back to
// heuristic edits when the model keeps producing the right answer (Section 5.1).

import { firstNumber } from "../backend/numberStop.js";

export type NegativeSource = "sampled" | "perturbed" | "given" | "solution";

export interface Negative {
  value: string;
  source: NegativeSource;
  /** For sampled negatives: how many samples produced it. */
  count?: number;
  /** For perturbations: which edit produced it. */
  edit?: string;
  /** Its share of the negative term (the weights of a solution's negatives sum to 1). */
  weight?: number;
}

/** Same number written differently ("46.0", "046") counts as the same answer. */
export function sameAnswer(a: string, b: string): boolean {
  const x = Number(a);
  const y = Number(b);
  if (Number.isFinite(x) && Number.isFinite(y)) return Math.abs(x - y) < 1e-9;
  return a.trim() === b.trim();
}

/**
 * Wrong answers pooled over all sampled texts, most frequent first (ties: first seen first), as the
 * reference implementation does.
 */
export function poolSampledNegatives(samples: readonly string[], gold: string): Negative[] {
  const counts = new Map<string, number>();
  for (const s of samples) {
    const n = firstNumber(s);
    if (n == null || sameAnswer(n, gold)) continue;
    const key = canonicalNumber(n);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([value, count], order) => ({ value, count, order }))
    .sort((a, b) => b.count - a.count || a.order - b.order)
    .map(({ value, count }) => ({ value, source: "sampled" as const, count }));
}

const OPS: Record<string, (x: number, y: number) => number> = {
  "+": (x, y) => x + y,
  "-": (x, y) => x - y,
  "*": (x, y) => x * y,
  "/": (x, y) => x / y,
};

// `(?<!\d)`: a match starts where a number starts; tried from inside a long run of digits too, the
// first `\d+` made one step of 100k digits cost seconds (issue 10, audited by bench/regex.ts).
const EQUATION = /(?<!\d)(-?\d+(?:\.\d+)?)\s*(\+|-|−|\*|×|\\times|\/|÷|\\div)\s*(-?\d+(?:\.\d+)?)\s*=\s*\$?(-?\d+(?:\.\d+)?)/g;

function opKey(op: string): string {
  if (op === "×" || op === "\\times") return "*";
  if (op === "÷" || op === "\\div") return "/";
  if (op === "−") return "-";
  return op;
}

/**
 * Heuristic negatives, in order: operator swaps of the step that produced the answer (the most
 * realistic slip), off-by-one, a factor of ten, a sign flip, then the reference's fill-ups.
 */
export function perturbations(gold: string, steps: readonly string[]): Negative[] {
  const out: Negative[] = [];
  const g = Number(gold);
  const push = (v: number, edit: string): void => {
    if (!Number.isFinite(v)) return;
    const value = canonicalNumber(String(Number.isInteger(v) ? v : Number(v.toFixed(6))));
    if (sameAnswer(value, gold) || out.some((n) => sameAnswer(n.value, value))) return;
    out.push({ value, source: "perturbed", edit });
  };
  if (!Number.isFinite(g)) return out;
  for (let k = steps.length - 1; k >= 0; k--) {
    const matches = [...steps[k]!.matchAll(EQUATION)];
    const hit = matches.find((m) => sameAnswer(m[4]!, gold));
    if (!hit) continue;
    const x = Number(hit[1]);
    const y = Number(hit[3]);
    const op = opKey(hit[2]!);
    for (const [other, f] of Object.entries(OPS)) if (other !== op) push(f(x, y), `operator swap ${op}→${other}`);
    break;
  }
  push(g + 1, "off by one (+1)");
  push(g - 1, "off by one (−1)");
  push(g * 10, "×10");
  push(g + 10, "+10");
  push(g - 10, "−10");
  push(-g, "sign flip");
  push(2 * g, "×2");
  push(g + 2, "+2");
  push(g - 2, "−2");
  return out;
}

/** The reference's fill-up order exactly (gold±1, ±10, ×2, ±2; non-negative, distinct). */
export function referenceFill(gold: string): Negative[] {
  const g = Number(gold);
  if (!Number.isFinite(g)) return [];
  const out: Negative[] = [];
  for (const [v, edit] of [
    [g + 1, "+1"],
    [g - 1, "−1"],
    [g + 10, "+10"],
    [g - 10, "−10"],
    [2 * g, "×2"],
    [g + 2, "+2"],
    [g - 2, "−2"],
  ] as const) {
    if (v < 0) continue;
    const value = canonicalNumber(String(v));
    if (!sameAnswer(value, gold) && !out.some((n) => n.value === value)) out.push({ value, source: "perturbed", edit });
  }
  return out;
}

export function chooseNegatives(sampled: readonly Negative[], fill: readonly Negative[], m: number): Negative[] {
  const out: Negative[] = [];
  for (const n of [...sampled, ...fill]) {
    if (out.length >= m) break;
    if (!out.some((o) => sameAnswer(o.value, n.value))) out.push(n);
  }
  return out;
}

function canonicalNumber(s: string): string {
  const n = Number(s.replace(/,/g, ""));
  if (!Number.isFinite(n)) return s;
  return String(n);
}
