// Runs one benchmark or measuring command and stores what it printed together with where it ran:
// the commit (and whether the work tree had uncommitted changes), the exact command, when, how long,
// and how busy the machine was before and after. Every figure the README, bench/README.md, the
// CHANGELOG or docs/ quote must come from such a folder under bench/results*/ (bench/README.md,
// "Where every figure comes from").
//
// Usage: node --import tsx bench/record.ts --out bench/results/NAME -- COMMAND [ARGS...]
//   writes NAME/output.txt (stdout), NAME/stderr.txt, NAME/provenance.json; exits with the command's code.
// The command runs through no shell: pass its arguments as they are.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const split = process.argv.indexOf("--");
if (split < 0 || split === process.argv.length - 1) {
  console.error("usage: node --import tsx bench/record.ts --out DIR -- COMMAND [ARGS...]");
  process.exit(2);
}
const { values } = parseArgs({ args: process.argv.slice(2, split), options: { out: { type: "string" } } });
if (!values.out) {
  console.error("bench/record.ts: --out DIR is required (e.g. bench/results/vsix-sizes)");
  process.exit(2);
}
const out = values.out;
const [cmd, ...args] = process.argv.slice(split + 1) as [string, ...string[]];

function git(...a: string[]): string {
  const r = spawnSync("git", a, { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "";
}

/** The 1-minute load average: on a shared 2-core machine it says whether timings can be trusted. */
function load(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

mkdirSync(out, { recursive: true });
const started = new Date();
const loadBefore = load();
// Read before the command runs: its own outputs land in tracked files under bench/results*/.
const commit = git("rev-parse", "HEAD");
const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
const stdout: Buffer[] = [];
const stderr: Buffer[] = [];
child.stdout.on("data", (d: Buffer) => {
  stdout.push(d);
  process.stdout.write(d);
});
child.stderr.on("data", (d: Buffer) => {
  stderr.push(d);
  process.stderr.write(d);
});
child.on("error", (err) => {
  console.error(`bench/record.ts: cannot run ${cmd}: ${err.message}`);
  process.exit(127);
});
child.on("close", (code, signal) => {
  const ended = new Date();
  writeFileSync(path.join(out, "output.txt"), Buffer.concat(stdout));
  writeFileSync(path.join(out, "stderr.txt"), Buffer.concat(stderr));
  const provenance = {
    commit,
    // Uncommitted changes (when it started) mean the commit alone does not reproduce the run.
    dirty,
    command: [cmd, ...args],
    cwd: path.relative(git("rev-parse", "--show-toplevel") || process.cwd(), process.cwd()) || ".",
    started: started.toISOString(),
    wall_s: Math.round((ended.getTime() - started.getTime()) / 100) / 10,
    exit: code,
    signal,
    machine: { cpus: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), node: process.version, load_before: loadBefore, load_after: load() },
  };
  writeFileSync(path.join(out, "provenance.json"), JSON.stringify(provenance, null, 2) + "\n");
  process.exit(code ?? 1);
});
