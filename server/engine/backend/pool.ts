// Several endpoints behind one Backend, so the scorer, `steplens label` and `steplens bench` spread
// their work over many servers without knowing there is more than one.
//
// A pool session holds one slot on one endpoint for its whole life and sends all its calls there;
// it moves to another endpoint only when a call fails in a way another server could fix (unreachable,
// timeout, rate-limited, server error: failure.ts isRetryable). Staying put is deliberate: the scorer walks
// consecutive prefixes of one solution, and a server keeps the KV cache of the prefix it just saw
// (llama-server's prompt cache, vLLM's prefix caching, steplens serve's lanes), so sending the next
// call elsewhere would re-evaluate the whole prefix there. Calls are scoring and seeded sampling,
// with no server-side state a retry could double, so replaying one on another endpoint is safe.
//
// An endpoint that fails several times in a row is taken out for a cool-down (doubling while it
// keeps failing) and the front end is told through onEvent; when the cool-down ends it gets one
// call to prove itself.

import { BackendError, type Backend, type BackendInfo, type BackendSession, type TokenCounters, type TokenEntropies } from "./types.js";
import { sleep } from "./shared.js";
import { backoffMs } from "./backoff.js";
import { failureKind, isRetryable } from "./failure.js";

export { isRetryable };

export interface PoolMember {
  /** What the user typed: the endpoint's URL (named in every message). */
  name: string;
  backend: Backend;
}

export type PoolEvent =
  | { type: "retry"; endpoint: string; attempt: number; error: string; delayMs: number }
  | { type: "down"; endpoint: string; failures: number; forMs: number; error: string }
  | { type: "up"; endpoint: string };

export interface PoolOptions {
  /** Sessions (hence requests in flight) per endpoint; default: what each member says it can run. */
  maxInFlight?: number;
  /** Tries of one call across endpoints before giving up; default max(3, 2 × endpoints). */
  maxAttempts?: number;
  /** Wait before the first retry; doubles per retry of the same call. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Failures in a row that take an endpoint out. */
  failuresToEject?: number;
  /** First time out; doubles each time the endpoint fails again right after coming back. */
  cooldownMs?: number;
  maxCooldownMs?: number;
  onEvent?: (event: PoolEvent) => void;
}

export const POOL_DEFAULTS = {
  maxInFlight: 4,
  backoffMs: 250,
  maxBackoffMs: 5000,
  failuresToEject: 3,
  cooldownMs: 30_000,
  maxCooldownMs: 300_000,
} as const;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class Endpoint {
  inFlight = 0;
  failuresInRow = 0;
  downUntil = 0;
  timesDown = 0;
  lastError = "";
  served = 0;
  constructor(
    readonly name: string,
    readonly backend: Backend,
    readonly capacity: number,
  ) {}
  healthy(now: number): boolean {
    return now >= this.downUntil;
  }
}

export interface PoolEndpointStatus {
  endpoint: string;
  capacity: number;
  inFlight: number;
  /** Calls that succeeded here. */
  served: number;
  down: boolean;
  lastError?: string;
}

export class PoolBackend implements Backend {
  readonly info: BackendInfo;
  readonly parallel: number;
  private readonly endpoints: Endpoint[];
  private readonly waiters: { exclude?: Endpoint; resolve: (e: Endpoint) => void; reject: (err: unknown) => void; signal?: AbortSignal; onAbort?: () => void }[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  private readonly opts: Required<Omit<PoolOptions, "maxInFlight" | "maxAttempts" | "onEvent">> & { maxAttempts: number; onEvent: (e: PoolEvent) => void };
  private disposed = false;

  constructor(members: readonly PoolMember[], options: PoolOptions = {}) {
    if (members.length === 0) throw new BackendError("a pool needs at least one endpoint", "backend");
    const seen = new Set<string>();
    for (const m of members) {
      if (seen.has(m.name)) throw new BackendError(`endpoint ${m.name} is listed twice; give each --endpoint once`, "backend");
      seen.add(m.name);
    }
    const maxInFlight = options.maxInFlight;
    if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight >= 1)) {
      throw new BackendError(`--max-in-flight must be a whole number of at least 1, got ${maxInFlight}`, "backend");
    }
    this.endpoints = members.map((m) => new Endpoint(m.name, m.backend, Math.max(1, maxInFlight ?? m.backend.parallel)));
    this.parallel = this.endpoints.reduce((s, e) => s + e.capacity, 0);
    this.opts = {
      backoffMs: options.backoffMs ?? POOL_DEFAULTS.backoffMs,
      maxBackoffMs: options.maxBackoffMs ?? POOL_DEFAULTS.maxBackoffMs,
      failuresToEject: Math.max(1, options.failuresToEject ?? POOL_DEFAULTS.failuresToEject),
      cooldownMs: options.cooldownMs ?? POOL_DEFAULTS.cooldownMs,
      maxCooldownMs: options.maxCooldownMs ?? POOL_DEFAULTS.maxCooldownMs,
      maxAttempts: Math.max(1, options.maxAttempts ?? Math.max(3, 2 * members.length)),
      onEvent: options.onEvent ?? (() => {}),
    };
    const first = members[0]!.backend.info;
    this.info = {
      // The members' kind, so code that asks "is this a server backend?" gets the same answer.
      kind: first.kind,
      model: first.model,
      device: [...new Set(members.map((m) => m.backend.info.device))].join("+"),
      contextSize: Math.min(...members.map((m) => m.backend.info.contextSize)),
    };
  }

  /** Per endpoint: capacity, load, calls served, whether it is out. */
  status(): PoolEndpointStatus[] {
    const now = Date.now();
    return this.endpoints.map((e) => ({
      endpoint: e.name,
      capacity: e.capacity,
      inFlight: e.inFlight,
      served: e.served,
      down: !e.healthy(now),
      ...(e.lastError ? { lastError: e.lastError } : {}),
    }));
  }

  get counters(): TokenCounters {
    let evaluated = 0;
    let generated = 0;
    for (const e of this.endpoints) {
      evaluated += e.backend.counters.evaluated;
      generated += e.backend.counters.generated;
    }
    return { evaluated, generated };
  }

  async tokenize(text: string): Promise<number[]> {
    // Every member serves the same model, so any healthy one answers; a failure tries the next.
    return await this.withRetry(undefined, (backend) => backend.tokenize(text));
  }

  async openSession(): Promise<BackendSession> {
    return new PoolSession(this, await this.acquire());
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    for (const w of this.waiters.splice(0)) w.reject(new BackendError("the backend was closed", "cancelled"));
    await Promise.all(this.endpoints.map((e) => e.backend.dispose()));
  }

  /** A slot on a healthy endpoint with room, the least loaded first; waits when there is none. */
  acquire(exclude?: Endpoint, signal?: AbortSignal): Promise<Endpoint> {
    if (this.disposed) return Promise.reject(new BackendError("the backend was closed", "cancelled"));
    const now = Date.now();
    const pick = this.pick(now, exclude);
    if (pick) {
      pick.inFlight++;
      return Promise.resolve(pick);
    }
    return new Promise<Endpoint>((resolve, reject) => {
      const waiter: (typeof this.waiters)[number] = { exclude, resolve, reject, signal };
      if (signal) {
        if (signal.aborted) return reject(new BackendError("cancelled", "cancelled"));
        waiter.onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new BackendError("cancelled", "cancelled"));
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      this.scheduleWake();
    });
  }

  private pick(now: number, exclude?: Endpoint): Endpoint | undefined {
    const open = this.endpoints.filter((e) => e.healthy(now) && e.inFlight < e.capacity);
    const others = open.filter((e) => e !== exclude);
    const from = others.length > 0 ? others : open;
    let best: Endpoint | undefined;
    for (const e of from) if (!best || e.inFlight / e.capacity < best.inFlight / best.capacity) best = e;
    return best;
  }

  release(e: Endpoint): void {
    e.inFlight--;
    this.wake();
  }

  /** Hands freed slots (or endpoints back from a cool-down) to waiting sessions, in arrival order. */
  private wake(): void {
    const now = Date.now();
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      const e = this.pick(now, w.exclude);
      if (!e) break;
      this.waiters.shift();
      if (w.onAbort) w.signal?.removeEventListener("abort", w.onAbort);
      e.inFlight++;
      w.resolve(e);
    }
    this.scheduleWake();
  }

  /** When everything is out, the end of the earliest cool-down is the next chance for waiters. */
  private scheduleWake(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.waiters.length === 0 || this.disposed) return;
    const now = Date.now();
    const next = Math.min(...this.endpoints.filter((e) => !e.healthy(now)).map((e) => e.downUntil));
    if (!Number.isFinite(next)) return;
    this.wakeTimer = setTimeout(() => this.wake(), Math.max(1, next - now));
    // A pool waiting for a dead endpoint to come back should not keep a finished process alive.
    this.wakeTimer.unref();
  }

  succeeded(e: Endpoint): void {
    e.served++;
    const wasOut = e.timesDown > 0;
    e.failuresInRow = 0;
    e.timesDown = 0;
    if (wasOut) this.opts.onEvent({ type: "up", endpoint: e.name });
  }

  failed(e: Endpoint, err: unknown): void {
    e.failuresInRow++;
    e.lastError = messageOf(err);
    if (e.failuresInRow < this.opts.failuresToEject) return;
    // No jitter: the cool-down is this pool's own bookkeeping, nobody else comes back at its end.
    const forMs = backoffMs(e.timesDown, { firstMs: this.opts.cooldownMs, maxMs: this.opts.maxCooldownMs, jitter: 0 });
    e.timesDown++;
    e.downUntil = Date.now() + forMs;
    // Back from a cool-down, one more failure takes it out again (with a longer cool-down).
    e.failuresInRow = this.opts.failuresToEject - 1;
    this.opts.onEvent({ type: "down", endpoint: e.name, failures: this.opts.failuresToEject, forMs, error: e.lastError });
    this.scheduleWake();
  }

  backoff(attempt: number): number {
    // Half random, so sessions that failed together do not all come back at the same instant.
    return backoffMs(attempt - 1, { firstMs: this.opts.backoffMs, maxMs: this.opts.maxBackoffMs, jitter: 0.5 });
  }

  get maxAttempts(): number {
    return this.opts.maxAttempts;
  }

  retryEvent(e: Endpoint, attempt: number, err: unknown, delayMs: number): void {
    this.opts.onEvent({ type: "retry", endpoint: e.name, attempt, error: messageOf(err), delayMs });
  }

  /**
   * A call outside any session (tokenize). It takes no slot: the scorer tokenizes while holding a
   * session, and waiting for a slot there would deadlock a full pool. It goes to the least loaded
   * healthy endpoint and moves on failure like a session's call.
   */
  private async withRetry<T>(signal: AbortSignal | undefined, fn: (backend: Backend) => Promise<T>): Promise<T> {
    let exclude: Endpoint | undefined;
    for (let attempt = 1; ; attempt++) {
      const now = Date.now();
      const healthy = this.endpoints.filter((x) => x.healthy(now));
      const from = healthy.filter((x) => x !== exclude);
      const pool = from.length > 0 ? from : healthy.length > 0 ? healthy : this.endpoints;
      const e = pool.reduce((best, x) => (x.inFlight / x.capacity < best.inFlight / best.capacity ? x : best));
      try {
        const out = await fn(e.backend);
        this.succeeded(e);
        return out;
      } catch (err) {
        if (!isRetryable(err) || signal?.aborted) throw err;
        this.failed(e, err);
        if (attempt >= this.opts.maxAttempts) throw this.exhausted(err, attempt);
        const delay = this.backoff(attempt);
        this.retryEvent(e, attempt, err, delay);
        await sleep(delay, signal);
        exclude = e;
      }
    }
  }

  exhausted(err: unknown, attempts: number): BackendError {
    const names = this.endpoints.map((e) => e.name).join(", ");
    // The last failure's kind: the editor reconnects to a pool whose servers are all away, as to one.
    return new BackendError(
      `${attempts} tries failed across the endpoints (${names}); last error: ${messageOf(err)}. ` +
        `Check that the servers are running and reachable (steplens doctor --backend KIND --endpoint URL), or drop the dead ones from --endpoint.`,
      failureKind(err),
      { cause: err },
    );
  }
}

/** One lane of work bound to one endpoint until a failure moves it (see the file comment). */
class PoolSession implements BackendSession {
  readonly counters: TokenCounters = { evaluated: 0, generated: 0 };
  private inner: BackendSession | undefined;
  private released = false;

  constructor(
    private readonly pool: PoolBackend,
    private endpoint: Endpoint,
  ) {}

  scoreContinuations(prefix: string, continuations: readonly string[], signal?: AbortSignal) {
    return this.run((s) => s.scoreContinuations(prefix, continuations, signal), signal);
  }

  sample(prefix: string, options: Parameters<BackendSession["sample"]>[1], signal?: AbortSignal) {
    return this.run((s) => s.sample(prefix, options, signal), signal);
  }

  tokenEntropies(prefix: string, text: string, signal?: AbortSignal): Promise<TokenEntropies> {
    return this.run((s) => {
      if (!s.tokenEntropies) throw new BackendError("this backend gives no next-token distributions, so it cannot segment by entropy", "backend");
      return s.tokenEntropies(prefix, text, signal);
    }, signal);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.inner?.release();
    this.inner = undefined;
    this.pool.release(this.endpoint);
  }

  private async run<T>(fn: (s: BackendSession) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.released) throw new BackendError("this session was already released", "backend");
    for (let attempt = 1; ; attempt++) {
      let before: TokenCounters | undefined;
      try {
        this.inner ??= await this.endpoint.backend.openSession();
        before = { ...this.inner.counters };
        const out = await fn(this.inner);
        this.addCounters(before);
        this.pool.succeeded(this.endpoint);
        return out;
      } catch (err) {
        if (before) this.addCounters(before);
        if (!isRetryable(err) || signal?.aborted) throw err;
        this.pool.failed(this.endpoint, err);
        if (attempt >= this.pool.maxAttempts) throw this.pool.exhausted(err, attempt);
        const delay = this.pool.backoff(attempt);
        this.pool.retryEvent(this.endpoint, attempt, err, delay);
        // Give this endpoint's slot back before waiting, so the others can use it meanwhile.
        this.inner?.release();
        this.inner = undefined;
        const failedOn = this.endpoint;
        this.pool.release(failedOn);
        try {
          await sleep(delay, signal);
          this.endpoint = await this.pool.acquire(failedOn, signal);
        } catch (waitErr) {
          // Nothing is held now; release() must not give a slot back twice.
          this.released = true;
          throw waitErr;
        }
      }
    }
  }

  private addCounters(before: TokenCounters): void {
    const now = this.inner?.counters;
    if (!now) return;
    this.counters.evaluated += now.evaluated - before.evaluated;
    this.counters.generated += now.generated - before.generated;
  }
}

/** One line for the person running the job. */
export function describePoolEvent(e: PoolEvent): string {
  switch (e.type) {
    case "retry":
      return `${e.endpoint} failed (${e.error}); retrying on another endpoint in ${(e.delayMs / 1000).toFixed(1)} s`;
    case "down":
      return Number.isFinite(e.forMs)
        ? `${e.endpoint} taken out for ${Math.round(e.forMs / 1000)} s after ${e.failures} failures in a row (${e.error}); the other endpoints go on`
        : `${e.endpoint} left out: it could not be reached at start (${e.error}); the other endpoints go on`;
    case "up":
      return `${e.endpoint} answers again and is back in the pool`;
  }
}
