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

/**
 * A fixed set of lanes (llama.cpp sequences, server slots) handed out one session at a time; a
 * session that finds none free waits for the next release, first come first served. The most
 * recently released lane goes out first: it holds the freshest prefix cache.
 */
export class LanePool<T> {
  private readonly free: T[];
  private readonly waiting: ((lane: T) => void)[] = [];

  constructor(lanes: readonly T[]) {
    this.free = [...lanes].reverse();
  }

  async acquire(): Promise<T> {
    return this.free.pop() ?? (await new Promise<T>((resolve) => this.waiting.push(resolve)));
  }

  /** Returns a function that gives the lane back once, however often it is called. */
  releaser(lane: T): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next(lane);
      else this.free.push(lane);
    };
  }
}
