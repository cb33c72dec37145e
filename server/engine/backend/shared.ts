// Small pieces every backend needs the same way: one copy, so a fix reaches all of them.

import { BackendError } from "./types.js";

/** Tokens two sequences share from the start: where a cached prefix ends and new work begins. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** A wait between retries that ends early, as a cancellation, when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new BackendError("scoring was cancelled", "cancelled"));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new BackendError("scoring was cancelled", "cancelled"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
