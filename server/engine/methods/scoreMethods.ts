// One document scored by several step methods at once (the editor's steplens.methods): the first
// method's result is what verdicts, diagnostics and scores show, the others are set beside it. Each
// method goes through scoreDocument as it would alone, so a method's numbers do not depend on what
// it is shown with; CPMI's memo (cpmi/scorer.ts) and the memoised pseudo-gold answer make the CPMI
// part shared by cpmi, mc and the merges cost once.

import type { Engine } from "../engineOptions.js";
import type { ParsedDocument } from "../parse/types.js";
import { scoreDocument, type DocumentScore, type ScoreDocumentOptions } from "../scoreDocument.js";
import type { StepMethod } from "./stepMethods.js";

export interface MethodScore {
  method: StepMethod;
  scored: DocumentScore;
}

export type MethodsOptions = Omit<ScoreDocumentOptions, "method" | "mc" | "implicit">;

/** The engine's methods, `engine.method` first; progress counts every method's steps. */
export async function scoreDocumentMethods(engine: Pick<Engine, "scorer" | "method" | "methods" | "mc" | "implicit">, doc: ParsedDocument, options: MethodsOptions = {}): Promise<MethodScore[]> {
  const methods = engine.methods ?? [engine.method];
  const out: MethodScore[] = [];
  let offset = 0;
  for (const method of methods) {
    const scored = await scoreDocument(engine.scorer, doc, {
      ...options,
      method,
      mc: engine.mc,
      implicit: engine.implicit,
      onProgress: options.onProgress && ((done, total) => options.onProgress!(offset + done, total * methods.length)),
    });
    offset += doc.solutions.reduce((n, s) => n + s.steps.length, 0);
    out.push({ method, scored });
  }
  return out;
}
