// The bench report: a Markdown page with the Table-1-style comparison and two SVG charts drawn by
// hand (no plotting dependency): each method's score distribution for right and wrong steps, and
// quality against cost.

import type { BenchResult, MethodResult } from "./labelingBench.js";

export interface BonSummary {
  records: number;
  random: number;
  majority: number;
  best: number;
  /** Accuracy per method or variant. */
  accuracy: Record<string, number>;
  /** Which ones saw the gold answer (reported apart). */
  withGold: string[];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

export function ratioTable(result: BenchResult, baseline = "mc"): string {
  const base = result.methods[baseline];
  const rows = Object.entries(result.methods).map(([name, m]: [string, MethodResult]) => {
    const t = base && base.seconds > 0 ? m.seconds / base.seconds : NaN;
    const g = base && base.tokens_generated > 0 ? m.tokens_generated / base.tokens_generated : NaN;
    const e = base && base.tokens_evaluated > 0 ? m.tokens_evaluated / base.tokens_evaluated : NaN;
    const label = name === "cpmi_naive" && result.naive && result.naive.records < result.records ? `${name} (quality on ${result.naive.records} records)` : name;
    return `| ${label} | ${fmt(m.auc)} | ${fmt(m.f1)} | ${fmt(m.wasserstein)} | ${m.seconds.toFixed(1)} | ${m.tokens_evaluated} | ${m.tokens_generated} | ${fmt(t, 3)} | ${fmt(g, 3)} | ${fmt(e, 3)} |`;
  });
  return [
    `| method | AUC | PB F1 | Wasserstein | seconds | tokens evaluated | tokens generated | time / ${baseline} | generated / ${baseline} | evaluated / ${baseline} |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

export function bonTable(bon: BonSummary): string {
  const rows = [
    `| random pick | ${fmt(bon.random)} |`,
    `| majority vote (ties split) | ${fmt(bon.majority)} |`,
    `| best possible pick | ${fmt(bon.best)} |`,
    ...Object.entries(bon.accuracy).map(([k, v]) => `| ${k}${bon.withGold.includes(k) ? " (gold given)" : ""} | ${fmt(v)} |`),
  ];
  return ["| Best-of-N pick | accuracy |", "| --- | --- |", ...rows].join("\n");
}

/** Histograms of right and wrong steps' scores in [0, 1], one panel per method. */
export function distributionSvg(result: BenchResult, truth: readonly (readonly (0 | 1)[])[]): string {
  const names = Object.keys(result.scores);
  const bins = 20;
  const pw = 260;
  const ph = 150;
  const pad = 30;
  const cols = Math.min(3, names.length);
  const rowsN = Math.ceil(names.length / cols);
  const W = cols * (pw + pad) + pad;
  const H = rowsN * (ph + pad + 20) + pad + 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${pad}" y="16" font-size="13">Step scores: right steps (blue) vs wrong steps (red), share of each class per bin</text>`,
  ];
  names.forEach((name, k) => {
    const x0 = pad + (k % cols) * (pw + pad);
    const y0 = 30 + Math.floor(k / cols) * (ph + pad + 20);
    const right = new Array<number>(bins).fill(0);
    const wrong = new Array<number>(bins).fill(0);
    result.scores[name]!.forEach((steps, r) =>
      steps.forEach((s, i) => {
        if (!Number.isFinite(s)) return;
        const b = Math.min(bins - 1, Math.max(0, Math.floor(s * bins)));
        (truth[r]![i] ? right : wrong)[b]!++;
      }),
    );
    const nr = right.reduce((a, b) => a + b, 0) || 1;
    const nw = wrong.reduce((a, b) => a + b, 0) || 1;
    const maxShare = Math.max(...right.map((v) => v / nr), ...wrong.map((v) => v / nw), 0.01);
    parts.push(`<text x="${x0}" y="${y0 + 12}" font-size="12" font-weight="bold">${esc(name)}</text>`);
    parts.push(`<rect x="${x0}" y="${y0 + 18}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
    const bw = pw / bins;
    for (let b = 0; b < bins; b++) {
      const hr = ((right[b]! / nr) / maxShare) * (ph - 4);
      const hw = ((wrong[b]! / nw) / maxShare) * (ph - 4);
      parts.push(`<rect x="${(x0 + b * bw).toFixed(1)}" y="${(y0 + 18 + ph - hr).toFixed(1)}" width="${(bw / 2).toFixed(1)}" height="${hr.toFixed(1)}" fill="#1f77b4"/>`);
      parts.push(`<rect x="${(x0 + b * bw + bw / 2).toFixed(1)}" y="${(y0 + 18 + ph - hw).toFixed(1)}" width="${(bw / 2).toFixed(1)}" height="${hw.toFixed(1)}" fill="#d62728"/>`);
    }
    parts.push(`<text x="${x0}" y="${y0 + ph + 32}">0</text><text x="${x0 + pw - 6}" y="${y0 + ph + 32}">1</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** AUC and F1 (y) against wall time relative to MC (x, log scale). */
export function qualityCostSvg(result: BenchResult, baseline = "mc"): string {
  const W = 660;
  const H = 340;
  const L = 60;
  const B = 50;
  const T = 30;
  const R = 220;
  const base = result.methods[baseline]?.seconds ?? NaN;
  const pts = Object.entries(result.methods).map(([name, m]) => ({ name, x: m.seconds / base, auc: m.auc, f1: m.f1 }));
  const xs = pts.map((p) => p.x).filter((x) => Number.isFinite(x) && x > 0);
  const lo = Math.log10(Math.min(0.01, ...xs));
  const hi = Math.log10(Math.max(10, ...xs));
  const px = (x: number): number => L + ((Math.log10(x) - lo) / (hi - lo)) * (W - L - R);
  const ys = pts.flatMap((p) => [p.auc, p.f1]).filter(Number.isFinite);
  const ylo = Math.min(0.5, ...ys);
  const py = (y: number): number => T + (1 - (y - ylo) / (1 - ylo)) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${L}" y="18" font-size="13">Quality vs cost: ● step ROC-AUC, ▲ ProcessBench F1; x = wall time / ${baseline} (log)</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`,
  ];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
    const x = px(10 ** e);
    parts.push(`<line x1="${x}" y1="${H - B}" x2="${x}" y2="${H - B + 4}" stroke="#333"/><text x="${x - 10}" y="${H - B + 16}">${10 ** e}</text>`);
  }
  for (let k = 0; k <= 4; k++) {
    const y = ylo + ((1 - ylo) * k) / 4;
    parts.push(`<text x="${L - 34}" y="${py(y) + 4}">${y.toFixed(2)}</text><line x1="${L - 4}" y1="${py(y)}" x2="${L}" y2="${py(y)}" stroke="#333"/>`);
  }
  pts.forEach((p, k) => {
    if (!Number.isFinite(p.x) || p.x <= 0) return;
    const c = COLORS[k % COLORS.length]!;
    const x = px(p.x);
    if (Number.isFinite(p.auc)) parts.push(`<circle cx="${x}" cy="${py(p.auc)}" r="5" fill="${c}"/>`);
    if (Number.isFinite(p.f1)) {
      const y = py(p.f1);
      parts.push(`<path d="M ${x} ${y - 6} L ${x - 5} ${y + 4} L ${x + 5} ${y + 4} Z" fill="${c}" opacity="0.8"/>`);
    }
    parts.push(`<circle cx="${W - R + 16}" cy="${T + 10 + k * 18}" r="5" fill="${c}"/><text x="${W - R + 26}" y="${T + 14 + k * 18}">${esc(p.name)}</text>`);
  });
  parts.push(`<text x="${(L + W - R) / 2 - 60}" y="${H - 10}">wall time relative to ${baseline}</text>`, "</svg>");
  return parts.join("\n");
}

export function benchMarkdown(result: BenchResult, opts: { command: string; bon?: BonSummary; baseline?: string }): string {
  const baseline = opts.baseline ?? "mc";
  const lines = [
    "# StepLens bench: labeling methods on one set of records",
    "",
    `Command: \`${opts.command}\``,
    "",
    `${result.records} records, ${result.steps} steps. Settings: ${Object.entries(result.settings).map(([k, v]) => `${k}: ${v}`).join("; ")}.`,
    "",
    ratioTable(result, baseline),
    "",
    "AUC: step ROC-AUC (right steps as positives). PB F1: ProcessBench F1 at the best threshold (oracle, as the paper reports it).",
    "Wasserstein: between right and wrong steps' scores in [0, 1] (CPMI soft labels, MC values). Ratios are against MC, as in the CPMI paper's Table 1.",
    "cpmi_merge's cost is its MC first-step pass plus its CPMI pass; rand_merge's is the MC first-step pass alone.",
    ...(result.naive
      ? [
          `cpmi_naive computes cpmi's scores from scratch: measured on ${result.naive.records} of the ${result.records} records (cost scaled to all), largest soft-label difference from cpmi there ${result.naive.maxDiffFromCpmi.toExponential(2)}.`,
        ]
      : []),
    "",
    "![score distributions](distributions.svg)",
    "",
    "![quality vs cost](quality-cost.svg)",
    "",
  ];
  if (opts.bon) {
    lines.push(`## Best-of-N (${opts.bon.records} items; methods see no gold answer unless marked)`, "", bonTable(opts.bon), "");
  }
  return lines.join("\n");
}
