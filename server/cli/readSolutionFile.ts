import { readFile, stat } from "node:fs/promises";

/** Larger files are almost certainly not one written solution; scoring them would take hours. */
export const MAX_SOLUTION_BYTES = 1024 * 1024;

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** Reads a solution file, refusing with a clear message what cannot be a solution. */
export async function readSolutionFile(file: string, maxBytes = MAX_SOLUTION_BYTES): Promise<string> {
  let size: number;
  try {
    const s = await stat(file);
    if (s.isDirectory()) throw new InputError(`${file} is a directory; name the solution files inside it`);
    size = s.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if (size > maxBytes) {
    throw new InputError(
      `${file} is ${(size / 1024 / 1024).toFixed(1)} MB; a solution file is expected to be under ${(maxBytes / 1024 / 1024).toFixed(0)} MB ` +
        `(use --max-bytes to raise the limit, or split the file; for datasets use \`steplens label\`)`,
    );
  }
  const buf = await readFile(file);
  if (buf.includes(0)) throw new InputError(`${file} looks binary (it contains NUL bytes), not a Markdown, LaTeX or text solution`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new InputError(`${file} is not valid UTF-8 text; save it as UTF-8`);
  }
}
