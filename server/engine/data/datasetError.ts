// A problem with the user's files (missing, unreadable, damaged), as opposed to a bug: the CLI
// can print its message alone, without a stack trace.

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatasetError";
  }
}

/** "ENOENT: no such file or directory" from Node's "ENOENT: no such file or directory, open '/x'". */
export function describeFsError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^([A-Z][A-Z0-9_]+): ([^,]+)/.exec(message);
  return m ? `${m[1]}: ${m[2]}` : message;
}
