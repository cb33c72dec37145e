// The TextMate grammars: valid JSON, every regex compiles, capture numbers exist, and the patterns
// scope the answer lines and step prefixes of the example files as intended. vscode-textmate and
// vscode-oniguruma are not installed, so the regexes are run with JavaScript's engine; the grammars
// keep to the syntax both engines share (no \A, \h, possessive quantifiers or inline flags).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

const REPO = path.resolve(import.meta.dirname, "..");
const SYNTAXES = path.join(REPO, "syntaxes");

interface Captures {
  [group: string]: { name?: string; patterns?: unknown[] };
}
interface Rule {
  include?: string;
  match?: string;
  begin?: string;
  end?: string;
  name?: string;
  captures?: Captures;
  beginCaptures?: Captures;
  endCaptures?: Captures;
  patterns?: Rule[];
}
interface Grammar {
  scopeName: string;
  injectionSelector?: string;
  patterns: Rule[];
  repository?: Record<string, Rule>;
}

function load(file: string): Grammar {
  return JSON.parse(readFileSync(path.join(SYNTAXES, file), "utf8")) as Grammar;
}

/** Every rule in the grammar with where it sits, for the error messages. */
function rules(g: Grammar): Array<[string, Rule]> {
  const out: Array<[string, Rule]> = [];
  const walk = (where: string, r: Rule): void => {
    out.push([where, r]);
    r.patterns?.forEach((p, i) => walk(`${where}.patterns[${i}]`, p));
  };
  g.patterns.forEach((p, i) => walk(`patterns[${i}]`, p));
  for (const [name, r] of Object.entries(g.repository ?? {})) walk(`repository.${name}`, r);
  return out;
}

function groupCount(source: string): number {
  return new RegExp(`${source}|`).exec("")!.length - 1;
}

/** Scopes the grammar's top-level match rules give one line: "scope=text" per capture, leftmost rule first. */
function scopesOf(g: Grammar, line: string): string[] {
  const out: string[] = [];
  const resolved = g.patterns.map((p) => (p.include?.startsWith("#") ? g.repository![p.include.slice(1)]! : p)).filter((r) => r.match);
  let pos = 0;
  while (pos <= line.length) {
    let best: { index: number; m: RegExpExecArray; rule: Rule } | undefined;
    for (const rule of resolved) {
      const re = new RegExp(rule.match!, "gd");
      re.lastIndex = pos;
      const m = re.exec(line);
      if (m && (!best || m.index < best.index)) best = { index: m.index, m, rule };
    }
    if (!best || best.m[0].length === 0) break;
    if (best.rule.name) out.push(`${best.rule.name}=${best.m[0]}`);
    for (const [group, cap] of Object.entries(best.rule.captures ?? {})) {
      const text = best.m[Number(group)];
      if (text !== undefined && cap.name) out.push(`${cap.name}=${text}`);
    }
    pos = best.m.index + best.m[0].length;
  }
  return out;
}

/**
 * False for the Oniguruma-only constructs a JS compile check would miss or misread: \A \G \h \z
 * anchors and classes, inline flags, possessive quantifiers.
 */
function onigurumaAndJs(source: string): boolean {
  const escaped = [...source.matchAll(/\\(.)/g)].map((m) => m[1]!);
  if (escaped.some((c) => "AGhHzZK".includes(c))) return false;
  // Escapes and classes become one plain atom each, so what is left shows the quantifiers as written.
  const bare = source.replace(/\\./g, "x").replace(/\[[^\]]*\]/g, "x");
  return !/\(\?[imx-]+[):]/.test(bare) && !/[*+?}]\+/.test(bare);
}

const FILES = readdirSync(SYNTAXES).filter((f) => f.endsWith(".json"));

describe("grammars: structure", () => {
  test("the three grammars are there", () => {
    assert.deepEqual(FILES.sort(), ["steplens.latex.json", "steplens.markdown.json", "steplens.steps.json"]);
  });

  for (const file of FILES) {
    test(`${file}: regexes compile, captures exist, includes resolve, scopes name steplens`, () => {
      const g = load(file);
      assert.ok(g.scopeName, "scopeName");
      for (const [where, r] of rules(g)) {
        if (r.include) {
          if (r.include.startsWith("#")) assert.ok(g.repository?.[r.include.slice(1)], `${where}: ${r.include} resolves`);
          continue;
        }
        for (const key of ["match", "begin", "end"] as const) {
          const source = r[key];
          if (source === undefined) continue;
          assert.doesNotThrow(() => new RegExp(source), `${where}.${key} compiles: ${source}`);
          assert.ok(onigurumaAndJs(source), `${where}.${key} uses only syntax both Oniguruma and JS share: ${source}`);
          const groups = groupCount(source);
          const caps = key === "match" ? r.captures : key === "begin" ? (r.beginCaptures ?? r.captures) : (r.endCaptures ?? r.captures);
          for (const n of Object.keys(caps ?? {})) assert.ok(Number(n) <= groups, `${where}: capture ${n} of ${groups} groups`);
        }
        assert.ok(r.match || r.begin, `${where}: a rule matches something`);
        const names = [r.name, ...Object.values(r.captures ?? {}).map((c) => c.name)].filter((n): n is string => !!n);
        assert.ok(names.length > 0, `${where}: gives a scope`);
      }
    });
  }

  test("package.json contributes exactly these grammars with matching scope names", () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { contributes: { grammars: Array<{ scopeName: string; path: string }> } };
    for (const entry of pkg.contributes.grammars) {
      assert.equal(load(path.basename(entry.path)).scopeName, entry.scopeName, entry.path);
    }
    assert.equal(pkg.contributes.grammars.length, FILES.length);
  });
});

describe("grammars: scopes themes colour as structure", () => {
  // GitHub-style themes (VS Code's "2026 Light" among them) colour keyword and storage scopes in their
  // error red (#cf222e): a Step N: prefix there read as an error on every line (issue 12 item 7).
  // Markup scopes (bold, headings, numbers) are coloured as document structure in every default theme.
  const ERROR_COLOURED = /^(keyword|storage|invalid|message\.error|markup\.deleted|constant\.character)(\.|$)/;

  test("no grammar gives step prefixes, answer cues or anything else a keyword, storage or invalid scope", () => {
    for (const file of readdirSync(SYNTAXES).filter((f) => f.endsWith(".json"))) {
      const g = load(file);
      for (const [where, r] of rules(g)) {
        const names = [r.name, ...Object.values({ ...r.captures, ...r.beginCaptures, ...r.endCaptures }).map((c) => c.name)].filter((n): n is string => !!n);
        for (const name of names) for (const scope of name.split(/\s+/)) assert.doesNotMatch(scope, ERROR_COLOURED, `${file} ${where}: ${scope}`);
      }
    }
  });
});

describe("grammars: what they mark", () => {
  const md = load("steplens.markdown.json");
  const tex = load("steplens.latex.json");
  const steps = load("steplens.steps.json");
  const ANSWER = "constant.numeric.steplens.answer";
  const STEP = "markup.bold.steplens.step";
  const HEADER = "markup.bold.steplens.header";

  test("Markdown answer lines, all five forms, give the answer as constant.numeric", () => {
    const cases: Array<[string, string]> = [
      ["The answer is 24.", "24"],
      ["Therefore, the answer is \\boxed{42}.", "42"],
      ["Final answer: 29", "29"],
      ["#### 18", "18"],
      ["**Answer:** 54", "54"],
      ["The final answer is $1,250.", "$1,250"],
      ["So the answer is \\boxed{\\frac{3}{4}}", "\\frac{3}{4}"],
    ];
    for (const [line, answer] of cases) {
      const s = scopesOf(md, line);
      assert.ok(s.includes(`${ANSWER}=${answer}`), `${line} → ${JSON.stringify(s)}`);
      assert.ok(s.some((x) => x.startsWith("markup.bold.steplens.answer=")), `${line}: the cue is marked (bold)`);
    }
  });

  test("Markdown step prefixes and headers from the examples", () => {
    assert.ok(scopesOf(md, "Step 3: Together they cost 12 + 14 = 26 dollars.").includes(`${STEP}=Step 3:`));
    assert.ok(scopesOf(md, "**Step 2:** The mugs cost 2 * 7 = 14 dollars.").includes(`${STEP}=Step 2:`));
    assert.ok(scopesOf(md, "3. The sale price is 30 - 9 = 21 dollars.").includes(`${STEP}=3.`));
    assert.ok(scopesOf(md, "Question: Tom buys 4 pens.").includes(`${HEADER}=Question:`));
    assert.ok(scopesOf(md, "Answer: Let's think step by step.").includes(`${HEADER}=Answer:`));
    assert.ok(scopesOf(md, "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.").includes("comment.block.steplens.calculator=<<16-3-4=9>>"));
  });

  test("Markdown leaves ordinary prose and numbered lists alone", () => {
    assert.deepEqual(scopesOf(md, "1. Install the extension"), []);
    assert.deepEqual(scopesOf(md, "We think the answer is unclear, see below and more"), []);
    assert.deepEqual(scopesOf(md, "Stepping through 3 items."), []);
  });

  test("LaTeX: items are steps, \\boxed and % answer: carry the answer, sections are headers", () => {
    assert.ok(scopesOf(tex, "  \\item Half of them are given away,").includes(`${STEP}=\\item`));
    assert.ok(scopesOf(tex, "Therefore, the answer is $\\boxed{17}$.").includes(`${ANSWER}=17`));
    assert.ok(scopesOf(tex, "% answer: 17").includes(`${ANSWER}=17`));
    assert.ok(scopesOf(tex, "\\section*{Solution}").includes(`${HEADER}=Solution`));
    assert.ok(scopesOf(tex, "Final answer: 42").includes(`${ANSWER}=42`));
  });

  test("the LaTeX example file: every \\item and the boxed answer are marked", () => {
    const lines = readFileSync(path.join(REPO, "examples/solution.tex"), "utf8").split("\n");
    const all = lines.flatMap((l) => scopesOf(tex, l));
    assert.equal(all.filter((s) => s.startsWith(`${STEP}=`)).length, 4);
    assert.ok(all.includes(`${ANSWER}=17`));
  });

  test(".steps files: prefixes of every kind, gold answer in front matter, answer lines", () => {
    assert.ok(scopesOf(steps, "Step 1: The pens cost 4 * 3 = 12 dollars.").includes(`${STEP}=Step 1:`));
    assert.ok(scopesOf(steps, "2. The discount is 900 ÷ 100 = 9 dollars.").includes(`${STEP}=2.`));
    assert.ok(scopesOf(steps, "- The discount is 3 dollars.").includes(`${STEP}=-`));
    assert.ok(scopesOf(steps, "answer: 54").includes(`${ANSWER}=54`));
    assert.ok(scopesOf(steps, "The answer is 24.").includes(`${ANSWER}=24`));
    assert.deepEqual(scopesOf(steps, "---"), ["punctuation.definition.tag.steplens.front-matter=---"]);
  });

  test("the Markdown examples: every step line of candidates.md is marked", () => {
    const text = readFileSync(path.join(REPO, "examples/candidates.md"), "utf8").split("\n");
    const marked = text.filter((l) => scopesOf(md, l).some((s) => s.startsWith(`${STEP}=`)));
    // Candidates 1 and 2 number their steps; candidate 3 uses bullets, which Markdown marks itself.
    assert.equal(marked.length, 8);
    const answers = text.flatMap((l) => scopesOf(md, l)).filter((s) => s.startsWith(`${ANSWER}=`));
    assert.deepEqual(answers, [`${ANSWER}=29`, `${ANSWER}=42`, `${ANSWER}=54`]);
  });
});
