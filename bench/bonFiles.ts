// The editor on Best-of-N items as people write them: records of arith-bon-dev.jsonl written as one
// Markdown and one LaTeX file each (`## Candidate N` / `\section*{Candidate N}`, no gold answer in
// the file), opened in the real language server. Reports per file whether each wrong candidate's
// first wrong step carries a diagnostic, whether the hover on it shows the terms, and whether
// steplens/bestOfN picks a correct candidate.
// Usage: node --import tsx bench/bonFiles.ts [--records 3] [--out DIR]

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Hover, MarkupContent, PublishDiagnosticsParams } from "vscode-languageserver/node";
import type { BestOfNResult, DocumentScores } from "../protocol/index.js";
import { DEMO_MODEL } from "../test/helpers.js";
import { bonItems, bonLatex, bonMarkdown } from "../test/bonFixtures.js";
import { fileUri, TestClient } from "../test/lsp-client.js";

const { values } = parseArgs({ options: { records: { type: "string", default: "3" }, out: { type: "string", default: "test-output/bon-files" } } });
const items = bonItems(Number(values.records));
mkdirSync(values.out, { recursive: true });

const client = await TestClient.inProcess({ configuration: { modelPath: DEMO_MODEL, gpu: "off", check: { frequency: "edit", debounceMs: 50 } } });
let allOk = true;
for (const item of items) {
  for (const [ext, lang, body] of [["md", "markdown", bonMarkdown(item)], ["tex", "latex", bonLatex(item)]] as const) {
    const file = path.resolve(values.out, `${item.id}.${ext}`);
    writeFileSync(file, body);
    const uri = fileUri(file);
    client.open(uri, body, lang);
    const diags = await client.waitFor<PublishDiagnosticsParams>("textDocument/publishDiagnostics", (p) => p.uri === uri && p.version === 1);
    const scores = await client.waitFor<DocumentScores>("steplens/scores", (p) => p.uri === uri && p.version === 1 && p.solutions.length > 0);
    const lines: string[] = [];
    item.candidates.forEach((c, i) => {
      const sol = scores.solutions.find((s) => s.index === i)!;
      if (c.is_correct) {
        const flagged = sol.steps.filter((s) => s.verdict === "weak" || s.verdict === "wrong").length;
        lines.push(`  candidate ${i + 1} (correct): score ${sol.score?.toFixed(2)}, ${flagged} flagged steps`);
        return;
      }
      const step = sol.steps[c.label]!;
      const diag = diags.diagnostics.find((d) => d.range.start.line === step.textRange.start.line && (d.severity ?? 3) <= 2);
      lines.push(`  candidate ${i + 1} (first error at step ${c.label + 1}): ${diag ? `${diag.severity === 1 ? "Error" : "Warning"} "${typeof diag.message === "string" ? diag.message : diag.message.value}"` : "NO DIAGNOSTIC"}`);
      if (!diag) allOk = false;
    });
    // Hover on the first wrong candidate's first wrong step.
    const wi = item.candidates.findIndex((c) => !c.is_correct);
    const ws = scores.solutions.find((s) => s.index === wi)!.steps[item.candidates[wi]!.label]!;
    const hover = await client.request<Hover | null>("textDocument/hover", { textDocument: { uri }, position: { line: ws.textRange.start.line, character: ws.textRange.start.character + 3 } });
    const md = hover ? (hover.contents as MarkupContent).value : "";
    const termsShown = /\| template \| gold /.test(md) && /neg /.test(md) && /reward/.test(md);
    const bon = await client.request<BestOfNResult>("steplens/bestOfN", { uris: [uri] });
    const picked = bon.candidates[bon.best]!;
    const right = item.candidates[picked.solutionIndex]!.is_correct;
    if (!termsShown || !right) allOk = false;
    console.log(`${path.basename(file)}: gold ${item.gold_answer} (not in the file; server's pseudo-gold ${scores.gold?.value}, ${scores.gold?.source})`);
    for (const l of lines) console.log(l);
    console.log(`  hover on candidate ${wi + 1} step ${item.candidates[wi]!.label + 1}: ${termsShown ? "terms table shown" : "NO TERMS"}`);
    console.log(`  Best of ${bon.candidates.length}: picks ${picked.title} (answer ${picked.finalAnswer}, score ${picked.score?.toFixed(2)}) — ${right ? "correct" : "WRONG"}`);
  }
}
await client.close();
console.log(allOk ? "all checks passed" : "some checks failed");
process.exitCode = allOk ? 0 : 1;
