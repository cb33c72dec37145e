// What `steplens score` does with files that are no solution (issue 10 item 6) and with a solution
// nothing of which could be scored (item 10): files are read before the model is loaded, only
// regular files are read and never past the limit, and a run that scored nothing fails.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MAX_SOLUTION_BYTES, readSolutionFile, SolutionFileError } from "../server/engine/parse/readSolutionFile.js";
import { DEMO_MODEL, runCli } from "./helpers.js";

let tmp: string;
// A model path that does not exist: a command that reaches the model load says "model file not
// found", so its absence shows the files were refused first.
let noModel: string;

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-input-"));
  noModel = path.join(tmp, "absent.gguf");
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("score reads only regular files, before the model (issue 10 item 6)", () => {
  test("/dev/zero and /dev/urandom are refused as no regular file, and the model is never loaded", { timeout: 60_000 }, async () => {
    const r = await runCli(["score", "/dev/zero", "/dev/urandom", "--model", noModel]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /\/dev\/zero is not a regular file \(a device, pipe or socket\)/);
    assert.match(r.stderr, /\/dev\/urandom is not a regular file/);
    assert.doesNotMatch(r.stderr, /model file not found/);
  });

  test("a FIFO with no writer is refused, not waited on", { timeout: 60_000 }, async () => {
    const fifo = path.join(tmp, "pipe.md");
    execFileSync("mkfifo", [fifo]);
    const r = await runCli(["score", fifo, "--model", noModel]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /pipe\.md is not a regular file/);
    assert.doesNotMatch(r.stderr, /model file not found/);
  });

  test("empty, blank, missing, a symlink loop, a folder, too large: each named, none reaching the model load", { timeout: 60_000 }, async () => {
    const empty = path.join(tmp, "empty.md");
    writeFileSync(empty, "");
    const blank = path.join(tmp, "blank.md");
    writeFileSync(blank, "\n  \n\t\n");
    const loopA = path.join(tmp, "loop-a.md");
    const loopB = path.join(tmp, "loop-b.md");
    symlinkSync(loopB, loopA);
    symlinkSync(loopA, loopB);
    const folder = path.join(tmp, "folder.md");
    mkdirSync(folder);
    const big = path.join(tmp, "big.md");
    writeFileSync(big, "Step 1: 1 + 1 = 2.\n".repeat(200));
    const r = await runCli(["score", empty, blank, path.join(tmp, "missing.md"), loopA, folder, big, "--max-bytes", "1000", "--model", noModel]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /empty\.md is empty: write the problem/);
    assert.match(r.stderr, /blank\.md is blank/);
    assert.match(r.stderr, /missing\.md does not exist; check the path/);
    assert.match(r.stderr, /loop-a\.md cannot be read: it is a symbolic link that leads back to itself/);
    assert.match(r.stderr, /folder\.md is a folder; name the solution files inside it/);
    assert.match(r.stderr, /big\.md is 4 KB; a solution file is expected to be under 1000 bytes: split it .*\(or raise the limit with --max-bytes\)/);
    assert.doesNotMatch(r.stderr, /model file not found/);
    assert.equal(r.stdout, "");
  });

  test("a file with no step is refused before the model load too; a good file beside it is still scored", { timeout: 300_000 }, async () => {
    const prose = path.join(tmp, "prose.md");
    writeFileSync(prose, "# Notes\n\n```\ncode only\n```\n");
    const early = await runCli(["score", prose, "--model", noModel]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /prose\.md: no steps found/);
    assert.doesNotMatch(early.stderr, /model file not found/);
    const both = await runCli(["score", prose, "examples/shopping.md", "--model", DEMO_MODEL, "--gpu", "off", "--threads", "1", "--templates", "reference"]);
    assert.equal(both.code, 1, "one file failed");
    assert.match(both.stdout, /examples\/shopping\.md/);
  });
});

describe("readSolutionFile (the engine's, for every front end)", () => {
  test("reads no more than the limit whatever stat says: /proc files say size 0", async () => {
    const status = await readSolutionFile("/proc/self/status");
    assert.match(status, /^Name:/m, "a size-0 regular file is still read");
    await assert.rejects(readSolutionFile("/proc/self/status", { maxBytes: 64 }), (err: unknown) => {
      assert.ok(err instanceof SolutionFileError);
      assert.equal(err.kind, "too-large");
      assert.match(err.message, /status is larger than 64 bytes; a solution file is expected to be under 64 bytes/);
      assert.doesNotMatch(err.message, /--max-bytes/, "no command-line flag in the engine's words");
      return true;
    });
  });

  test("binary and non-UTF-8 files are refused with their kind; the default limit is 1 MB", async () => {
    const bin = path.join(tmp, "image.md");
    writeFileSync(bin, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
    await assert.rejects(readSolutionFile(bin), (e: unknown) => e instanceof SolutionFileError && e.kind === "binary" && /looks binary/.test(e.message));
    const latin1 = path.join(tmp, "latin1.md");
    writeFileSync(latin1, Buffer.from("Step 1: caf\xe9", "latin1"));
    await assert.rejects(readSolutionFile(latin1), (e: unknown) => e instanceof SolutionFileError && e.kind === "not-utf8");
    assert.equal(MAX_SOLUTION_BYTES, 1024 * 1024);
  });
});

describe("score fails when nothing was scored (issue 10 item 10)", () => {
  test("a solution whose only step does not fit the model's context: the reason is printed and the exit status is 1", { timeout: 300_000 }, async () => {
    const file = path.join(tmp, "too-long.md");
    const step = Array.from({ length: 400 }, (_, i) => `${i} + 1 = ${i + 1}`).join(", ");
    writeFileSync(file, `---\nanswer: 7\n---\nQuestion: Tom has 3 pens and buys 4 more. How many pens does he have?\nStep 1: ${step}\nThe answer is 7.\n`);
    const r = await runCli(["score", file, "--model", DEMO_MODEL, "--gpu", "off", "--threads", "1", "--templates", "reference"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /too-long\.md: no step was scored: the solution is longer than the model's context \(512 tokens\): steps 1-1 were not scored/);
    assert.match(r.stdout, /not scored/, "the table still shows the step");
  });
});
