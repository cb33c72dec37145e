import { Option, type Command } from "commander";
import { createEngine, type Engine } from "../../engine/engineOptions.js";
import { parseDocumentSegmented, type Segmentation } from "../../engine/segment/entropySegment.js";
import { STEP_METHODS } from "../../engine/methods/stepMethods.js";
import { scoreDocument, type DocumentScore } from "../../engine/scoreDocument.js";
import { addEngineFlags, engineOptionsFrom, parseIntStrict, type EngineFlagValues } from "../engineFlags.js";
import { readSolutionFile, MAX_SOLUTION_BYTES } from "../readSolutionFile.js";
import { documentJson, formatDocumentScore } from "../format.js";
import { fail, report } from "../report.js";
import { QUALITIES, scorerForQuality, type Quality } from "../../engine/quality.js";
import { explainPrompt, formatExplanation } from "../../engine/cpmi/explainPrompt.js";

interface ScoreFlags extends EngineFlagValues {
  json?: boolean;
  gold?: string;
  maxBytes: number;
  format?: "markdown" | "latex" | "plain";
  method: string;
  segment: string;
  quality: Quality;
  explainPrompt?: number;
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
      .option("--max-bytes <n>", "refuse files larger than this", parseIntStrict, MAX_SOLUTION_BYTES)
      .addOption(new Option("--method <method>", "how steps are scored: cpmi, mc (Monte Carlo rollouts, Math-Shepherd), cpmi_merge (MC for step 1, CPMI after), rand_merge (the paper's control)").choices([...STEP_METHODS]).default("cpmi"))
      .addOption(new Option("--segment <mode>", "how a solution is cut into steps: lines (one per line or list item), or entropy (a solution written as one paragraph is cut where the model would start a new line; EDU-PRM)").choices(["lines", "entropy"]).default("lines"))
      .addOption(new Option("--quality <q>", "full: the templates and sampled negatives above; fast: the first template only, negatives from the solution's own results, nothing sampled (what the editor uses while you type)").choices([...QUALITIES]).default("full"))
      .option("--explain-prompt <step>", "print the exact text the model reads for step N (every template, the gold answer marked, its tokens) instead of scoring", parseIntStrict),
  ).action(async (files: string[], flags: ScoreFlags) => {
    let engine: Engine | undefined;
    let failed = 0;
    try {
      engine = await createEngine({ ...engineOptionsFrom(flags), method: flags.method });
      for (const file of files) {
        try {
          const text = await readSolutionFile(file, flags.maxBytes);
          const doc = await parseDocumentSegmented(text, {
            fileName: file,
            format: flags.format,
            segmentation: flags.segment as Segmentation,
            backend: engine.backend,
          });
          if (doc.solutions.every((s) => s.steps.length === 0)) {
            failed++;
            report(`${file}: no steps found. Write one step per line after the problem (e.g. "Step 1: ..."), then an answer line such as "The answer is 42."`);
            continue;
          }
          const scorer = scorerForQuality(engine, flags.quality);
          if (flags.explainPrompt != null) {
            for (const solution of doc.solutions) {
              const steps = solution.steps.map((s) => s.text);
              const gold = flags.gold ?? doc.goldAnswer?.value ?? "{answer}";
              const e = explainPrompt(engine.backend, scorer.config.templates, doc.problem, steps, flags.explainPrompt, gold);
              process.stdout.write(flags.json ? JSON.stringify({ file, solution: solution.index, ...e }) + "\n" : `${file}${doc.solutions.length > 1 ? ` (solution ${solution.index + 1})` : ""}: ${formatExplanation(e)}`);
            }
            continue;
          }
          const scored: DocumentScore = await scoreDocument(scorer, doc, { gold: flags.gold, method: engine.method, mc: engine.mc });
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
