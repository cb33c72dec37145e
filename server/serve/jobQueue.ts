// The bounded work queue of `steplens serve`. At most `concurrency` jobs run (one per backend lane:
// more would only wait for a lane inside the engine, invisible to the limits), at most `maxWaiting`
// wait; beyond that a request is refused at once with 429 and a Retry-After, instead of piling up
// latency nobody asked for. A waiting job whose client goes away leaves the queue; a running one
// gets its AbortSignal fired, which the engine checks between model calls.

import { HttpError } from "./http.js";

export interface QueueStats {
  concurrency: number;
  max_waiting: number;
  running: number;
  waiting: number;
  accepted: number;
  completed: number;
  failed: number;
  /** Jobs whose client went away (waiting or running). */
  cancelled: number;
  /** Refused with 429. */
  rejected: number;
  /** Failed with 503 because the server shut down before they could finish. */
  shut_down: number;
}

interface Waiter {
  start: () => void;
  fail: (err: Error) => void;
}

export class JobQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly counts = { accepted: 0, completed: 0, failed: 0, cancelled: 0, rejected: 0, shut_down: 0 };
  /** Durations of the last RECENT jobs that ran to completion, for the Retry-After estimate. */
  private readonly recentMs: number[] = [];
  /** When each running job started. */
  private readonly runningSince: number[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  stats(): QueueStats {
    return { concurrency: this.concurrency, max_waiting: this.maxWaiting, running: this.running, waiting: this.waiting.length, ...this.counts };
  }

  /**
   * Runs `job` when a slot is free. `signal` is the request's (client gone or server shutting down);
   * the job receives it to pass on to the engine.
   */
  async run<T>(signal: AbortSignal, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) throw shuttingDown();
    if (this.running >= this.concurrency && this.waiting.length >= this.maxWaiting) {
      this.counts.rejected++;
      const seconds = this.retryAfterSeconds();
      throw new HttpError(429, "queue-full", `the server is busy: ${this.running} jobs running and ${this.waiting.length} waiting (--max-queue ${this.maxWaiting}); retry after ${seconds} s`, {
        "retry-after": String(seconds),
      });
    }
    this.counts.accepted++;
    if (this.running >= this.concurrency) await this.wait(signal);
    else this.running++;
    const started = Date.now();
    this.runningSince.push(started);
    try {
      if (signal.aborted) throw new JobCancelled();
      const result = await job(signal);
      this.counts.completed++;
      this.recentMs.push(Date.now() - started);
      if (this.recentMs.length > RECENT) this.recentMs.shift();
      return result;
    } catch (err) {
      if (signal.aborted) {
        if (this.closed) this.counts.shut_down++;
        else this.counts.cancelled++;
      } else this.counts.failed++;
      throw err;
    } finally {
      this.runningSince.splice(this.runningSince.indexOf(started), 1);
      this.release();
    }
  }

  /**
   * When a place in the wait list is likely to free: when the first running job ends. A job takes
   * what a typical one takes, the median of the recent completed jobs: a mean was dragged to minutes
   * by one long label batch, and jobs cut short by their client say nothing about the work. A job
   * already past the median is expected to need about another typical job's time.
   */
  private retryAfterSeconds(now = Date.now()): number {
    const typical = median(this.recentMs) ?? 1000;
    const remaining = Math.min(...this.runningSince.map((t) => (now - t < typical ? typical - (now - t) : typical)));
    return Math.max(1, Math.ceil((Number.isFinite(remaining) ? remaining : typical) / 1000));
  }

  private wait(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        fail: (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        if (this.closed) this.counts.shut_down++;
        else this.counts.cancelled++;
        this.notifyIdle();
        reject(this.closed ? shuttingDown() : new JobCancelled());
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next job, so `running` never drops below a waiting job's need.
    if (next) next.start();
    else this.running--;
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.running === 0 && this.waiting.length === 0) for (const f of this.idleWaiters.splice(0)) f();
  }

  /** Refuses new jobs from now on (503). */
  close(): void {
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves true when every running and waiting job is done, false if `ms` pass first. */
  whenIdle(ms: number): Promise<boolean> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.idleWaiters.indexOf(done);
        if (i >= 0) this.idleWaiters.splice(i, 1);
        resolve(false);
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  /** After the grace period: jobs still waiting fail with 503 (running ones are aborted by the caller). */
  failWaiting(): void {
    for (const w of this.waiting.splice(0)) {
      this.counts.shut_down++;
      w.fail(shuttingDown());
    }
    this.notifyIdle();
  }
}

const RECENT = 64;

function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The client went away; nobody reads the answer. */
export class JobCancelled extends Error {
  constructor() {
    super("the client went away");
    this.name = "JobCancelled";
  }
}

export function shuttingDown(): HttpError {
  return new HttpError(503, "shutting-down", "the server is shutting down and takes no new work; retry once it is back", { "retry-after": "5" });
}
