// Hostile solution files (issue 10 item 2): the inputs that froze the parser, each a fraction of a
// second now, and the fields that have no business being long refused with a warning. The time
// limits here are generous (a second for what takes about a millisecond; the quadratic rules took
// 1.4 s at 30k characters and 15 s at 100k); the measured figures are bench/regex.ts's.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseDocument, MAX_CHARS, MAX_LINES } from "../server/engine/parse/index.js";
import { normalizeAnswer, parseAnswerLine, MAX_ANSWER_CHARS } from "../server/engine/parse/answer.js";
import { headingRole, matchQuestionHeader } from "../server/engine/parse/lines.js";
import { MAX_FRONT_MATTER_CHARS } from "../server/engine/parse/frontMatter.js";
import { perturbations } from "../server/engine/cpmi/negatives.js";
import { stepResults, trajectoryNegatives } from "../server/engine/methods/trajectoryNegatives.js";

const LIMIT_MS = 1000;
const SIZES = [10_000, 30_000, 100_000];

function timed<T>(what: string, fn: () => T): T {
  const t0 = performance.now();
  const out = fn();
  const ms = performance.now() - t0;
  assert.ok(ms < LIMIT_MS, `${what} took ${ms.toFixed(0)} ms`);
  return out;
}

const STEPS = "Question: Tom has 3 pens and buys 4 more. How many pens does he have?\nStep 1: 3 + 4 = 7\nThe answer is 7.\n";

describe("parser: the adversarial inputs of issue 10", () => {
  for (const n of SIZES) {
    test(`a Markdown heading of ${n.toLocaleString("en-US")} characters ("a", "*"×n, "a": headingRole)`, () => {
      const text = `# a${"*".repeat(n)}a\n${STEPS}`;
      const doc = timed("parse", () => parseDocument(text, { fileName: "h.md" }));
      assert.equal(doc.solutions.length, 1);
      assert.deepEqual(doc.solutions[0]!.steps.map((s) => s.text), ["3 + 4 = 7"]);
      assert.equal(timed("headingRole", () => headingRole(`a${"*".repeat(n)}a`)), undefined);
    });

    test(`a front-matter answer of ${n.toLocaleString("en-US")} characters ("."×n, "x": normalizeAnswer) is refused with a warning`, () => {
      const text = `---\nanswer: ${".".repeat(n)}x\n---\n${STEPS}`;
      const doc = timed("parse", () => parseDocument(text, { fileName: "a.md" }));
      assert.equal(doc.goldAnswer, undefined, "no gold answer from it");
      // Past the front-matter size limit the whole header is not read; below it the answer is refused.
      assert.ok(doc.warnings.some((w) => /front matter.*(not read|characters long)|"answer" is .* characters long/.test(w.message)), JSON.stringify(doc.warnings));
      assert.deepEqual(doc.solutions[0]!.steps.map((s) => s.text), ["3 + 4 = 7"]);
      assert.equal(timed("normalizeAnswer", () => normalizeAnswer(`${".".repeat(n)}x`)), `${".".repeat(n)}x`);
    });

    test(`a LaTeX % answer: of ${n.toLocaleString("en-US")} characters is refused with a warning`, () => {
      const text = `% answer: ${".".repeat(n)}x\n\\begin{document}\nStep 1: 3 + 4 = 7\nThe answer is 7.\n\\end{document}\n`;
      const doc = timed("parse", () => parseDocument(text, { fileName: "a.tex" }));
      assert.equal(doc.goldAnswer, undefined);
      const w = doc.warnings.find((x) => /% answer: comment is .* characters long/.test(x.message));
      assert.ok(w, JSON.stringify(doc.warnings));
      assert.equal(w.range?.start.offset, "% answer: ".length, "the warning points at the value");
      assert.deepEqual(doc.solutions[0]!.steps.map((s) => s.text), ["3 + 4 = 7"]);
    });
  }

  test("the other rules that split a run of spaces every way: candidate headings, bold and 'So, the' answers, question headers", () => {
    const spaces = " ".repeat(100_000);
    assert.equal(timed("candidate", () => headingRole(`candidate${spaces}#${spaces}x`)), undefined);
    assert.equal(timed("**Answer", () => parseAnswerLine(`**Answer${spaces}x`)), undefined);
    assert.equal(timed("**Answer:", () => parseAnswerLine(`**Answer:${spaces}x *`)), undefined);
    assert.equal(timed("So,", () => parseAnswerLine(`So${spaces},${spaces}x`)), undefined);
    assert.equal(timed("Question", () => matchQuestionHeader(`Question${spaces}x`)), undefined);
    assert.equal(timed("normalizeAnswer %", () => normalizeAnswer(`1${" ".repeat(100_000)}x%`).length > 0), true);
    assert.equal(timed("normalizeAnswer 0s", () => normalizeAnswer(`1.${"0".repeat(100_000)}1`)), `1.${"0".repeat(100_000)}1`);
  });

  test("negatives read from a step's equations: a step of 100k digits or spaces after '='", () => {
    const digits = "1".repeat(100_000);
    timed("perturbations", () => perturbations("12", [digits, `4 * 3 = 12`]));
    assert.deepEqual(
      timed("trajectoryNegatives", () => trajectoryNegatives([`x =${" ".repeat(100_000)}y`, "4 * 3 = 13"], "12", 2)),
      ["13", "11"],
    );
    assert.deepEqual([...timed("stepResults", () => stepResults([`=${" ".repeat(100_000)}$ 5`, digits]))], ["5"]);
  });
});

describe("parser: fields that have no business being long", () => {
  test(`a gold answer longer than ${MAX_ANSWER_CHARS} characters is refused, a short one still read`, () => {
    const long = parseDocument(`---\nanswer: ${"1".repeat(MAX_ANSWER_CHARS + 1)}\n---\n${STEPS}`, { fileName: "a.md" });
    assert.equal(long.goldAnswer, undefined);
    assert.match(long.warnings[0]!.message, /"answer" is 201 characters long, not an answer/);
    const ok = parseDocument(`---\nanswer: ${"1".repeat(MAX_ANSWER_CHARS)}\n---\n${STEPS}`, { fileName: "a.md" });
    assert.equal(ok.goldAnswer?.value, "1".repeat(MAX_ANSWER_CHARS));
    assert.equal(parseDocument(`---\nanswer: $1,200.50\n---\n${STEPS}`, { fileName: "a.md" }).goldAnswer?.value, "1200.5");
    // As written, not as YAML's float: it read 1.2345678901234567e+19.
    assert.equal(parseDocument(`---\nanswer: 12345678901234567890\n---\n${STEPS}`, { fileName: "a.md" }).goldAnswer?.value, "12345678901234567890");
  });

  test(`front matter over ${MAX_FRONT_MATTER_CHARS} characters, or nesting [ { deeper than 32, is not read (yaml overflowed its stack on 4k braces)`, () => {
    const big = parseDocument(`---\nanswer: 7\nproblem: ${"x ".repeat(MAX_FRONT_MATTER_CHARS)}\n---\n${STEPS}`, { fileName: "a.md" });
    assert.equal(big.goldAnswer, undefined);
    assert.match(big.warnings[0]!.message, /front matter is [\d,]+ characters long.*not read/);
    assert.deepEqual(big.solutions[0]!.steps.map((s) => s.text), ["3 + 4 = 7"], "the body is still read");
    const deep = timed("nested braces", () => parseDocument(`---\nanswer: ${"{".repeat(4000)}\n---\n${STEPS}`, { fileName: "a.md" }));
    assert.equal(deep.goldAnswer, undefined);
    assert.match(deep.warnings[0]!.message, /nests \[ \] or \{ \} more than 32 deep/);
    const fine = parseDocument(`---\nanswer: 7\ntags: [a, {b: [c]}]\n---\n${STEPS}`, { fileName: "a.md" });
    assert.equal(fine.goldAnswer?.value, "7");
  });

  test(`only the first ${MAX_LINES.toLocaleString("en-US")} lines are read, and the warning says where the rest begins`, () => {
    const text = "Question: q?\n" + "Step 1: 1 + 1 = 2\n".repeat(MAX_LINES + 10);
    const doc = parseDocument(text, { format: "plain" });
    const w = doc.warnings.find((x) => /only the first/.test(x.message));
    assert.ok(w);
    assert.equal(w.range?.start.line, MAX_LINES);
    assert.equal(doc.solutions[0]!.steps.length, MAX_LINES - 1);
  });
});

describe("parser: nothing dropped without a word (issue 10 item 10)", () => {
  test("a list nested 1,000 deep is read line by line, with a warning that says why", () => {
    const text = "Question: How much is 3 + 4?\n\n" + Array.from({ length: 1_000 }, (_, i) => `${"  ".repeat(i)}- Step ${i + 1}: x = ${i}`).join("\n") + "\n\nThe answer is 999.\n";
    const doc = timed("parse", () => parseDocument(text, { fileName: "deep.md" }));
    const steps = doc.solutions[0]!.steps;
    assert.equal(steps.length, 1_000, "every line read");
    assert.equal(steps[0]!.text, "x = 0");
    assert.equal(steps[999]!.text, "x = 999");
    assert.equal(doc.solutions[0]!.finalAnswer?.value, "999");
    const deep = doc.warnings.find((w) => /nested too deep from line \d+ on .*read as plain text/.test(w.message));
    assert.ok(deep, JSON.stringify(doc.warnings.map((w) => w.message)));
  });

  test(`past ${MAX_CHARS / 1024 / 1024} MB the rest of a file is not read, and a warning says from which line`, () => {
    const line = `Step 1: ${"x".repeat(1000)} = 1\n`;
    const text = "Question: q?\n" + line.repeat(Math.ceil((2 * MAX_CHARS) / line.length));
    const doc = timed("parse", () => parseDocument(text, { fileName: "big.md" }));
    const w = doc.warnings.find((x) => /the file is 2\.0 MB: only the first [\d,]+ lines \(up to 1 MB\) are read/.test(x.message));
    assert.ok(w, JSON.stringify(doc.warnings.map((x) => x.message)));
    const kept = doc.solutions[0]!.steps.length;
    assert.ok(kept > 900 && kept < 1100, `${kept} steps`);
    assert.equal(w.range?.start.line, kept + 1, "the warning sits on the first line not read");
    assert.equal(parseDocument("x".repeat(MAX_CHARS + 1)).warnings[0]?.message.startsWith("the file is 1.0 MB: only the first 0 lines"), true);
  });

  test("a single line of 10,000 list markers still gives its step", () => {
    const doc = parseDocument(`Question: q?\n\n${"- ".repeat(10_000)}3 + 4 = 7\n\nThe answer is 7.\n`, { fileName: "markers.md" });
    assert.equal(doc.solutions[0]!.steps.length, 1);
    assert.match(doc.solutions[0]!.steps[0]!.text, /3 \+ 4 = 7$/);
    assert.ok(doc.warnings.some((w) => /nested too deep/.test(w.message)));
  });

  test("2,000 progressively nested lines: each line read is a step, and warnings say why and where the rest was dropped", () => {
    const text = "Question: q?\n\n" + Array.from({ length: 2_000 }, (_, i) => `${" ".repeat(i)}- Step ${i + 1}: x = ${i}`).join("\n") + "\n\nThe answer is 1999.\n";
    const doc = parseDocument(text, { fileName: "progressive.md" });
    const steps = doc.solutions[0]!.steps;
    assert.ok(doc.warnings.some((w) => /nested too deep/.test(w.message)), "the nesting is named");
    // The indentation alone makes the file 2 MB: the lines past 1 MB are not read, and said so.
    const cut = doc.warnings.find((w) => /only the first ([\d,]+) lines \(up to 1 MB\) are read/.test(w.message));
    assert.ok(cut, JSON.stringify(doc.warnings.map((w) => w.message)));
    assert.equal(cut.range!.start.line, steps.length + 2, "the steps are every line before the cut");
    steps.forEach((s, i) => assert.equal(s.text, `x = ${i}`));
    const smaller = "Question: q?\n\n" + Array.from({ length: 1_300 }, (_, i) => `${" ".repeat(i)}- Step ${i + 1}: x = ${i}`).join("\n") + "\n\nThe answer is 1299.\n";
    const all = parseDocument(smaller, { fileName: "progressive.md" });
    assert.equal(all.solutions[0]!.steps.length, 1_300);
    assert.equal(all.solutions[0]!.finalAnswer?.value, "1299");
  });

  test("ordinary nesting is still read as Markdown, without that warning", () => {
    const text = "Question: q?\n\n- Step 1: a = 1\n  - Step 2: b = 2\n    - Step 3: c = 3\n\nThe answer is 3.\n";
    const doc = parseDocument(text, { fileName: "ok.md" });
    assert.deepEqual(doc.warnings, []);
    assert.deepEqual(doc.solutions[0]!.steps.map((s) => s.text), ["a = 1", "b = 2", "c = 3"]);
  });

  test("LaTeX environments nested thousands deep stay cheap and keep their steps", () => {
    const text = `\\begin{document}\n${"\\begin{center}\n".repeat(2_000)}Step 1: x = 1\nThe answer is 1.\n${"\\end{center}\n".repeat(2_000)}\\end{document}\n`;
    const doc = timed("parse", () => parseDocument(text, { fileName: "deep.tex" }));
    assert.deepEqual(doc.solutions[0]!.steps.map((s) => s.text), ["Step 1: x = 1".replace("Step 1: ", "")]);
    assert.equal(doc.solutions[0]!.finalAnswer?.value, "1");
  });
});
