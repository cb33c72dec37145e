import { OptionError } from "../engine/engineOptions.js";
import { BackendError } from "../engine/backend/types.js";
import { UnknownTemplateError } from "../engine/cpmi/templates.js";
import { DatasetError } from "../engine/data/jsonl.js";

/** A message for the person at the terminal: on stderr, prefixed so it is clear who speaks. */
export function report(message: string): void {
  process.stderr.write(`steplens: ${message}\n`);
}

/** Ends the command with a message; exit code 2 for bad usage, 1 for everything else. */
export function fail(err: unknown): never {
  const known = err instanceof OptionError || err instanceof BackendError || err instanceof UnknownTemplateError || err instanceof DatasetError;
  report(known ? (err).message : `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(err instanceof OptionError || err instanceof UnknownTemplateError ? 2 : 1);
}
