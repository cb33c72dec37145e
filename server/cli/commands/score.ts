import { Option, type Command } from "commander";
import { createEngine, OptionError, type Engine } from "../../engine/engineOptions.js";
import { parseDocumentSegmented, type Segmentation } from "../../engine/segment/entropySegment.js";
import { ALL_STEP_METHODS } from "../../engine/methods/stepMethods.js";
import { scoreDocument, type DocumentScore } from "../../engine/scoreDocument.js";
import { addEngineFlags, addImplicitFlags, byRule, engineOptionsFrom, parseIntStrict, type EngineFlagValues } from "../engineFlags.js";
import { parseDocument } from "../../engine/parse/index.js";
import { MAX_SOLUTION_BYTES, readSolutionFile, SolutionFileError } from "../../engine/parse/readSolutionFile.js";
import { documentJson, formatDocumentScore } from "../format.js";
import { fail, report } from "../report.js";
import { scorerForQuality, type Quality } from "../../engine/quality.js";
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
  addImplicitFlags(addEngineFlags(
    program
      .command("score")
      .description("score each step of one or more solution files (Markdown, LaTeX or plain text) and print a per-step table")
      .argument("<files...>", "solution files")
      .option("--json", "print one JSON object per file (JSON Lines)")
      .option("-g, --gold <answer>", "the correct final answer (overrides the file's front matter / % answer:)")
      .option("--format <format>", "markdown, latex or plain (default: from the file extension)")
      .option("--max-bytes <n>", "refuse files larger than this", parseIntStrict, MAX_SOLUTION_BYTES)
      .addOption(new Option("--method <method>", "how steps are scored: cpmi, mc (Monte Carlo rollouts, Math-Shepherd), cpmi_merge (MC for step 1, CPMI after), rand_merge (the paper's control), implicit (Implicit PRM: --model is the policy, --reference-model the reference; no gold answer needed), cpmi_implicit (per step the mean of CPMI's soft label on the reference and Implicit PRM's)").choices([...ALL_STEP_METHODS]).default("cpmi"))
      .addOption(new Option("--segment <mode>", "how a solution is cut into steps: lines (one per line or list item), or entropy (a solution written as one paragraph is cut where the model would start a new line; EDU-PRM)").choices(["lines", "entropy"]).default("lines"))
      .option("--quality <q>", "full or fast. full: the templates and sampled negatives above; fast: the first template only, negatives from the solution's own results, nothing sampled (what the editor uses while you type)", byRule("quality"), "full")
      .option("--explain-prompt <step>", "print the exact text the model reads for step N (every template, the gold answer marked, its tokens) instead of scoring", parseIntStrict),
  )).action(async (files: string[], flags: ScoreFlags) => {
    if (flags.explainPrompt != null && flags.method === "implicit") {
      fail(new OptionError("--explain-prompt shows CPMI's answer-cue prompts; --method implicit reads the solution as written, with no prompt to show: drop one of them"));
    }
    let failed = 0;
    const problem = (file: string, message: string): void => {
      failed++;
      report(`${file}: ${message}`);
    };
    // Every file is read before the model loads: a missing, empty or unreadable file is reported in
    // milliseconds, and when none is left the model is not loaded at all.
    const inputs: { file: string; text: string }[] = [];
    for (const file of files) {
      try {
        const text = await readSolutionFile(file, { maxBytes: flags.maxBytes });
        // Without entropy segmentation the steps are known before the model is: a file with none
        // is refused now rather than after the load.
        if (flags.segment === "lines" && parseDocument(text, { fileName: file, format: flags.format }).solutions.every((s) => s.steps.length === 0)) {
          problem(file, NO_STEPS);
          continue;
        }
        inputs.push({ file, text });
      } catch (err) {
        if (!(err instanceof SolutionFileError)) throw err;
        report(err.kind === "too-large" ? `${err.message} (or raise the limit with --max-bytes)` : err.message);
        failed++;
      }
    }
    if (inputs.length === 0) {
      process.exitCode = 1;
      return;
    }

    // No SIGINT/SIGTERM handler, on purpose: `score` writes nothing it would have to finish, and the
    // default action ends the process at once even while JavaScript is busy; a handler would wait
    // for the event loop (test/cliSignals.test.ts).
    let engine: Engine | undefined;
    try {
      engine = await createEngine({ ...engineOptionsFrom(flags), method: flags.method });
      for (const { file, text } of inputs) {
        try {
          const doc = await parseDocumentSegmented(text, {
            fileName: file,
            format: flags.format,
            segmentation: flags.segment as Segmentation,
            backend: engine.backend,
          });
          if (doc.solutions.every((s) => s.steps.length === 0)) {
            problem(file, NO_STEPS);
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
          const scored: DocumentScore = await scoreDocument(scorer, doc, { gold: flags.gold, method: engine.method, mc: engine.mc, implicit: engine.implicit, sourceText: text });
          if (flags.json) process.stdout.write(JSON.stringify(documentJson(file, scored, engine)) + "\n");
          else process.stdout.write(formatDocumentScore(file, scored, engine) + "\n");
          // A score of "—" and status 0 would pass for a checked file in a script.
          if (scored.solutions.every((s) => s.steps.every((st) => st.verdict === "not scored"))) {
            const why = scored.warnings.filter((w) => w.includes("not scored"));
            problem(file, `no step was scored${why.length > 0 ? `: ${why.join("; ")}` : ""}`);
          }
        } catch (err) {
          problem(file, (err as Error).message);
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

const NO_STEPS = `no steps found. Write one step per line after the problem (e.g. "Step 1: ..."), then an answer line such as "The answer is 42."`;
