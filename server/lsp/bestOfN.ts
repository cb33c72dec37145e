// Best-of-N over candidate solutions: every solution of every named document is scored and the one
// with the highest aggregated score wins; ties go to the first, so the pick is stable.

import { fileURLToPath } from "node:url";
import type { BestOfNCandidate, BestOfNResult, WireGold } from "../../protocol/index.js";
import type { Engine } from "../engine/engineOptions.js";
import type { ParsedDocument } from "../engine/parse/types.js";
import { scoreDocument } from "../engine/scoreDocument.js";
import { readSolutionFile } from "../engine/parse/readSolutionFile.js";
import { capSteps, displayName, parseText } from "./documents.js";
import { wireGold, wireRange } from "./wire.js";

export interface OpenText {
  text: string;
  languageId?: string;
}

export interface BestOfNInput {
  uris: readonly string[];
  /** Open documents' text (unsaved edits count); anything else is read from disk. */
  openText: (uri: string) => OpenText | undefined;
  /** The `steplens.goldAnswer` setting; a file's own gold answer wins. */
  goldSetting: string;
  signal: AbortSignal;
}

const PREVIEW_LINES = 3;

async function load(uri: string, input: BestOfNInput): Promise<{ parsed: ParsedDocument; source: string }> {
  const open = input.openText(uri);
  if (open) return { parsed: parseText(uri, open.text, open.languageId), source: open.text };
  if (!uri.startsWith("file:")) throw new Error(`${uri} is neither open nor a file on disk`);
  const source = await readSolutionFile(fileURLToPath(uri));
  return { parsed: parseText(uri, source), source };
}

/** The best index by score; -1 when nothing was scored. Strictly greater keeps the first of equals. */
export function pickBest(scores: readonly (number | null)[]): number {
  let best = -1;
  scores.forEach((s, i) => {
    if (s != null && (best < 0 || s > scores[best]!)) best = i;
  });
  return best;
}

export async function bestOfN(engine: Engine, input: BestOfNInput): Promise<BestOfNResult> {
  const candidates: BestOfNCandidate[] = [];
  const warnings: string[] = [];
  let gold: WireGold | undefined;
  for (const uri of input.uris) {
    let parsed: ParsedDocument;
    let source: string;
    try {
      ({ parsed, source } = await load(uri, input));
    } catch (err) {
      warnings.push(`${displayName(uri)}: ${(err as Error).message}`);
      continue;
    }
    const { doc, note } = capSteps(parsed);
    if (note) warnings.push(`${displayName(uri)}: ${note.message}`);
    const useSetting = !doc.goldAnswer && input.goldSetting !== "";
    const scored = await scoreDocument(engine.scorer, doc, { gold: useSetting ? input.goldSetting : undefined, signal: input.signal, method: engine.method, mc: engine.mc });
    gold ??= wireGold(scored.gold, useSetting);
    for (const w of scored.warnings) warnings.push(`${displayName(uri)}: ${w}`);
    for (const s of scored.solutions) {
      const range = s.solution.range;
      const body = source.slice(range.start.offset, range.end.offset);
      const c: BestOfNCandidate = {
        uri,
        solutionIndex: s.solution.index,
        title: s.solution.title ?? (input.uris.length > 1 ? displayName(uri) : `Solution ${s.solution.index + 1}`),
        range: wireRange(range),
        score: Number.isFinite(s.result.score) ? s.result.score : null,
        preview: body.split("\n").filter((l) => l.trim()).slice(0, PREVIEW_LINES).join("\n"),
        text: body,
      };
      if (s.solution.finalAnswer) c.finalAnswer = s.solution.finalAnswer.value;
      candidates.push(c);
    }
  }
  const result: BestOfNResult = { candidates, best: pickBest(candidates.map((c) => c.score)), aggregation: engine.scorer.config.aggregation, warnings };
  if (gold) result.gold = gold;
  return result;
}
