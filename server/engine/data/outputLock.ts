// One labeling run per output file. Two runs appending to one file both skip the ids they found at
// start and label the rest, so every record after that point is written twice, out of order. An
// advisory lock file beside the output (`OUT.lock`, holding the owner's pid and host) lets the second
// run refuse with a message naming the first; a lock whose process is gone (kill -9, a crash) is
// taken over, since a run killed that way must be resumable by simply running it again.

import { linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, closeSync } from "node:fs";
import os from "node:os";
import { DatasetError, describeFsError } from "./datasetError.js";

interface LockOwner {
  pid: number;
  host: string;
  started: string;
  /** What holds it, for the message: the command line or "the language server". */
  what: string;
}

export class OutputLock {
  private released = false;

  private constructor(readonly file: string) {}

  /**
   * Takes `${output}.lock` or throws a DatasetError naming the run that holds it. `what` says who
   * this process is, for the other side's message. `onNote` hears of a stale lock taken over.
   */
  static acquire(output: string, what: string, onNote?: (message: string) => void): OutputLock {
    const file = `${output}.lock`;
    const me: LockOwner = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), what };
    // A few attempts: taking over a stale lock is followed by another try, which may lose to a run
    // that took it over first; that is a refusal like any other.
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openSync(file, "wx");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new DatasetError(`cannot write ${output}: cannot create its lock file ${file}: ${describeFsError(err)}`);
        const owner = readOwner(file);
        // Empty or unreadable: its owner may be between creating and filling it, so never take it.
        if (!owner) throw new DatasetError(`cannot tell which run holds ${file} (it is empty or damaged). If no labeling run on ${output} is active, delete ${file} and run again.`);
        if (isRunning(owner)) throw busy(output, file, owner);
        if (takeOver(file, owner)) onNote?.(`took over ${file} from a run that is no longer running (pid ${owner.pid}, started ${owner.started})`);
        continue;
      }
      try {
        writeSync(fd, JSON.stringify(me) + "\n");
      } finally {
        closeSync(fd);
      }
      return new OutputLock(file);
    }
    const owner = readOwner(file);
    throw owner ? busy(output, file, owner) : new DatasetError(`cannot lock ${output}: ${file} keeps changing hands; is another run starting? Try again`);
  }

  /** Removes the lock file; a second call does nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      unlinkSync(this.file);
    } catch {
      // Already gone (removed by hand): nothing to give back.
    }
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as Partial<LockOwner>;
    if (typeof v.pid === "number" && Number.isInteger(v.pid) && typeof v.host === "string") {
      return { pid: v.pid, host: v.host, started: String(v.started ?? "?"), what: String(v.what ?? "steplens") };
    }
  } catch {
    // Unreadable or half written: a lock whose owner cannot be known.
  }
  return undefined;
}

/** On another host the pid means nothing here: count it as running, and let the person decide. */
function isRunning(owner: LockOwner): boolean {
  if (owner.host !== os.hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Moves a stale lock aside and checks that what was moved is the stale one: another run may have
 * taken it over in between, and its fresh lock must survive. Renames are atomic, so exactly one run
 * moves any one lock file. Returns false when the lock changed hands (the caller looks again).
 */
function takeOver(file: string, stale: LockOwner): boolean {
  const aside = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, aside);
  } catch {
    return false; // someone else moved or removed it first
  }
  const moved = readOwner(aside);
  const same = moved?.pid === stale.pid && moved.host === stale.host && moved.started === stale.started;
  if (!same) {
    // Not the stale lock any more: put the live one back unless a third run already holds the name.
    try {
      linkSync(aside, file);
    } catch {
      // The name is taken again; the owner that took it holds the lock.
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // nothing left to clean
  }
  return same;
}

function busy(output: string, file: string, owner: LockOwner): DatasetError {
  const who = owner.pid === process.pid && owner.host === os.hostname() ? `this same process (${owner.what})` : `${owner.what} (pid ${owner.pid}${owner.host !== os.hostname() ? ` on ${owner.host}` : ""}, started ${owner.started})`;
  return new DatasetError(
    `${output} is being written by another labeling run: ${who} holds ${file}. ` +
      `Two runs on one output would label the same records twice; wait for it to finish or stop it, then run again to resume. ` +
      `If no such run exists, delete ${file}.`,
  );
}
