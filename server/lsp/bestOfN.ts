// steplens/bestOfN: the editor's side of Best-of-N. Which texts a client may have compared (the
// documents it opened, or files inside its workspace folders, nothing else on this machine) and the
// wire form of the answer; the scoring and the pick are the engine's one Best-of-N (bon/bestOfN.ts).

import { realpath } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BestOfNCandidate, BestOfNResult, WireGold } from "../../protocol/index.js";
import type { Engine } from "../engine/engineOptions.js";
import type { ParsedDocument } from "../engine/parse/types.js";
import { BestOfN } from "../engine/bon/bestOfN.js";
// The one bounded solution-file reader (moving into the engine; re-point this line with it).
import { readSolutionFile } from "../cli/readSolutionFile.js";
import { capSteps, displayName, parseText } from "./documents.js";
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

/** The folders of an `initialize` request as paths: every workspace folder, else the root. */
export function workspaceFolderPaths(params: { workspaceFolders?: readonly { uri: string }[] | null; rootUri?: string | null; rootPath?: string | null }): string[] {
  const uris = params.workspaceFolders?.length ? params.workspaceFolders.map((f) => f.uri) : params.rootUri ? [params.rootUri] : [];
  const paths = uris.filter((u) => u.startsWith("file:")).map((u) => fileURLToPath(u));
  if (paths.length === 0 && params.rootPath) paths.push(params.rootPath);
  return paths.map((p) => path.resolve(p));
}

function inside(folder: string, file: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

/**
 * The file to read for `uri`, or an error when the client may not have it. A request names any URI
 * it likes, and the answer carries the text: serving files the user never opened nor keeps in the
 * workspace would hand any file this process can read to whoever speaks to the server. The path is
 * checked as written before anything on disk is touched (so the answer says nothing about files
 * outside), then again after symbolic links are resolved (a link in the workspace to /etc/shadow).
 */
async function readableFile(uri: string, folders: readonly string[]): Promise<string> {
  const refused = new Error("is not open in the editor and not inside a workspace folder; open it to compare it");
  if (!uri.startsWith("file:")) throw new Error("is not open in the editor; open it to compare it");
  let file: string;
  try {
    file = path.resolve(fileURLToPath(uri));
  } catch {
    throw refused;
  }
  if (!folders.some((f) => inside(f, file))) throw refused;
  const real = await realpath(file).catch(() => file);
  const realFolders = await Promise.all(folders.map((f) => realpath(f).catch(() => f)));
  if (!realFolders.some((f) => inside(f, real))) throw refused;
  return real;
}

async function load(uri: string, input: BestOfNInput): Promise<{ parsed: ParsedDocument; source: string }> {
  const open = input.openText(uri);
  if (open) return { parsed: parseText(uri, open.text, open.languageId), source: open.text };
  const source = await readSolutionFile(await readableFile(uri, input.workspaceFolders));
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
    loaded.map((l) => l.doc),
    { gold: input.goldSetting, method: engine.method, mc: engine.mc, signal: input.signal },
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
