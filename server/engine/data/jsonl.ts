// Dataset input that survives real data: a file is streamed line by line, so its size does not
// matter, and a malformed line is reported with its line number instead of ending the run.
// The CLI imports all dataset I/O from here.

import { open, type FileHandle } from "node:fs/promises";
import { createInterface } from "node:readline";
import { DatasetError, describeFsError } from "./datasetError.js";

export { DatasetError } from "./datasetError.js";
export { validateProcessBenchRecord, type ProcessBenchRecord, type ValidatedRecord } from "./processBenchRecord.js";
export { ResumableJsonlWriter, type WriterOptions } from "./resumableWriter.js";

export interface JsonlItem {
  /** 1-based, counting blank lines too, as an editor shows it. */
  lineNumber: number;
  /** The line without its line ending. */
  raw: string;
  value?: unknown;
  /** Set instead of `value` when the line is not JSON; it does not repeat the line number. */
  error?: string;
}

export interface ReadJsonlOptions {
  /** Throw a DatasetError (naming file and line) at the first malformed line instead of yielding it. */
  strict?: boolean;
}

const BOM = "\uFEFF";

/** Only what JSON itself counts as whitespace; a line of other characters is reported, not skipped. */
function isBlank(line: string): boolean {
  return /^[ \t\r]*$/.test(line);
}

async function openDataset(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    throw new DatasetError(`cannot read dataset ${path}: ${describeFsError(err)}; check the path`);
  }
  // Opening a directory succeeds on Linux; reading it would fail later with a vaguer EISDIR.
  if ((await handle.stat()).isDirectory()) {
    await handle.close();
    throw new DatasetError(`cannot read dataset ${path}: it is a directory, not a JSONL file; check the path`);
  }
  return handle;
}

/**
 * Streams a JSONL file: one item per non-blank line, in order. CRLF and a missing final newline
 * are fine (a lone "\r" also ends a line, as readline and editors have it); a UTF-8 byte-order
 * mark is dropped. A missing or unreadable file throws a DatasetError
 * naming the path (on the first iteration); a bad line never throws unless `strict`.
 */
export async function* readJsonl(path: string, options: ReadJsonlOptions = {}): AsyncGenerator<JsonlItem, void, undefined> {
  const handle = await openDataset(path);
  const input = handle.createReadStream({ encoding: "utf8" });
  // crlfDelay: a "\r\n" split across two chunks is still one line ending.
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    let lineNumber = 0;
    for await (const line of lines) {
      lineNumber++;
      const raw = lineNumber === 1 && line.startsWith(BOM) ? line.slice(1) : line;
      if (isBlank(raw)) continue;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (err) {
        const error = `not valid JSON: ${(err as Error).message}`;
        if (options.strict) throw new DatasetError(`${path} line ${lineNumber}: ${error}`);
        yield { lineNumber, raw, error };
        continue;
      }
      yield { lineNumber, raw, value };
    }
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(`cannot read dataset ${path}: ${describeFsError(err)}`);
  } finally {
    // Also runs when the caller stops early (break, --limit): release the file at once.
    lines.close();
    input.destroy();
  }
}

const NEWLINE = 0x0a;

/**
 * Number of items `readJsonl` will yield (its non-blank lines), for progress totals. Scans bytes
 * without decoding or parsing, in constant memory.
 */
export async function countLines(path: string): Promise<number> {
  const handle = await openDataset(path);
  const input = handle.createReadStream();
  let count = 0;
  let lineHasContent = false;
  let atStart = true;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let from = 0;
      if (atStart) {
        atStart = false;
        if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) from = 3; // BOM
      }
      for (let i = from; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === NEWLINE) {
          if (lineHasContent) count++;
          lineHasContent = false;
        } else if (b !== 0x20 && b !== 0x09 && b !== 0x0d) {
          lineHasContent = true;
        }
      }
    }
  } catch (err) {
    throw new DatasetError(`cannot read dataset ${path}: ${describeFsError(err)}`);
  } finally {
    input.destroy();
  }
  return lineHasContent ? count + 1 : count;
}
