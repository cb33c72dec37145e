import { createWriteStream } from "node:fs";
import type { Command } from "commander";
import { BestOfN, bonVariant, BON_VARIANTS, DEFAULT_BON_VARIANT, isImplicitVariant, needsPair, type BonInputRecord, type BonVariant } from "../../engine/bon/bestOfN.js";
import { createEngine, OptionError, type Engine } from "../../engine/engineOptions.js";
import { readJsonl } from "../../engine/data/jsonl.js";
import { addEngineFlags, addImplicitFlags, engineOptionsFrom, type EngineFlagValues } from "../engineFlags.js";
import { fail, report } from "../report.js";

interface BonFlags extends EngineFlagValues {
  output: string;
  method: string;
  useGold?: boolean;
}

export function registerBon(program: Command): void {
  addImplicitFlags(addEngineFlags(
    program
      .command("bon")
      .description("pick the best of N candidate solutions per record; works without a gold answer (the model supplies a pseudo-gold one)")
      .argument("<input>", "JSONL: one {id, problem, candidates: [{text}]} record per line (gold_answer optional)")
      .requiredOption("-o, --output <file>", "output JSONL: each record plus `scores` (one per candidate) and `pick` (index)")
      .option("--method <name>", `how candidates are scored: ${BON_VARIANTS.filter((v) => v.target !== "gold").map((v) => v.name).join(", ")}`, DEFAULT_BON_VARIANT)
      .option("--use-gold", "score against the record's gold_answer where it has one, instead of the model's pseudo-gold (the implicit methods read no answer)"),
  )).action(async (input: string, flags: BonFlags) => {
    let engine: Engine | undefined;
    try {
      let variant: BonVariant;
      try {
        variant = bonVariant(flags.method);
      } catch (err) {
        throw new OptionError((err as Error).message);
      }
      // The implicit methods score with a model pair: --model is then the policy (with
      // cpmi+implicit, CPMI runs on the reference, see engineOptions.ts).
      const implicit = isImplicitVariant(variant);
      const method = implicit ? "implicit" : needsPair(variant) ? "cpmi_implicit" : undefined;
      engine = await createEngine({ ...engineOptionsFrom(flags), ...(method ? { method } : {}) });
      const bon = BestOfN.of(engine.scorer);
      const out = createWriteStream(flags.output);
      let n = 0;
      let skipped = 0;
      let judged = 0;
      let right = 0;
      for await (const item of readJsonl(input)) {
        const v = item.value as BonInputRecord | undefined;
        if (item.error != null || !v || !Array.isArray(v.candidates) || v.candidates.length === 0 || !v.candidates.every((c) => typeof c?.text === "string")) {
          skipped++;
          report(`${input}:${item.lineNumber}: ${item.error ?? "a record needs `candidates: [{text}]`"}; skipped`);
          continue;
        }
        const useGold = flags.useGold && v.gold_answer != null;
        const chosen = useGold ? { ...variant, target: "gold" as const } : { ...variant, target: "pseudo-gold" as const };
        const res = await bon.pick(v, chosen, { implicit: engine.implicit });
        const record = {
          ...v,
          scores: res.scores.map((s) => (Number.isFinite(s) ? Number(s.toFixed(6)) : null)),
          pick: res.pick,
          bon: implicit
            ? { method: variant.name, target: null, target_source: "none" }
            : { method: variant.name, target: res.target.value, target_source: res.target.source === "record" ? "gold" : "pseudo-gold", agreement: res.target.agreement },
        };
        out.write(JSON.stringify(record) + "\n");
        n++;
        // Records that say which candidates are right (dev sets) give the accuracy of the picks.
        const picked = (v.candidates[res.pick] as { is_correct?: unknown } | undefined)?.is_correct;
        if (typeof picked === "boolean") {
          judged++;
          if (picked) right++;
        }
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      const accuracy = judged > 0 ? ` · right pick (is_correct) on ${right}/${judged} = ${(right / judged).toFixed(3)}` : "";
      report(`picked the best of N for ${n} records (${variant.name})${skipped ? `, ${skipped} lines skipped` : ""}${accuracy} → ${flags.output}`);
    } catch (err) {
      await engine?.dispose();
      fail(err);
    }
    await engine?.dispose();
  });
}
