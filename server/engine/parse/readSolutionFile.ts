// Reading one solution file from disk, for every front end (the CLI's `score`, the language server's
// Best-of-N over files that are not open, scripts). What cannot be a solution is refused with a
// message that names the file and what to do, in words that fit an editor as well as a terminal;
// `kind` lets a front end add its own hint (the CLI names --max-bytes).
//
// Only regular files are read, and never more than the limit, whatever `stat` says: /dev/zero has
// size 0 and grew `score` past 0.5 GB; a FIFO with no writer blocked the read forever (issue 10). The
// file is opened non-blocking and checked again through its handle, so a path swapped for a FIFO or a
// device between the two checks is refused too.

import { constants } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";

/** Larger files are almost certainly not one written solution; scoring them would take hours. */
export const MAX_SOLUTION_BYTES = 1024 * 1024;

export type SolutionFileProblem = "missing" | "directory" | "not-a-file" | "unreadable" | "too-large" | "empty" | "binary" | "not-utf8";

export class SolutionFileError extends Error {
  constructor(
    message: string,
    readonly kind: SolutionFileProblem,
    readonly file: string,
    /** For "too-large": the limit that was applied, in bytes. */
    readonly limit?: number,
  ) {
    super(message);
    this.name = "SolutionFileError";
  }
}

function size(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${bytes} bytes`;
}

function tooLarge(file: string, what: string, maxBytes: number): SolutionFileError {
  return new SolutionFileError(
    `${file} is ${what}; a solution file is expected to be under ${size(maxBytes)}: split it into one file per problem (a dataset is labeled as JSONL instead)`,
    "too-large",
    file,
    maxBytes,
  );
}

function notAFile(file: string): SolutionFileError {
  return new SolutionFileError(`${file} is not a regular file (a device, pipe or socket); name a Markdown, LaTeX or text file`, "not-a-file", file);
}

function cannotRead(file: string, err: unknown): SolutionFileError {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return new SolutionFileError(`${file} does not exist; check the path`, "missing", file);
    case "ENOTDIR":
      return new SolutionFileError(`${file} does not exist: a part of its path is a file, not a folder`, "missing", file);
    case "ELOOP":
      return new SolutionFileError(`${file} cannot be read: it is a symbolic link that leads back to itself; point it at the solution file`, "unreadable", file);
    case "EACCES":
    case "EPERM":
      return new SolutionFileError(`${file} cannot be read: permission denied`, "unreadable", file);
    case "EISDIR":
      return new SolutionFileError(`${file} is a folder; name the solution files inside it`, "directory", file);
    default:
      return new SolutionFileError(`${file} cannot be read: ${(err as Error).message}`, "unreadable", file);
  }
}

/** At most `limit + 1` bytes of the open file: one byte more than allowed tells that it is too large. */
async function readCapped(handle: FileHandle, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  while (total <= limit) {
    const want = Math.min(64 * 1024, limit + 1 - total);
    const buf = Buffer.alloc(want);
    const { bytesRead } = await handle.read(buf, 0, want, null);
    if (bytesRead === 0) break;
    chunks.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
    total += bytesRead;
  }
  return Buffer.concat(chunks, total);
}

export interface ReadSolutionOptions {
  /** Refuse files larger than this many bytes (default MAX_SOLUTION_BYTES). */
  maxBytes?: number;
  /**
   * Called with the opened file before a byte is read; what it throws is thrown as it is. A caller that
   * checked the path first (the language server's workspace check) checks here what was opened, since
   * the path can lead elsewhere by the time it is opened.
   */
  checkOpened?: (handle: FileHandle) => Promise<void>;
}

/** Reads a solution file as UTF-8 text, refusing with a clear message what cannot be a solution. */
export async function readSolutionFile(file: string, options: ReadSolutionOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? MAX_SOLUTION_BYTES;
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    throw cannotRead(file, err);
  }
  if (info.isDirectory()) throw new SolutionFileError(`${file} is a folder; name the solution files inside it`, "directory", file);
  if (!info.isFile()) throw notAFile(file);
  if (info.size > maxBytes) throw tooLarge(file, size(info.size), maxBytes);

  let handle: FileHandle;
  try {
    // O_NONBLOCK: should the path have become a FIFO since the stat, opening it must not wait for a writer.
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw cannotRead(file, err);
  }
  let buf: Buffer;
  try {
    const info = await handle.stat().catch((err: unknown) => {
      throw cannotRead(file, err);
    });
    if (!info.isFile()) throw notAFile(file);
    // Its refusal is the caller's own words: thrown as it is.
    await options.checkOpened?.(handle);
    buf = await readCapped(handle, maxBytes).catch((err: unknown) => {
      throw cannotRead(file, err);
    });
  } finally {
    await handle.close();
  }
  if (buf.length > maxBytes) throw tooLarge(file, `larger than ${size(maxBytes)}`, maxBytes);
  if (buf.includes(0)) throw new SolutionFileError(`${file} looks binary (it contains NUL bytes), not a Markdown, LaTeX or text solution`, "binary", file);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new SolutionFileError(`${file} is not valid UTF-8 text; save it as UTF-8`, "not-utf8", file);
  }
  if (text.trim() === "") {
    throw new SolutionFileError(
      `${file} is ${buf.length === 0 ? "empty" : "blank"}: write the problem ("Question: ..."), then one step per line ("Step 1: ...") and an answer line such as "The answer is 42."`,
      "empty",
      file,
    );
  }
  return text;
}
