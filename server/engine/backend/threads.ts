// How many CPU threads llama.cpp gets when nothing names a count. $STEPLENS_THREADS sets it for every
// StepLens process at once (the CLI, `steplens serve`, the language server an editor starts): the one
// way to share a machine's cores between processes. llama.cpp's threads busy-wait at every barrier, so
// two processes that each take all cores slow down 20x, not 2x (bench/results/threads-oversubscribed).

import os from "node:os";
import { BackendError } from "./types.js";

/** $STEPLENS_THREADS as a count; undefined when unset. A value that is not a positive integer is refused by name. */
function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.STEPLENS_THREADS?.trim();
  if (!raw) return undefined;
  if (!/^[1-9]\d{0,3}$/.test(raw)) {
    throw new BackendError(`STEPLENS_THREADS must be a positive whole number of CPU threads, got "${env.STEPLENS_THREADS}": set it to e.g. 1, or unset it to use all ${os.availableParallelism()} cores`, "backend");
  }
  return Number(raw);
}

/** --threads if given, else $STEPLENS_THREADS, else `fallback` (all cores for a job, one for bench and doctor, half for the language server). */
export function resolveThreads(given: number | undefined, fallback: number = os.availableParallelism(), env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(1, given ?? threadsFromEnv(env) ?? fallback);
}
