// Adversarial inputs against the solution-file parser (issue 10 item 2: ReDoS).
//
// 1. Every regular expression the parser runs on user text: found at run time, by watching
//    RegExp.prototype.exec (in a child process, `--list`) while a corpus reaching every rule is
//    parsed, so the audit covers markdown-it's and yaml's regexes too, and the ones that read hard
//    negatives from a solution's steps. Each is fed strings that pump its own characters (one
//    character or a pair repeated, after each of its literal words and after every prefix of a real
//    string it ran on, with and without a character that makes the match fail at the end): first at
//    10k characters to find its worst string, then that string at 10k / 30k / 100k.
// 2. Each field of a solution file (heading, front-matter answer, LaTeX `% answer:`, answer line,
//    step, list item, ...) filled with 10k / 30k / 100k of its worst adversarial characters, parsed whole.
// 3. What a 1 MB document (serve's body limit, score's default --max-bytes) costs to parse, in several shapes.
//
// Times are CPU time of this process (the machine is shared), median of three. Every row must stay
// under its bound; the script exits 1 when one does not. Linear growth shows as a 100k/10k ratio near
// 10 (a quadratic rule gives ~100; tiny times are dominated by fixed costs, so their ratio says little).
// Usage: node --import tsx bench/regex.ts [--quick] [--json FILE]

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { parseDocument, type ParseOptions } from "../server/engine/parse/index.js";
import { normalizeAnswer, parseAnswerLine } from "../server/engine/parse/answer.js";
import { perturbations } from "../server/engine/cpmi/negatives.js";
import { stepResults, trajectoryNegatives } from "../server/engine/methods/trajectoryNegatives.js";
import { cleanStepText, endsWithQuestionMark, headingRole, isThematicBreak, matchQuestionHeader, matchSolutionHeader, stripStepPrefix } from "../server/engine/parse/lines.js";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, json: { type: "string" }, list: { type: "boolean", default: false } } });
const REPO = path.resolve(import.meta.dirname, "..");
const SIZES = [10_000, 30_000, 100_000];
// Linear work on 100k characters takes a few ms here; the quadratic rules took 15 s.
const BOUND_100K_MS = 100;
// A 1 MB body must not hold the event loop long enough for /health or an LSP request to notice.
const BOUND_1MB_MS = 250;

// ---------- 1. every regex the parser runs ----------

interface Seen {
  re: RegExp;
  site: string;
  /** A few short strings the corpus ran it on, matches first: real prefixes to pump after. */
  inputs: string[];
}

/** The first frame of the stack outside this wrapper and the built-ins: who ran the regex. */
function siteOf(stack: string | undefined): string {
  const frames = (stack ?? "").split("\n").slice(2);
  for (const line of frames) {
    if (line.includes("(native)") || /at (?:String|RegExp)\./.test(line) || line.includes("node:internal")) continue;
    const m = /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/.exec(line.trim());
    if (m) {
      const file = path.relative(REPO, m[1]!.replace(/^file:\/\//, ""));
      const lib = file.indexOf("node_modules/");
      return `${lib >= 0 ? file.slice(lib) : file}:${m[2]}`;
    }
  }
  return "?";
}

function watchRegexes(run: () => void): Map<string, Seen> {
  const seen = new Map<string, Seen>();
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with .call(this) and put back
  const exec = RegExp.prototype.exec;
  let inside = false;
  RegExp.prototype.exec = function (this: RegExp, s: string) {
    if (!inside) {
      inside = true;
      const key = `/${this.source}/${this.flags}`;
      let entry = seen.get(key);
      if (!entry) seen.set(key, (entry = { re: new RegExp(this.source, this.flags), site: siteOf(new Error().stack), inputs: [] }));
      const input = String(s);
      if (input.length <= 120 && entry.inputs.length < 40 && !entry.inputs.includes(input)) {
        const probe = new RegExp(this.source, this.flags.replace(/[gy]/g, ""));
        if (exec.call(probe, input)) entry.inputs.unshift(input);
        else entry.inputs.push(input);
      }
      inside = false;
    }
    return exec.call(this, s);
  };
  try {
    run();
  } finally {
    RegExp.prototype.exec = exec;
  }
  return seen;
}

/**
 * The regexes, found in a child process: once RegExp.prototype.exec has been replaced, V8 runs every
 * regex of the process on its slow path for good, which would inflate every time measured here.
 */
function discoverRegexes(): Map<string, Seen> {
  const json = execFileSync(process.execPath, [...process.execArgv, import.meta.filename, "--list"], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  const list = JSON.parse(json) as { source: string; flags: string; site: string; inputs: string[] }[];
  return new Map(list.map((r) => [`/${r.source}/${r.flags}`, { re: new RegExp(r.source, r.flags), site: r.site, inputs: r.inputs.slice(0, 4) }]));
}

const CORPUS_EXTRA: [string, ParseOptions][] = [
  ["---\nanswer: $1,200.00\nproblem: Tom buys pens.\n---\n# Title\n\n## Problem\nHow much?\n\n## Solution\n1. 4 * 3 = 12\n2) x\n- **Step 3:** a <<4*3=12>>12 <<4+\n* b\n+ c\n\n> quoted\n\nThe answer is 12.\n#### 12\n**Answer:** 12\n**Final answer: 12**\nA: 12\nFinal answer is: \\boxed{\\frac{1}{2}}\nSo, the answer is 24 dollars.\nanswer: 3\n", { fileName: "a.md" }],
  ["Title line\n===\n\nSolution 2\n---\nStep 1 - a\n\n```\ncode\n```\n\n<!-- c -->\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n***\n___\n\n## Candidate 1 ##\nQ: x?\nA: Let's think step by step.\nStep 1: 1\n\n## Candidate #2\n", { fileName: "b.md" }],
  ["Question: Tom has 3?\nAnswer: Let's think step by step.\nStep 1: 3 + 4 = 7\nThe answer is 7.\n\n---\nProblem 2: again\nSolution:\nStep 1. x\n# heading\nA: 5\n", {}],
  [
    "\\documentclass{article}\n% gold answer = 17\n\\begin{document}\n\\section*{Problem}\nHow?\n\\begin{problem}Sofia\\end{problem}\n\\subsection{Candidate 1}\n\\begin{solution}\n\\begin{enumerate}\n\\item[a)] one\n\\item two \\label{x}\n\\end{enumerate}\n\\begin{align*}\na &= 1 \\nonumber \\\\\nb &= 2 \\label{e}\n\\end{align*}\n\\[ x = 1 \\]\n$$ y = 2 $$\n\\begin{equation} z \\end{equation}\n\\begin{verbatim}v\\end{verbatim}\n\\noindent\\vspace{2pt}\n\\end{solution}\nTherefore, the answer is $\\boxed{17}$.\n\\end{document}\n",
    { fileName: "c.tex" },
  ],
  ["\\begin{itemize}\\item a\\end{itemize}", {}],
  ["# a\n```\nx", {}],
  ["---\nanswer: [1, 2\nfoo: {\n---\nStep 1: a\n", { fileName: "d.md" }],
  ["---\n- a\n- b\n---\nStep 1: a\n", { fileName: "d.md" }],
  ["<div>\nx\n</div>\n\n<script>\n</script>\n\n<?php x ?>\n\n<!DOCTYPE html>\n\n<![CDATA[ x ]]>\n\n<a href=\"x\">\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n    code\n\n[ref]: http://x \"t\"\n\n1) Step 1: x\n", { fileName: "e.md" }],
];

function corpus(): void {
  for (const f of readdirSync(path.join(REPO, "examples"))) {
    if (!/\.(md|tex|txt|steps)$/.test(f) || f === "README.md") continue;
    const text = readFileSync(path.join(REPO, "examples", f), "utf8");
    parseDocument(text, { fileName: f });
    parseDocument(text, { format: "plain" });
    parseDocument(text);
  }
  for (const [text, opts] of CORPUS_EXTRA) {
    parseDocument(text, opts);
    parseDocument(text, { format: "plain" });
  }
  for (const f of fields()) for (const fill of ["*", ".", "=", " ", "1"]) parseDocument(f.make(fill.repeat(50)), f.opts);
  for (const s of ["24.0", "$1,200", "\\boxed{42}", "3 apples", "-.5", "\\frac{1}{2}", "**12**."]) normalizeAnswer(s);
  for (const s of ["The answer is 3.", "#### 3", "\\boxed{3}", "A: 3"]) parseAnswerLine(s);
  headingRole("**Candidate 2:**");
  stripStepPrefix("1. Step 2: x");
  cleanStepText("a <<1+1=2>>2 <<3");
  matchQuestionHeader("Q1: x");
  matchSolutionHeader("A: Let's think step by step.");
  endsWithQuestionMark("x?)");
  isThematicBreak("- - -");
  // Outside the parser, on the steps it returns: hard negatives read from a solution's own equations.
  const steps = ["4 * 3 = 12", "12 + 2 = $14", "14 - 2 = 12.5", "x = 1,200"];
  perturbations("12", steps);
  trajectoryNegatives(steps, "12", 4);
  stepResults(steps);
}

const FAIL = "\u0001";

/** Characters a regex mentions, and one for each class it uses. */
function alphabetOf(source: string): string[] {
  const out = new Set<string>(["a", "1", " ", "\n"]);
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const e = source[++i] ?? "";
      if (e === "d") out.add("1");
      else if (e === "s") {
        out.add(" ");
        out.add("\t");
      }
      else if (e === "S" || e === "w" || e === "D") out.add("a");
      else if (e === "n") out.add("\n");
      else if (e === "r") out.add("\r");
      else if (e === "t") out.add("\t");
      else if (e === "u" && /^[0-9A-Fa-f]{4}$/.test(source.slice(i + 1, i + 5))) {
        out.add(String.fromCharCode(parseInt(source.slice(i + 1, i + 5), 16)));
        i += 4;
      } else if (e === "p" || e === "P") i = source.indexOf("}", i);
      else if (!/[a-zA-Z0-9]/.test(e)) out.add(e);
    } else if (!"^$()|?+*{}[].".includes(c) || ".*+?{}[]()|$^".includes(c)) {
      // Metacharacters too: `[*_]` lists `*` as a literal, and pumping a metacharacter costs nothing.
      out.add(c);
    }
  }
  return [...out];
}

/** Literal words of a regex (its keywords, `####`, `\boxed`): a match often needs one first. */
function wordsOf(source: string): string[] {
  const words = new Set<string>();
  for (const m of source.matchAll(/(?:\\[^a-zA-Z0-9]|[A-Za-z'’]){2,}/g)) words.add(m[0].replace(/\\(.)/g, "$1"));
  return [...words].filter((w) => w.length >= 2).slice(0, 8);
}

function attacks(re: RegExp, inputs: readonly string[]): { label: string; make: (n: number) => string }[] {
  const alpha = alphabetOf(re.source);
  const pairs = alpha.flatMap((a) => alpha.filter((b) => b !== a).map((b) => a + b));
  const words = wordsOf(re.source).flatMap((w) => [w, w + " ", w + ":"]);
  // Every prefix of a string the regex really ran on (`**Answer` of `**Answer:** 12`) reaches states
  // that a regex's literal words alone do not.
  const prefixes = new Set<string>(words);
  for (const s of inputs) for (let i = 1; i <= Math.min(s.length, 40); i++) prefixes.add(s.slice(0, i));
  // Pairs without a prefix, single characters after each prefix: pumping a pair after a prefix too
  // would multiply the runs for little more reach.
  const plan: [string, string][] = [...[...alpha, ...pairs].map((p): [string, string] => ["", p]), ...[...prefixes].flatMap((w) => alpha.map((p): [string, string] => [w, p]))];
  const out: { label: string; make: (n: number) => string }[] = [];
  for (const [pre, p] of plan) {
    const body = (n: number): string => p.repeat(Math.ceil(n / p.length)).slice(0, n);
    out.push({ label: `${JSON.stringify(pre)} + ${JSON.stringify(p)}×n`, make: (n) => pre + body(n) });
    out.push({ label: `${JSON.stringify(pre)} + ${JSON.stringify(p)}×n + \\x01`, make: (n) => pre + body(n) + FAIL });
    out.push({ label: `${JSON.stringify(pre)} + "a" + ${JSON.stringify(p)}×n + \\x01`, make: (n) => pre + "a" + body(n) + FAIL });
  }
  return out;
}

function runRegex(re: RegExp, s: string): void {
  const r = new RegExp(re.source, re.flags);
  if (r.global) s.replace(r, "");
  else {
    r.lastIndex = 0;
    r.exec(s);
  }
}

/** CPU time of this process, in ms: on a machine shared with other work, wall time measures the
 * other work too. */
function ms(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
}

/** The median of three: one slow run from a GC pause or another process does not count. */
function median3(fn: () => void): number {
  const t = [ms(fn), ms(fn), ms(fn)].sort((a, b) => a - b);
  return t[1]!;
}

interface Row {
  what: string;
  where: string;
  worst: string;
  ms: number[];
  ok: boolean;
}

function auditRegexes(): Row[] {
  const seen = discoverRegexes();
  const rows: Row[] = [];
  const screen = values.quick ? 3_000 : 10_000;
  for (const [key, { re, site, inputs }] of seen) {
    const tried: { label: string; t: number; make: (n: number) => string }[] = [];
    for (const a of attacks(re, inputs)) {
      const s = a.make(screen);
      const t = ms(() => runRegex(re, s));
      tried.push({ label: a.label, t, make: a.make });
      // Found a superlinear one already: no need to try the rest at this size.
      if (t > 1_000) break;
    }
    // One timing at 10k can be noise: the three slowest strings are measured at every size, and
    // the one slowest at 100k is reported.
    let best: { label: string; times: number[] } | undefined;
    for (const cand of tried.sort((a, b) => b.t - a.t).slice(0, 3)) {
      // A superlinear one is reported as such at the size where it is already slow, not run for minutes.
      const times: number[] = [];
      for (const n of SIZES) {
        const input = cand.make(n);
        times.push(times.some((t) => !(t <= 500)) ? NaN : median3(() => runRegex(re, input)));
      }
      const last = times[times.length - 1]!;
      if (!best || !(last <= best.times[best.times.length - 1]!)) best = { label: cand.label, times };
    }
    const times = best?.times ?? [];
    const t100 = times[times.length - 1]!;
    rows.push({ what: key, where: site, worst: best?.label ?? "", ms: times, ok: Number.isFinite(t100) && t100 < BOUND_100K_MS });
    progress(`regex ${rows.length}/${seen.size} ${key.slice(0, 50)} ${site}: ${times.map(fmt).join(" / ")} ms`);
  }
  return rows;
}

// ---------- 2. each field of a file, parsed whole ----------

interface Field {
  name: string;
  opts: ParseOptions;
  make: (fill: string) => string;
}

const STEPS = "Step 1: 4 * 3 = 12\nThe answer is 12.\n";
const TEX = (body: string): string => `\\begin{document}\n${body}\n\\end{document}\n`;

function fields(): Field[] {
  const md = { fileName: "f.md" };
  const tex = { fileName: "f.tex" };
  return [
    { name: "heading title (ATX)", opts: md, make: (x) => `# a${x}a\n${STEPS}` },
    { name: "heading title (setext)", opts: md, make: (x) => `a${x}a\n---\n${STEPS}` },
    { name: "candidate heading", opts: md, make: (x) => `## Candidate 1${x}\n${STEPS}` },
    { name: "front-matter answer", opts: md, make: (x) => `---\nanswer: ${x}x\n---\n${STEPS}` },
    { name: "front-matter problem", opts: md, make: (x) => `---\nproblem: ${x}x\n---\n${STEPS}` },
    { name: "LaTeX % answer:", opts: tex, make: (x) => `% answer: ${x}x\n${TEX(STEPS)}` },
    { name: "answer line (the answer is)", opts: md, make: (x) => `Step 1: a\nThe answer is ${x}x\n` },
    { name: "answer line (**Answer:**)", opts: md, make: (x) => `Step 1: a\n**Answer: ${x}x\n` },
    { name: "answer line (\\boxed)", opts: md, make: (x) => `Step 1: a\n\\boxed{${x}\n` },
    { name: "answer line (####)", opts: md, make: (x) => `Step 1: a\n#### ${x}x\n` },
    { name: "step line", opts: md, make: (x) => `Step 1: a${x}a\nThe answer is 1.\n` },
    { name: "step prefix", opts: md, make: (x) => `**Step 1${x}\nThe answer is 1.\n` },
    { name: "question header", opts: md, make: (x) => `Question${x}: x\n${STEPS}` },
    { name: "list item", opts: md, make: (x) => `- a${x}a\n- b\n\nThe answer is 1.\n` },
    { name: "calculator note", opts: md, make: (x) => `Step 1: <<${x}\nThe answer is 1.\n` },
    { name: "plain line", opts: { fileName: "f.txt" }, make: (x) => `Step 1: ${x}a\nThe answer is 1.\n` },
    { name: "LaTeX \\item[...]", opts: tex, make: (x) => TEX(`\\begin{enumerate}\n\\item[${x}] a\n\\end{enumerate}\nThe answer is 1.`) },
    { name: "LaTeX \\section{...}", opts: tex, make: (x) => TEX(`\\section*{${x}}\nStep 1: a\nThe answer is 1.`) },
    { name: "LaTeX align row", opts: tex, make: (x) => TEX(`\\begin{align*}\na &= ${x} \\\\\n\\end{align*}\nThe answer is 1.`) },
    { name: "LaTeX line", opts: tex, make: (x) => TEX(`\\noindent ${x}a\nThe answer is 1.`) },
  ];
}

// Characters that mean something to some rule of the parser, and a plain one.
const FILLS = ["*", "_", ".", "!", " ", "\t", "=", "<", ">", "{", "}", "\\", "$", "#", "-", "&", "%", ":", "[", "]", "1", "a", "**", "_ ", "1,", "\\{", "\\item ", "Step 1: ", "- ", "> "];

function auditFields(): Row[] {
  const rows: Row[] = [];
  const screen = values.quick ? 3_000 : 10_000;
  for (const f of fields()) {
    let worst = { fill: "a", t: -1 };
    for (const fill of FILLS) {
      const doc = f.make(fill.repeat(Math.ceil(screen / fill.length)));
      const t = ms(() => parseDocument(doc, f.opts));
      if (t > worst.t) worst = { fill, t };
    }
    const times: number[] = [];
    for (const n of SIZES) {
      const doc = f.make(worst.fill.repeat(Math.ceil(n / worst.fill.length)));
      times.push(times.some((t) => !(t <= 500)) ? NaN : median3(() => parseDocument(doc, f.opts)));
    }
    progress(`field ${f.name}: ${times.map(fmt).join(" / ")} ms`);
    rows.push({ what: f.name, where: "parseDocument", worst: `${JSON.stringify(worst.fill)}×n`, ms: times, ok: times[times.length - 1]! < BOUND_100K_MS });
  }
  return rows;
}

// ---------- 3. 1 MB documents ----------

function megabyteDocs(): { name: string; text: string; opts: ParseOptions }[] {
  const MB = 1024 * 1024;
  const fill = (unit: string): string => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);
  return [
    { name: "steps, one per line (md)", text: "Question: x?\n" + fill("Step 1: The pens cost 4 * 3 = 12 dollars.\n"), opts: { fileName: "a.md" } },
    { name: "list items (md)", text: fill("- The pens cost 4 * 3 = 12 dollars.\n"), opts: { fileName: "a.md" } },
    { name: "nested list (md)", text: Array.from({ length: 20_000 }, (_, i) => " ".repeat(2 * (i % 60)) + "- x = 1").join("\n"), opts: { fileName: "a.md" } },
    { name: "one 1 MB line of *", text: `# a${fill("*")}a`, opts: { fileName: "a.md" } },
    { name: "one 1 MB line of .", text: `The answer is ${fill(".")}x`, opts: { fileName: "a.txt" } },
    { name: "1 MB front-matter answer", text: `---\nanswer: ${fill(".")}x\n---\nStep 1: a\n`, opts: { fileName: "a.md" } },
    { name: "1 MB % answer", text: `% answer: ${fill(".")}x\n${TEX("Step 1: a")}`, opts: { fileName: "a.tex" } },
    { name: "align rows (tex)", text: TEX(`\\begin{align*}\n${fill("a &= 4 \\cdot 3 \\\\\n")}\\end{align*}`), opts: { fileName: "a.tex" } },
    { name: "enumerate items (tex)", text: TEX(`\\begin{enumerate}\n${fill("\\item $4 \\times 3 = 12$ pens\n")}\\end{enumerate}`), opts: { fileName: "a.tex" } },
    { name: "lines of braces (tex)", text: TEX(fill("{".repeat(99) + "\n")), opts: { fileName: "a.tex" } },
    { name: "one line of \\\\ (tex)", text: TEX(fill("\\\\")), opts: { fileName: "a.tex" } },
    { name: "one line of \\{ (tex)", text: TEX(fill("\\{")), opts: { fileName: "a.tex" } },
    { name: "environments nested 2,500 deep (tex)", text: TEX("\\begin{center}\n".repeat(2_500) + fill("Step 1: x = 1\n").slice(0, MB / 2) + "\\end{center}\n".repeat(2_500)), opts: { fileName: "a.tex" } },
    { name: "1 MB front matter of {", text: `---\nanswer: ${fill("{")}\n---\nStep 1: a\n`, opts: { fileName: "a.md" } },
  ];
}

function auditMegabyte(): Row[] {
  return megabyteDocs().map((d) => {
    const t = median3(() => parseDocument(d.text, d.opts));
    progress(`1 MB ${d.name}: ${fmt(t)} ms`);
    return { what: d.name, where: `${(d.text.length / 1024 / 1024).toFixed(2)} M chars`, worst: "", ms: [t], ok: t < BOUND_1MB_MS };
  });
}

// ---------- report ----------

function progress(line: string): void {
  process.stderr.write(line + "\n");
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 0) : "skipped";
}
const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).trim() + (execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO, encoding: "utf8" }).trim() ? " (with uncommitted changes)" : "");
  } catch {
    return "unknown";
  }
})();

if (values.list) {
  const seen = watchRegexes(corpus);
  process.stdout.write(JSON.stringify([...seen.values()].filter((r) => !r.site.startsWith("bench/")).map((r) => ({ source: r.re.source, flags: r.re.flags, site: r.site, inputs: r.inputs }))));
  process.exit(0);
}

const started = Date.now();
const regexRows = auditRegexes();
const fieldRows = auditFields();
const mbRows = auditMegabyte();

const out: string[] = [];
out.push(`# bench/regex.ts — commit ${commit}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}${values.quick ? " (--quick)" : ""}`);
out.push("");
out.push(`## Every regex the parser ran on the corpus (${regexRows.length}), its worst pumped string; CPU ms at 10k / 30k / 100k chars (median of 3), bound ${BOUND_100K_MS} ms at 100k`);
out.push("");
out.push("| regex | first run at | worst string found | 10k | 30k | 100k | 100k/10k | ok |");
out.push("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |");
for (const r of [...regexRows].sort((a, b) => (b.ms[2] ?? 0) - (a.ms[2] ?? 0))) {
  out.push(`| \`${r.what.replace(/\|/g, "\\|").slice(0, 90)}\` | ${r.where} | ${r.worst.replace(/\|/g, "\\|")} | ${r.ms.map(fmt).join(" | ")} | ${fmt(r.ms[2]! / Math.max(r.ms[0]!, 0.01))} | ${r.ok ? "yes" : "NO"} |`);
}
out.push("");
out.push(`## Each field of a file filled with its worst adversarial characters, parseDocument; CPU ms at 10k / 30k / 100k chars (median of 3), bound ${BOUND_100K_MS} ms at 100k`);
out.push("");
out.push("| field | worst fill | 10k | 30k | 100k | 100k/10k | ok |");
out.push("| --- | --- | ---: | ---: | ---: | ---: | --- |");
for (const r of fieldRows) out.push(`| ${r.what} | ${r.worst.replace(/\|/g, "\\|")} | ${r.ms.map(fmt).join(" | ")} | ${fmt(r.ms[2]! / Math.max(r.ms[0]!, 0.01))} | ${r.ok ? "yes" : "NO"} |`);
out.push("");
out.push(`## 1 MB documents (serve's body limit), parseDocument, CPU ms (median of 3), bound ${BOUND_1MB_MS} ms`);
out.push("");
out.push("| document | size | ms | ok |");
out.push("| --- | --- | ---: | --- |");
for (const r of mbRows) out.push(`| ${r.what} | ${r.where} | ${fmt(r.ms[0]!)} | ${r.ok ? "yes" : "NO"} |`);
const bad = [...regexRows, ...fieldRows, ...mbRows].filter((r) => !r.ok);
out.push("");
out.push(`${bad.length === 0 ? "all within bounds" : `${bad.length} over their bound`}; ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.stdout.write(out.join("\n") + "\n");
if (values.json) writeFileSync(values.json, JSON.stringify({ commit, node: process.version, regexRows, fieldRows, mbRows }, null, 1));
process.exitCode = bad.length === 0 ? 0 : 1;
