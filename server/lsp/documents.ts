// What the server knows about one open document, and how a document's text becomes the parsed
// form the engine scores.

import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DocumentScores } from "../../protocol/index.js";
import { parseDocument, type DocumentFormat } from "../engine/parse/index.js";
import type { ParsedDocument } from "../engine/parse/types.js";
import type { ExtraNote } from "./diagnostics.js";
import { wireRange } from "./wire.js";

/** Languages the server attaches to; "steps" is a language a client may define for plain step files. */
export const LANGUAGES = ["markdown", "latex", "tex", "plaintext", "steps"] as const;

/** A check costs model time per step; a pasted dataset must not stall the queue for minutes. */
export const MAX_STEPS_PER_CHECK = 200;

export interface DocState {
  scores?: DocumentScores;
  /** `${version}:${settings generation}:${gold}:${quality}` the scores were computed for. */
  scoredFor?: string;
  /** The next check was asked for by an edit (steplens.check.quality auto scores it fast). */
  typing?: boolean;
  notes: ExtraNote[];
  /** Step keys the user chose to ignore; kept for the session, across edits. */
  ignored: Set<string>;
  parsed?: { version: number; doc: ParsedDocument };
  /** The last version the server reacted to, so the change event that follows an open is not taken for an edit. */
  seenVersion?: number;
}

export function fileNameOf(uri: string): string {
  try {
    const u = new URL(uri);
    return u.protocol === "file:" ? fileURLToPath(u) : decodeURIComponent(u.pathname);
  } catch {
    return uri;
  }
}

export function displayName(uri: string): string {
  return path.basename(fileNameOf(uri)) || uri;
}

/** The editor's language wins over the file extension: an untitled buffer has no extension. */
export function formatOf(languageId: string | undefined): DocumentFormat | undefined {
  switch (languageId) {
    case "markdown":
      return "markdown";
    case "latex":
    case "tex":
      return "latex";
    case "plaintext":
    case "steps":
      return "plain";
    default:
      return undefined;
  }
}

export function parseText(uri: string, text: string, languageId?: string): ParsedDocument {
  return parseDocument(text, { fileName: fileNameOf(uri), format: formatOf(languageId) });
}

/** Keeps the first MAX_STEPS_PER_CHECK steps; says where the rest begins. */
export function capSteps(doc: ParsedDocument, max = MAX_STEPS_PER_CHECK): { doc: ParsedDocument; note?: ExtraNote } {
  const total = doc.solutions.reduce((n, s) => n + s.steps.length, 0);
  if (total <= max) return { doc };
  let budget = max;
  let firstDropped: ExtraNote["range"];
  const solutions = doc.solutions.map((s) => {
    const kept = s.steps.slice(0, Math.max(0, budget));
    if (kept.length < s.steps.length && !firstDropped) firstDropped = wireRange(s.steps[kept.length]!.textRange);
    budget -= kept.length;
    return { ...s, steps: kept };
  });
  return {
    doc: { ...doc, solutions },
    note: {
      message: `StepLens scores at most ${max} steps per check: the ${total - max} steps from here on were not scored (split the file to score them)`,
      range: firstDropped,
    },
  };
}
