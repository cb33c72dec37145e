import type { Command } from "commander";
import { DatasetError } from "../../engine/data/datasetError.js";
import { evaluateLabeledFile } from "../../engine/data/labelDataset.js";
import { formatEvalReport } from "../../engine/eval/metrics.js";
import { DEFAULT_CPMI } from "../../engine/cpmi/scorer.js";
import { parseFloatStrict } from "../engineFlags.js";
import { fail, report } from "../report.js";

interface EvalFlags {
  threshold?: number;
  json?: boolean;
  scoreField: string;
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description("step ROC-AUC, ProcessBench F1 and Wasserstein distance of a labeled JSONL against its gold `label` fields")
    .argument("<labeled>", "output of `steplens label` (records with cpmi, soft_label and a gold `label`)")
    .option("--threshold <p>", "soft-label threshold for the F1 at a fixed threshold", parseFloatStrict)
    .option("--score-field <field>", "per-step score field to rank by", "cpmi")
    .option("--json", "print the report as JSON")
    .action(async (file: string, flags: EvalFlags) => {
      try {
        let skipped = 0;
        const threshold = flags.threshold ?? DEFAULT_CPMI.threshold;
        const evalReport = await evaluateLabeledFile(file, threshold, flags.scoreField, (line, reason) => {
          skipped++;
          if (skipped <= 5) report(`${file}:${line}: ${reason}`);
        });
        if (!evalReport) fail(new DatasetError(`${file} has no records with \`${flags.scoreField}\` scores and a gold \`label\`; label it with \`steplens label\` first`));
        if (flags.json) process.stdout.write(JSON.stringify(evalReport, null, 2) + "\n");
        else process.stdout.write(formatEvalReport(evalReport) + "\n");
        if (skipped > 0) report(`${skipped} lines without scores or labels were skipped`);
      } catch (err) {
        fail(err);
      }
    });
}
