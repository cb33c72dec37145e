import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "../server/engine/parse/index.js";
import type { ParsedDocument, SourceRange } from "../server/engine/parse/types.js";
import { DATA, REPO, readJsonlFile } from "./helpers.js";

/** The characters a range covers, checked against its line/column as well as its offsets. */
function slice(text: string, r: SourceRange): string {
  const lines = text.split("\n");
  const startOff = lines.slice(0, r.start.line).reduce((n, l) => n + l.length + 1, 0) + r.start.column;
  const endOff = lines.slice(0, r.end.line).reduce((n, l) => n + l.length + 1, 0) + r.end.column;
  assert.equal(startOff, r.start.offset, "start line/column agree with offset");
  assert.equal(endOff, r.end.offset, "end line/column agree with offset");
  return text.slice(r.start.offset, r.end.offset);
}

function only(doc: ParsedDocument) {
  assert.equal(doc.solutions.length, 1, "one solution");
  return doc.solutions[0]!;
}

describe("parser: the demo model card's formats", () => {
  const card = [
    "Question: Tom buys 4 pens for $3 each and 2 mugs for $7 each. Tom pays with a $50 bill. How much change does Tom get, in dollars?",
    "Answer: Let's think step by step.",
    "Step 1: The pens cost 4 * 3 = 12 dollars.",
    "Step 2: The mugs cost 2 * 7 = 14 dollars.",
    "Step 3: Together they cost 12 + 14 = 26 dollars.",
    "Step 4: The change is 50 - 26 = 24 dollars.",
    "The answer is 24.",
  ].join("\n");

  test("the card's example: problem, four steps with prefixes stripped, the answer line", () => {
    const doc = parseDocument(card);
    assert.match(doc.problem, /^Tom buys 4 pens .* in dollars\?$/);
    const sol = only(doc);
    assert.deepEqual(
      sol.steps.map((s) => s.text),
      ["The pens cost 4 * 3 = 12 dollars.", "The mugs cost 2 * 7 = 14 dollars.", "Together they cost 12 + 14 = 26 dollars.", "The change is 50 - 26 = 24 dollars."],
    );
    for (const s of sol.steps) {
      assert.equal(slice(card, s.range), s.raw);
      assert.equal(slice(card, s.textRange), s.text);
      assert.match(s.raw, /^Step \d: /);
    }
    assert.equal(sol.finalAnswer?.value, "24");
    assert.equal(sol.finalAnswer?.style, "the-answer-is");
    assert.equal(slice(card, sol.finalAnswer.valueRange), "24");
  });

  const headers: [string, string][] = [
    ["Question: ", "Answer: Let's think step by step."],
    ["Problem: ", "Solution:"],
    ["Q: ", "A:"],
    ["## Problem\n", "## Solution"],
  ];
  for (const [qh, sh] of headers) {
    test(`headers ${JSON.stringify(qh.trim())} / ${JSON.stringify(sh)}`, () => {
      const text = `${qh}Ann has 3 apples and buys 5 more. How many apples does she have?\n${sh}\nStep 1: She has 3 + 5 = 8 apples.\nThe answer is 8.`;
      const doc = parseDocument(text, { format: qh.startsWith("#") ? "markdown" : "plain" });
      assert.equal(doc.problem, "Ann has 3 apples and buys 5 more. How many apples does she have?");
      const sol = only(doc);
      assert.deepEqual(sol.steps.map((s) => s.text), ["She has 3 + 5 = 8 apples."]);
      assert.equal(sol.finalAnswer?.value, "8");
    });
  }

  const prefixes: [string, (i: number) => string][] = [
    ["Step N: ", (i) => `Step ${i}: `],
    ["N. ", (i) => `${i}. `],
    ["- ", () => "- "],
    ["none", () => ""],
  ];
  for (const [name, prefix] of prefixes) {
    for (const format of ["plain", "markdown"] as const) {
      test(`step prefix ${name} (${format})`, () => {
        const bodies = ["Ann has 3 × 6 = 18 apples.", "She eats 2, so 18 - 2 = 16 are left.", "Then $16 \\div 4 = 4$ per bag."];
        const text = `Question: How many apples per bag?\n${format === "markdown" ? "\n" : ""}${bodies.map((b, i) => prefix(i + 1) + b).join("\n")}\nFinal answer: 4\n`;
        const sol = only(parseDocument(text, { format }));
        assert.deepEqual(sol.steps.map((s) => s.text), bodies);
        sol.steps.forEach((s, i) => {
          assert.equal(slice(text, s.textRange), bodies[i]);
          assert.equal(slice(text, s.range), prefix(i + 1) + bodies[i]);
        });
        assert.equal(sol.finalAnswer?.value, "4");
        assert.equal(sol.finalAnswer?.style, "final-answer");
      });
    }
  }

  const answers: [string, string, string][] = [
    ["The answer is 24.", "24", "the-answer-is"],
    ["Final answer: 24", "24", "final-answer"],
    ["Therefore, the answer is \\boxed{24}.", "24", "boxed"],
    ["#### 24", "24", "hashes"],
    ["**Answer:** 24", "24", "bold-answer"],
    ["The answer is -3.", "-3", "the-answer-is"],
    ["Final answer: $1,250", "1250", "final-answer"],
  ];
  for (const [line, value, style] of answers) {
    test(`answer line ${JSON.stringify(line)}`, () => {
      const text = `Question: What is it?\nStep 1: It is 20 + 4 = 24.\n${line}`;
      const sol = only(parseDocument(text, { format: "plain" }));
      assert.equal(sol.steps.length, 1, "the answer line is not a step");
      assert.equal(sol.finalAnswer?.value, value);
      assert.equal(sol.finalAnswer?.style, style);
      assert.equal(slice(text, sol.finalAnswer.range).trim(), line);
    });
  }
});

describe("parser: GSM8K", () => {
  test("calculator notes leave the scored text, the ranges keep them; #### N is the answer", () => {
    const text = readFileSync(path.join(REPO, "examples/gsm8k.md"), "utf8");
    const doc = parseDocument(text, { fileName: "gsm8k.md" });
    assert.equal(doc.goldAnswer?.value, "18");
    assert.equal(doc.goldAnswer?.source, "front-matter");
    const sol = only(doc);
    assert.deepEqual(sol.steps.map((s) => s.text), [
      "Janet sells 16 - 3 - 4 = 9 duck eggs a day.",
      "She makes 9 * 2 = $18 every day at the farmer’s market.",
    ]);
    assert.equal(slice(text, sol.steps[0]!.range), "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.");
    assert.equal(slice(text, sol.steps[1]!.textRange), "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.");
    assert.equal(sol.finalAnswer?.style, "hashes");
    assert.equal(sol.finalAnswer?.value, "18");
  });

  test("all 5,276 model solutions of example_model_solutions.jsonl parse into steps with the right final answer", () => {
    type Rec = Record<string, unknown> & { question: string };
    const recs = readJsonlFile<Rec>(path.join(DATA, "gsm8k/example_model_solutions.jsonl"));
    let n = 0;
    const failures: string[] = [];
    for (const rec of recs) {
      for (const [key, v] of Object.entries(rec)) {
        if (typeof v !== "object" || v === null || typeof (v as { solution?: unknown }).solution !== "string") continue;
        const solution = (v as { solution: string }).solution;
        n++;
        const expected = /\nA: *(.*)\s*$/.exec(solution)?.[1]?.trim() ?? /A: *(.*)\s*$/.exec(solution)?.[1]?.trim();
        const doc = parseDocument(`Question: ${rec.question}\nAnswer:\n${solution}`, { format: "plain" });
        const sol = doc.solutions[doc.solutions.length - 1]!;
        const got = sol.finalAnswer?.value;
        const want = expected?.replace(/[$,]/g, "").replace(/\.$/, "");
        // The parser writes numbers in one form (14.80 -> 14.8) so that equal answers compare equal.
        const same = got === want || (got !== undefined && want !== undefined && want !== "" && Number(got) === Number(want));
        if (!same || (sol.steps.length === 0 && solution.split("\n").length > 1)) {
          if (failures.length < 5) failures.push(`${key}: expected ${want}, got ${got} with ${sol.steps.length} steps in ${JSON.stringify(solution.slice(0, 200))}`);
          else failures.push("");
        }
        for (const s of sol.steps) assert.doesNotMatch(s.text, /<<|>>/, "calculator notes are removed");
      }
    }
    assert.equal(n, 5276, "every model solution was read");
    assert.deepEqual(failures.filter(Boolean), [], `${failures.length} solutions failed`);
  });
});

describe("parser: LaTeX", () => {
  test("enumerate items with wrapped lines, \\section*{Problem}, \\boxed answer and % answer comment", () => {
    const text = readFileSync(path.join(REPO, "examples/solution.tex"), "utf8");
    const doc = parseDocument(text, { fileName: "solution.tex" });
    assert.equal(doc.format, "latex");
    assert.equal(doc.goldAnswer?.value, "17");
    assert.equal(doc.goldAnswer?.source, "latex-comment");
    assert.match(doc.problem, /^Sofia has 20 pencils\..*have now\?$/);
    const sol = only(doc);
    assert.equal(sol.steps.length, 4);
    assert.match(sol.steps[0]!.text, /^Half of them are given away,\s+so Sofia keeps \$20 \\div 2 = 10\$ pencils\.$/);
    assert.match(slice(text, sol.steps[0]!.range), /^\\item Half/);
    assert.equal(slice(text, sol.steps[1]!.textRange), "The 2 packs hold $2 \\times 8 = 16$ pencils.");
    assert.equal(sol.finalAnswer?.value, "17");
    assert.equal(sol.finalAnswer?.style, "boxed");
    assert.equal(slice(text, sol.finalAnswer.valueRange), "17");
  });

  test("align* rows split at \\\\, itemize, and \\section*{Solution}", () => {
    const text = [
      "\\section*{Problem}",
      "Ann has 3 bags of 6 apples and eats 2. How many are left?",
      "\\section*{Solution}",
      "\\begin{align*}",
      "3 \\times 6 &= 18 \\\\",
      "18 - 2 &= 16",
      "\\end{align*}",
      "\\begin{itemize}",
      "\\item So 16 apples are left.",
      "\\end{itemize}",
      "The answer is $\\boxed{16}$.",
    ].join("\n");
    const doc = parseDocument(text, { format: "latex" });
    assert.match(doc.problem, /^Ann has 3 bags/);
    const sol = only(doc);
    assert.equal(sol.steps.length, 3);
    assert.equal(slice(text, sol.steps[0]!.textRange).trim().replace(/\s*\\\\$/, ""), "3 \\times 6 &= 18");
    assert.match(sol.steps[1]!.text, /18 - 2 &?= 16/);
    assert.equal(sol.steps[2]!.text, "So 16 apples are left.");
    assert.equal(sol.finalAnswer?.value, "16");
  });
});

describe("parser: Markdown structure", () => {
  test("front matter gold answer and a paragraph of steps keep exact ranges", () => {
    const text = "---\nanswer: 8\n---\n\nQuestion: Ann has 3 apples and buys 5 more. How many?\n\nShe has 3 + 5 = 8 apples.\nSo the total is 8.\n\nThe answer is 8.\n";
    const doc = parseDocument(text, { fileName: "a.md" });
    assert.equal(doc.goldAnswer?.value, "8");
    assert.equal(slice(text, doc.goldAnswer.range).includes("8"), true);
    const sol = only(doc);
    assert.deepEqual(sol.steps.map((s) => slice(text, s.textRange)), ["She has 3 + 5 = 8 apples.", "So the total is 8."]);
  });

  test("## Candidate N headings split candidates, each with its title, steps and answer", () => {
    const text = readFileSync(path.join(REPO, "examples/candidates.md"), "utf8");
    const doc = parseDocument(text, { fileName: "candidates.md" });
    assert.match(doc.problem, /^A ball costs \$30\./);
    assert.equal(doc.solutions.length, 3);
    assert.deepEqual(doc.solutions.map((s) => s.title), ["Candidate 1", "Candidate 2", "Candidate 3"]);
    assert.deepEqual(doc.solutions.map((s) => s.finalAnswer?.value), ["29", "42", "54"]);
    assert.deepEqual(doc.solutions.map((s) => s.steps.length), [4, 4, 4]);
    for (const sol of doc.solutions) for (const s of sol.steps) assert.equal(slice(text, s.textRange), s.text);
  });

  test("--- rules separate candidates when there are no candidate headings", () => {
    const text = "Question: What is 2 + 3?\n\n---\n\nStep 1: 2 + 3 = 5.\nThe answer is 5.\n\n---\n\nStep 1: 2 + 3 = 6.\nThe answer is 6.\n";
    const doc = parseDocument(text, { fileName: "x.md" });
    assert.equal(doc.problem, "What is 2 + 3?");
    assert.deepEqual(doc.solutions.map((s) => s.finalAnswer?.value), ["5", "6"]);
  });

  test("CRLF line endings and non-ASCII text keep UTF-16 columns right", () => {
    const text = "Question: Zoë has 2 × 3 apples — how many?\r\nStep 1: Zoë has 2 × 3 = 6 apples.\r\nThe answer is 6.\r\n";
    const sol = only(parseDocument(text, { format: "plain" }));
    assert.equal(text.slice(sol.steps[0]!.textRange.start.offset, sol.steps[0]!.textRange.end.offset), "Zoë has 2 × 3 = 6 apples.");
    assert.equal(sol.steps[0]!.textRange.start.line, 1);
    assert.equal(sol.steps[0]!.textRange.start.column, "Step 1: ".length);
  });

  test("every bundled example parses with steps, an answer and no warnings", () => {
    for (const f of readdirSync(path.join(REPO, "examples")).filter((f) => /\.(md|tex)$/.test(f) && f !== "README.md")) {
      const text = readFileSync(path.join(REPO, "examples", f), "utf8");
      const doc = parseDocument(text, { fileName: f });
      assert.ok(doc.problem.length > 10, `${f}: problem found`);
      assert.deepEqual(doc.warnings.map((w) => w.message), [], `${f}: no warnings`);
      for (const sol of doc.solutions) {
        assert.ok(sol.steps.length >= 2, `${f}: steps found`);
        assert.ok(sol.finalAnswer, `${f}: final answer found`);
      }
    }
  });

  test("empty and huge inputs return warnings, never throw", () => {
    const empty = parseDocument("", { format: "markdown" });
    assert.equal(empty.solutions[0]!.steps.length, 0);
    assert.match(empty.warnings[0]!.message, /empty/);
    const big = "Step 1: 1 + 1 = 2.\n".repeat(30_000);
    const doc = parseDocument(big, { format: "plain" });
    assert.ok(doc.warnings.some((w) => /only the first/.test(w.message)));
  });
});
