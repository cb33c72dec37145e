// Whether two paths name one file. Comparing path strings misses a symlink, a hard link, `./x` vs
// `x`, or a case-insensitive disk; the device and inode numbers do not (bigint: Windows file ids
// exceed 2^53). `label x.jsonl -o x.jsonl --overwrite` truncated its own input to 0 bytes.

import { stat } from "node:fs/promises";
import { DatasetError } from "./datasetError.js";

/** True when both exist and are the same file; a path that does not exist yet is no file's twin. */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a, { bigint: true }).catch(() => undefined), stat(b, { bigint: true }).catch(() => undefined)]);
  return sa != null && sb != null && sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * Refuses an output that is one of the inputs, before anything is opened for writing: writing it
 * would destroy what is being read. `what` names the output for the message (e.g. "the output").
 */
export async function refuseSameFile(input: string, output: string, what = "the output"): Promise<void> {
  if (!(await sameFile(input, output))) return;
  const same = input === output ? "" : ` (${output} and ${input} are the same file, through a link)`;
  throw new DatasetError(
    `${what} ${output} is the input file itself${same}: writing it would destroy the records being read. ` + `Name another file, e.g. ${suggestOutput(input)}`,
  );
}

function suggestOutput(input: string): string {
  return /\.jsonl$/i.test(input) ? input.replace(/\.jsonl$/i, ".labeled.jsonl") : `${input}.labeled.jsonl`;
}
