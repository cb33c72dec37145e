// When documents get scored. There is one model, so checks run one document at a time; a check is
// async (llama.cpp evaluates off the main thread), so the server keeps answering hovers meanwhile.
// Typing restarts a debounce timer and aborts the check running on the old text: a newer version
// always supersedes an older one. Whoever asked for a document's scores explicitly (the
// steplens/scoreDocument request) is answered with the scores of the newest version, even when
// edits keep superseding the check in between.
//
// The queue starts paused: nothing runs before the first settings are read and the model load has
// begun, or a check started then would be cancelled by that load and run again. Whatever the user is
// looking at goes first: a document the client asks about (code lens, hover, scoreDocument) moves
// to the front, so it does not wait behind checks of files opened before it, nor behind the check of
// a file in the background that is running: that one stops and runs again right after. Stopping it
// loses little: the scorer's memo keeps every log-probability and sample it computed, by content,
// and the second run reads them back.

import type { DocumentScores } from "../../protocol/index.js";

/** Scores one document. `forced`: score even if the current version was already scored. */
export type CheckRunner = (uri: string, signal: AbortSignal, forced: boolean) => Promise<DocumentScores | undefined>;

/** The check running now; `preempted` once it was stopped for the file in view. */
interface RunningCheck {
  uri: string;
  controller: AbortController;
  preempted?: boolean;
}

interface Waiter {
  resolve: (scores: DocumentScores | undefined) => void;
  reject: (err: unknown) => void;
}

export class CheckQueue {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly queue: string[] = [];
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly idleWaiters = new Map<string, (() => void)[]>();
  private current: RunningCheck | undefined;
  /** The file last asked about: when its check is queued later (after its debounce), it goes first. */
  private inView: string | undefined;
  private pumping = false;
  private paused = true;

  constructor(
    private readonly runner: CheckRunner,
    private readonly onError: (uri: string, err: unknown) => void,
  ) {}

  /** Checks `uri` after `delayMs` of quiet; calling again restarts the wait. */
  schedule(uri: string, delayMs: number): void {
    this.clearTimer(uri);
    if (delayMs <= 0) {
      this.enqueue(uri);
      return;
    }
    this.timers.set(
      uri,
      setTimeout(() => {
        this.timers.delete(uri);
        this.enqueue(uri);
      }, delayMs),
    );
  }

  /** Lets the queue run (once the first settings are read). */
  resume(): void {
    this.paused = false;
    void this.pump();
  }

  /**
   * The client shows `uri` (it asked for its lenses or a hover): a check queued for it runs next, and
   * one of another file that nobody asked for, running now, stops to run again after it.
   */
  prioritize(uri: string): void {
    this.inView = uri;
    const at = this.queue.indexOf(uri);
    if (at < 0) return;
    if (at > 0) {
      this.queue.splice(at, 1);
      this.queue.unshift(uri);
    }
    this.preemptFor(uri);
  }

  /** Stops the running check for `uri`'s sake when it is another file's background check. */
  private preemptFor(uri: string): void {
    const running = this.current;
    if (!running || running.uri === uri || running.preempted || this.waiters.has(running.uri)) return;
    running.preempted = true;
    running.controller.abort();
  }

  /** The text changed: a check running on the old text is wasted work. */
  supersede(uri: string): void {
    if (this.current?.uri === uri) this.current.controller.abort();
  }

  /** Scores `uri` now, whatever the check frequency; resolves with the newest version's scores. */
  request(uri: string): Promise<DocumentScores | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(uri) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(uri, list);
      this.clearTimer(uri);
      this.enqueue(uri);
      // Someone waits for this answer: it goes before the background checks.
      this.prioritize(uri);
    });
  }

  /** Stops everything about `uri` (closed, or its scores cleared); waiting requests get undefined. */
  cancel(uri: string): void {
    this.clearTimer(uri);
    const at = this.queue.indexOf(uri);
    if (at >= 0) this.queue.splice(at, 1);
    // A check stopped for another file would otherwise be queued again.
    if (this.current?.uri === uri) this.current.preempted = false;
    this.supersede(uri);
    this.settle(uri, (w) => w.resolve(undefined));
    if (this.current?.uri !== uri) this.notifyIdle(uri);
  }

  /** Aborts the running check and forgets the queue, e.g. before the model is reloaded. */
  cancelAll(): void {
    for (const uri of [...this.timers.keys(), ...this.queue]) this.cancel(uri);
    if (this.current) this.cancel(this.current.uri);
  }

  /** Whether a check of `uri` is waiting out its debounce, queued or running. */
  pending(uri: string): boolean {
    return this.timers.has(uri) || this.queue.includes(uri) || this.current?.uri === uri;
  }

  /**
   * Resolves once nothing is pending for `uri`. Code lenses of a client that cannot be told to
   * refresh them (no workspace/codeLens/refresh, e.g. Neovim 0.7) wait on this; VS Code's are
   * answered at once and refreshed after the check (handlers/features.ts).
   */
  idle(uri: string): Promise<void> {
    if (!this.pending(uri)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.idleWaiters.get(uri) ?? [];
      list.push(resolve);
      this.idleWaiters.set(uri, list);
    });
  }

  private notifyIdle(uri: string): void {
    if (this.pending(uri)) return;
    const list = this.idleWaiters.get(uri);
    this.idleWaiters.delete(uri);
    list?.forEach((r) => r());
  }

  get running(): string | undefined {
    return this.current?.uri;
  }

  private clearTimer(uri: string): void {
    const t = this.timers.get(uri);
    if (t) clearTimeout(t);
    this.timers.delete(uri);
  }

  private enqueue(uri: string): void {
    if (!this.queue.includes(uri)) {
      if (uri === this.inView) {
        this.queue.unshift(uri);
        this.preemptFor(uri);
      } else this.queue.push(uri);
    }
    void this.pump();
  }

  private settle(uri: string, how: (w: Waiter) => void): void {
    const list = this.waiters.get(uri);
    this.waiters.delete(uri);
    list?.forEach(how);
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.paused) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const uri = this.queue.shift()!;
        const controller = new AbortController();
        const current: RunningCheck = { uri, controller };
        this.current = current;
        try {
          const scores = await this.runner(uri, controller.signal, this.waiters.has(uri));
          if (controller.signal.aborted) this.retry(current);
          else this.settle(uri, (w) => w.resolve(scores));
        } catch (err) {
          if (controller.signal.aborted) this.retry(current);
          else {
            this.onError(uri, err);
            this.settle(uri, (w) => w.reject(err));
          }
        } finally {
          this.current = undefined;
          this.notifyIdle(uri);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * An aborted check. Superseded: it still owes its requesters an answer, on the newer text. Stopped
   * for the file in view: it runs again right after that file (whose check is first in the queue).
   */
  private retry(check: RunningCheck): void {
    if (this.queue.includes(check.uri)) return;
    if (check.preempted) this.queue.splice(Math.min(1, this.queue.length), 0, check.uri);
    else if (this.waiters.has(check.uri)) this.queue.push(check.uri);
  }
}
