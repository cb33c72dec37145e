import type { Command } from "commander";
import { readJsonl } from "../../engine/data/jsonl.js";
import { evaluateLabeled, formatEvalReport } from "../../engine/eval/metrics.js";
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
        const records: { scores: number[]; label: number }[] = [];
        const soft: number[][] = [];
        let skipped = 0;
        for await (const item of readJsonl(file)) {
          const v = item.value as Record<string, unknown> | undefined;
          const scores = v?.[flags.scoreField];
          if (item.error != null || !v || !Array.isArray(scores) || typeof v.label !== "number") {
            skipped++;
            if (skipped <= 5) report(`${file}:${item.lineNumber}: ${item.error ?? `no \`${flags.scoreField}\` array or numeric \`label\`; skipped`}`);
            continue;
          }
          records.push({ scores: scores.map((x) => (typeof x === "number" ? x : NaN)), label: v.label });
          soft.push(Array.isArray(v.soft_label) ? v.soft_label.map((x) => (typeof x === "number" ? x : NaN)) : []);
        }
        if (records.length === 0) fail(new Error(`${file} has no records with \`${flags.scoreField}\` scores and a gold \`label\`; label it with \`steplens label\` first`));
        const evalReport = evaluateLabeled(records, { threshold: flags.threshold ?? DEFAULT_CPMI.threshold, probabilityScores: soft });
        if (flags.json) process.stdout.write(JSON.stringify(evalReport, null, 2) + "\n");
        else process.stdout.write(formatEvalReport(evalReport) + "\n");
        if (skipped > 0) report(`${skipped} lines without scores or labels were skipped`);
      } catch (err) {
        fail(err);
      }
    });
}
