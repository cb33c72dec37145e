// steplens/bestOfN: the editor's side of Best-of-N. The texts compared are the documents the client
// opened, or files inside its workspace folders (fileAccess.ts), nothing else on this machine; the
// scoring and the pick are the engine's one Best-of-N (bon/bestOfN.ts), turned here into wire types.

import type { BestOfNCandidate, BestOfNResult, WireGold } from "../../protocol/index.js";
import type { Engine } from "../engine/engineOptions.js";
import type { ParsedDocument } from "../engine/parse/types.js";
import { BestOfN } from "../engine/bon/bestOfN.js";
import { readSolutionFile } from "../engine/parse/readSolutionFile.js";
import { capSteps, displayName, parseText } from "./documents.js";
import { openedInside, readableFile } from "./fileAccess.js";
import { wireGold, wireRange } from "./wire.js";

export interface OpenText {
  text: string;
  languageId?: string;
}

export interface BestOfNInput {
  uris: readonly string[];
  /** Open documents' text (unsaved edits count). */
  openText: (uri: string) => OpenText | undefined;
  /** Folders (paths) of the client's workspace: a file that is not open is read only from inside one of them. */
  workspaceFolders: readonly string[];
  /** The `steplens.goldAnswer` setting; a file's own gold answer wins. */
  goldSetting: string;
  signal: AbortSignal;
}

const PREVIEW_LINES = 3;

async function load(uri: string, input: BestOfNInput): Promise<{ parsed: ParsedDocument; source: string }> {
  const open = input.openText(uri);
  if (open) return { parsed: parseText(uri, open.text, open.languageId), source: open.text };
  const file = await readableFile(uri, input.workspaceFolders);
  const source = await readSolutionFile(file, { checkOpened: openedInside(file, input.workspaceFolders) });
  return { parsed: parseText(uri, source), source };
}

export async function bestOfN(engine: Engine, input: BestOfNInput): Promise<BestOfNResult> {
  const warnings: string[] = [];
  const loaded: { uri: string; doc: ParsedDocument; source: string }[] = [];
  for (const uri of input.uris) {
    try {
      const { parsed, source } = await load(uri, input);
      const { doc, note } = capSteps(parsed);
      if (note) warnings.push(`${displayName(uri)}: ${note.message}`);
      loaded.push({ uri, doc, source });
    } catch (err) {
      warnings.push(`${displayName(uri)}: ${(err as Error).message}`);
    }
  }
  const picked = await BestOfN.of(engine.scorer).pickDocuments(
    loaded.map((l) => ({ parsed: l.doc, text: l.source })),
    { gold: input.goldSetting, method: engine.method, mc: engine.mc, implicit: engine.implicit, signal: input.signal },
  );
  let gold: WireGold | undefined;
  picked.documents.forEach((scored, k) => {
    gold ??= wireGold(scored.gold, !loaded[k]!.doc.goldAnswer && input.goldSetting !== "");
    for (const w of scored.warnings) warnings.push(`${displayName(loaded[k]!.uri)}: ${w}`);
  });
  const candidates = picked.candidates.map(({ document, solution: s, score }): BestOfNCandidate => {
    const { uri, source } = loaded[document]!;
    const range = s.solution.range;
    const body = source.slice(range.start.offset, range.end.offset);
    const c: BestOfNCandidate = {
      uri,
      solutionIndex: s.solution.index,
      title: s.solution.title ?? (input.uris.length > 1 ? displayName(uri) : `Solution ${s.solution.index + 1}`),
      range: wireRange(range),
      score,
      preview: body.split("\n").filter((l) => l.trim()).slice(0, PREVIEW_LINES).join("\n"),
      text: body,
    };
    if (s.solution.finalAnswer) c.finalAnswer = s.solution.finalAnswer.value;
    return c;
  });
  const result: BestOfNResult = { candidates, best: picked.best, aggregation: engine.scorer.config.aggregation, warnings };
  if (gold) result.gold = gold;
  return result;
}
