import type { Command } from "commander";
import { createEngine, type Engine } from "../../engine/engineOptions.js";
import { parseDocument } from "../../engine/parse/index.js";
import { scoreDocument, type DocumentScore } from "../../engine/scoreDocument.js";
import { addEngineFlags, engineOptionsFrom, parseIntStrict, type EngineFlagValues } from "../engineFlags.js";
import { readSolutionFile, MAX_SOLUTION_BYTES } from "../readSolutionFile.js";
import { documentJson, formatDocumentScore } from "../format.js";
import { fail, report } from "../report.js";

interface ScoreFlags extends EngineFlagValues {
  json?: boolean;
  gold?: string;
  maxBytes: number;
  format?: "markdown" | "latex" | "plain";
}

export function registerScore(program: Command): void {
  addEngineFlags(
    program
      .command("score")
      .description("score each step of one or more solution files (Markdown, LaTeX or plain text) and print a per-step table")
      .argument("<files...>", "solution files")
      .option("--json", "print one JSON object per file (JSON Lines)")
      .option("-g, --gold <answer>", "the correct final answer (overrides the file's front matter / % answer:)")
      .option("--format <format>", "markdown, latex or plain (default: from the file extension)")
      .option("--max-bytes <n>", "refuse files larger than this", parseIntStrict, MAX_SOLUTION_BYTES),
  ).action(async (files: string[], flags: ScoreFlags) => {
    let engine: Engine | undefined;
    let failed = 0;
    try {
      engine = await createEngine(engineOptionsFrom(flags));
      for (const file of files) {
        try {
          const text = await readSolutionFile(file, flags.maxBytes);
          const doc = parseDocument(text, { fileName: file, format: flags.format });
          if (doc.solutions.every((s) => s.steps.length === 0)) {
            failed++;
            report(`${file}: no steps found. Write one step per line after the problem (e.g. "Step 1: ..."), then an answer line such as "The answer is 42."`);
            continue;
          }
          const scored: DocumentScore = await scoreDocument(engine.scorer, doc, { gold: flags.gold });
          if (flags.json) process.stdout.write(JSON.stringify(documentJson(file, scored, engine)) + "\n");
          else process.stdout.write(formatDocumentScore(file, scored, engine) + "\n");
        } catch (err) {
          failed++;
          report(`${file}: ${(err as Error).message}`);
        }
      }
    } catch (err) {
      fail(err);
    } finally {
      await engine?.dispose();
    }
    if (failed > 0) process.exitCode = 1;
  });
}
