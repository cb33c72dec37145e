// An output file that only ever holds whole lines, so a labeling run killed at any moment can be
// resumed without losing or duplicating a record: each record is one append of one complete line,
// and reopening cuts off whatever a kill mid-write left behind.

import { closeSync, createReadStream, fsyncSync, openSync, writeSync } from "node:fs";
import { stat, truncate } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DatasetError, describeFsError } from "./datasetError.js";

export interface WriterOptions {
  /** Keep the complete lines already in the file and append after them. */
  resume: boolean;
  /** Start empty even when `resume` is set (the CLI's --overwrite). */
  overwrite?: boolean;
  /** Count the values of this field over the lines kept (see ResumableJsonlWriter.tally). */
  tally?: string;
}

/** What reopening found at the end of the file and cut off. */
export interface CutTail {
  /** 1-based line number where the cut starts. */
  lineNumber: number;
  bytes: number;
  reason: string;
}

interface Scan {
  doneIds: Set<string>;
  tally: Map<string | undefined, number>;
  /** Lines that stay. */
  lines: number;
  keepBytes: number;
  cut?: CutTail;
}

const NEWLINE = 0x0a;

function isBlank(line: string): boolean {
  return /^[ \t\r]*$/.test(line);
}

function idOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === "string" || (typeof id === "number" && Number.isFinite(id)) ? String(id) : undefined;
}

/**
 * Reads an existing output in constant memory (byte offsets, not decoded text, since truncation is
 * in bytes). Only the tail may be damaged: a killed write leaves at most one partial line, at the
 * end. A bad line with good lines after it came from somewhere else, and is left for a person.
 */
async function scan(path: string, field?: string): Promise<Scan> {
  const doneIds = new Set<string>();
  const tally = new Map<string | undefined, number>();
  let lines = 0;
  let keepBytes = 0;
  let lineNumber = 0;
  let offset = 0; // bytes consumed so far
  let pending: Buffer[] = [];
  let broken: { lineNumber: number; start: number; reason: string } | undefined;

  const onLine = (bytes: Buffer, start: number): void => {
    lineNumber++;
    const text = bytes.toString("utf8");
    if (isBlank(text)) {
      if (!broken) keepBytes = start + bytes.length + 1;
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      if (broken) throw middleDamage(path, broken.lineNumber, broken.reason);
      broken = { lineNumber, start, reason: `not valid JSON: ${(err as Error).message}` };
      return;
    }
    if (broken) throw middleDamage(path, broken.lineNumber, broken.reason);
    const id = idOf(value);
    if (id !== undefined) doneIds.add(id);
    if (field !== undefined) {
      const v = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[field] : undefined;
      const key = typeof v === "string" ? v : undefined;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
    lines++;
    keepBytes = start + bytes.length + 1;
  };

  const input = createReadStream(path);
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let from = 0;
      for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) {
        const piece = chunk.subarray(from, i);
        const line = pending.length ? Buffer.concat([...pending, piece]) : piece;
        onLine(line, offset + from - (line.length - piece.length));
        pending = [];
        from = i + 1;
      }
      if (from < chunk.length) pending.push(chunk.subarray(from));
      offset += chunk.length;
    }
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(`cannot resume ${path}: ${describeFsError(err)}`);
  } finally {
    input.destroy();
  }

  const size = offset;
  let cut: CutTail | undefined;
  if (broken) {
    cut = { lineNumber: broken.lineNumber, bytes: size - broken.start, reason: broken.reason };
  } else if (keepBytes < size) {
    const tail = Buffer.concat(pending).toString("utf8");
    if (isBlank(tail)) keepBytes = size; // trailing spaces are harmless; nothing was cut off
    else cut = { lineNumber: lineNumber + 1, bytes: size - keepBytes, reason: "the last line has no line ending (a write cut off)" };
  }
  return { doneIds, tally, lines, keepBytes: cut ? size - cut.bytes : keepBytes, cut };
}

function middleDamage(path: string, lineNumber: number, reason: string): DatasetError {
  return new DatasetError(
    `cannot resume ${path}: line ${lineNumber} is damaged (${reason}) but lines after it are fine, so it is not a cut-off write; ` +
      `fix or delete that line, or start afresh with --overwrite`,
  );
}

/** A missing folder or a folder in place of the file, said plainly before anything is written. */
export async function checkWritablePlace(path: string): Promise<void> {
  const dir = dirname(resolve(path));
  const dirStat = await stat(dir).catch(() => undefined);
  if (!dirStat) throw new DatasetError(`cannot write ${path}: the folder ${dir} does not exist; create it first`);
  if (!dirStat.isDirectory()) throw new DatasetError(`cannot write ${path}: ${dir} is not a folder`);
  const fileStat = await stat(path).catch(() => undefined);
  if (fileStat?.isDirectory()) throw new DatasetError(`cannot write ${path}: it is a folder; name a file`);
}

export class ResumableJsonlWriter {
  private fd: number | undefined;

  private constructor(
    fd: number,
    readonly path: string,
    /** Ids of the complete lines found at open; records written since are not added. */
    readonly doneIds: Set<string>,
    /** Complete lines kept from an earlier run. */
    readonly resumedLines: number,
    /** What was cut off the end of the file at open, if anything. */
    readonly cut: CutTail | undefined,
    /** With the `tally` option: how many kept lines carry each string value of the field (undefined: none). */
    readonly tally: ReadonlyMap<string | undefined, number>,
  ) {
    this.fd = fd;
  }

  /**
   * With `resume` (and no `overwrite`), keeps every complete line of an existing file and cuts a
   * damaged last line; otherwise the file starts empty. A missing folder, a folder in place of the
   * file, or a damaged line in the middle throw a DatasetError.
   */
  static async open(path: string, options: WriterOptions): Promise<ResumableJsonlWriter> {
    await checkWritablePlace(path);
    const resume = options.resume && !options.overwrite;
    let found: Scan = { doneIds: new Set(), tally: new Map(), lines: 0, keepBytes: 0 };
    if (resume && (await stat(path).catch(() => undefined))) {
      found = await scan(path, options.tally);
      if (found.cut) {
        try {
          await truncate(path, found.keepBytes);
        } catch (err) {
          throw new DatasetError(`cannot resume ${path}: cutting off its damaged last line failed: ${describeFsError(err)}`);
        }
      }
    }
    let fd: number;
    try {
      // "a": O_APPEND, so each write lands at the current end even if something else appended.
      fd = openSync(path, resume ? "a" : "w");
    } catch (err) {
      throw new DatasetError(`cannot write ${path}: ${describeFsError(err)}`);
    }
    return new ResumableJsonlWriter(fd, path, found.doneIds, found.lines, found.cut, found.tally);
  }

  /**
   * Appends one record as one line, in one write call (a regular file takes it whole), so a kill
   * between calls leaves only complete lines and a kill during one at most a partial last line.
   */
  write(record: unknown): void {
    if (this.fd === undefined) throw new DatasetError(`cannot write ${this.path}: the writer is closed`);
    const json = JSON.stringify(record);
    if (json === undefined) throw new TypeError(`cannot write ${typeName(record)} as a JSON line`);
    const bytes = Buffer.from(json + "\n", "utf8");
    let written = 0;
    try {
      // A short write is rare (disk full, signals) but must not leave the rest unwritten.
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
    } catch (err) {
      throw new DatasetError(`cannot write ${this.path}: ${describeFsError(err)}`);
    }
  }

  /** Flushes to disk and closes; a second call does nothing. Synchronous inside: a promise for the callers that await it. */
  close(): Promise<void> {
    if (this.fd === undefined) return Promise.resolve();
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
    } catch {
      // Some targets (pipes, /dev/stdout) cannot be synced; the data is already written.
    }
    closeSync(fd);
    return Promise.resolve();
  }
}

function typeName(v: unknown): string {
  return v === undefined ? "undefined" : typeof v;
}
