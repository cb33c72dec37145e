// `steplens label` as a user runs it, attacked as a careless or hostile user would (issue 10 items 1,
// 4, 5) and as a new user meets it (issue 12 item 3): the built CLI, the real demo model, real files.
// Every wait ends on a state of the files or the process, never on a timer.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CLI, DATA, DEMO_MODEL, REPO, SHARED, readJsonlFile, runCli } from "./helpers.js";
import { startInProcess } from "./serveHelpers.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-label-cli-"));
// Each run sees an empty cache of its own, never the user's calibrations.
const cache = path.join(tmp, "cache");
const env = { STEPLENS_CACHE_DIR: cache };
after(() => rmSync(tmp, { recursive: true, force: true }));

const dev = readFileSync(path.join(DATA, "arith-processbench-dev.jsonl"), "utf8").split("\n").filter(Boolean);

function write(name: string, lines: string[]): string {
  const file = path.join(tmp, name);
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

const lineCount = (file: string): number => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).length : 0);

/** A label run in the background, and a way to act once its output reaches a state. */
function start(args: string[]): { child: ChildProcess; stderr: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, STEPLENS_TOKEN: "", ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => stderr, exited };
}

/** Resolves when `ready()` holds; fails with the run's output if it ends first. */
function whenState(run: ReturnType<typeof start>, what: string, ready: () => boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const timer = setInterval(() => {
      if (!done && ready()) {
        done = true;
        clearInterval(timer);
        resolve();
      }
    }, 20);
    void run.exited.then(({ code }) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      if (ready()) resolve();
      else reject(new Error(`the run ended (exit ${code}) before ${what}: ${run.stderr()}`));
    });
  });
}

describe("label refuses an output that is its input (issue 10 item 1)", () => {
  test("same path, a symlink and a hard link, with and without --overwrite: refused, the input keeps every byte", async () => {
    const input = write("self.jsonl", dev.slice(0, 3));
    const before = readFileSync(input);
    const link = path.join(tmp, "self-link.jsonl");
    symlinkSync(input, link);
    const hard = path.join(tmp, "self-hard.jsonl");
    linkSync(input, hard);
    for (const [output, extra] of [
      [input, ["--overwrite"]],
      [input, []],
      [link, ["--overwrite"]],
      [hard, ["--overwrite"]],
      [path.join(tmp, ".", "self.jsonl"), ["--overwrite"]],
    ] as const) {
      const r = await runCli(["label", input, "-o", output, ...extra], env);
      assert.notEqual(r.code, 0, `${output} ${extra.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, /is the input file itself.*Name another file, e\.g\. .*self\.labeled\.jsonl/s);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      assert.deepEqual(readFileSync(input), before, `the input is untouched after -o ${output}`);
    }
    // The statistics file is an output too.
    const out = path.join(tmp, "self-out.jsonl");
    const r = await runCli(["label", input, "-o", out, "--stats-json", input], env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--stats-json .* is the input file itself/);
    assert.deepEqual(readFileSync(input), before);
  });
});

describe("one label run per output (issue 10 item 5)", () => {
  test("a second run on the same output is refused while the first holds it; the first finishes alone, no record twice", async () => {
    const input = write("lock-in.jsonl", dev.slice(0, 8));
    const out = path.join(tmp, "lock-out.jsonl");
    const first = start(["label", input, "-o", out, "--threads", "1"]);
    await whenState(first, "it took the lock", () => existsSync(`${out}.lock`));
    // Frozen while it holds the lock, so the second run surely meets it (it refuses before loading a model).
    first.child.kill("SIGSTOP");
    let second: Awaited<ReturnType<typeof runCli>>;
    try {
      second = await runCli(["label", input, "-o", out, "--threads", "1"], env);
    } finally {
      first.child.kill("SIGCONT");
    }
    assert.notEqual(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`lock-out\\.jsonl is being written by another labeling run: steplens label .* \\(pid ${first.child.pid},`));
    assert.match(second.stderr, /If no such run exists, delete .*lock-out\.jsonl\.lock/);
    assert.doesNotMatch(second.stderr, /soft labels use/, "refused before the model was loaded");
    const { code } = await first.exited;
    assert.equal(code, 0, first.stderr());
    const ids = readJsonlFile<{ id: string }>(out).map((r) => r.id);
    assert.deepEqual(ids, dev.slice(0, 8).map((l) => (JSON.parse(l) as { id: string }).id), "every record once, in input order");
    assert.equal(existsSync(`${out}.lock`), false, "the lock is gone with the run");
  });

  test("a lock left by a run that no longer exists (kill -9) is taken over, and said so", async () => {
    const input = write("stale-in.jsonl", dev.slice(0, 2));
    const out = path.join(tmp, "stale-out.jsonl");
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((r) => gone.on("exit", r));
    writeFileSync(`${out}.lock`, JSON.stringify({ pid: gone.pid, host: os.hostname(), started: "2026-01-01T00:00:00.000Z", what: "steplens label" }) + "\n");
    const r = await runCli(["label", input, "-o", out, "--threads", "1"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`took over .*stale-out\\.jsonl\\.lock from a run that is no longer running \\(pid ${gone.pid}`));
    assert.equal(lineCount(out), 2);
    assert.equal(existsSync(`${out}.lock`), false);
  });
});

describe("one soft-label scale, resumable bit for bit (issue 10 item 4, issue 12 item 3)", () => {
  // Two solutions per problem, as ProcessBench has them: a record's problem is then cached from the
  // record before it, the history that made resumed runs differ.
  const pairs = dev.slice(0, 6).flatMap((l) => {
    const r = JSON.parse(l) as { id: string; steps: string[]; label?: number };
    const { label: _label, ...rest } = r;
    const variant = { ...rest, id: `${r.id}-b`, steps: r.steps.length > 1 ? r.steps.slice(0, -1) : [...r.steps, "So that is the answer."] };
    return [l, JSON.stringify(variant)];
  });
  let input: string;
  let whole: Buffer;

  before(async () => {
    input = write("pairs.jsonl", pairs);
    const out = path.join(tmp, "pairs-whole.jsonl");
    const r = await runCli(["label", input, "-o", out, "--threads", "1"], env);
    assert.equal(r.code, 0, r.stderr);
    whole = readFileSync(out);
  });

  test("interrupted by SIGINT, then by kill -9, then resumed: the same bytes as one uninterrupted run", async () => {
    const out = path.join(tmp, "pairs-resumed.jsonl");
    const args = ["label", input, "-o", out, "--threads", "1"];
    const a = start(args);
    await whenState(a, "it wrote 3 records", () => lineCount(out) >= 3);
    a.child.kill("SIGINT");
    const ea = await a.exited;
    assert.ok(ea.code === 130 || ea.code === 0, `SIGINT: exit ${ea.code}: ${a.stderr()}`);
    const afterSigint = lineCount(out);
    assert.ok(afterSigint < pairs.length, "the SIGINT came before the end");
    // Completed work is on disk as it completes: a kill -9 keeps every record written before it.
    const b = start(args);
    await whenState(b, "it wrote 3 more records", () => lineCount(out) >= afterSigint + 3);
    const seen = lineCount(out);
    b.child.kill("SIGKILL");
    assert.equal((await b.exited).signal, "SIGKILL");
    assert.ok(lineCount(out) >= seen, "nothing written before the kill is lost");
    const c = await runCli(args, env);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, /took over .*pairs-resumed\.jsonl\.lock/, "the killed run's lock is taken over");
    assert.equal(readFileSync(out).toString("utf8"), whole.toString("utf8"), "byte-identical to the uninterrupted run");
  });

  test("a record's soft labels do not depend on its company: 5 records alone = the same 5 inside 40; every record names the calibration", async () => {
    const five = write("five.jsonl", dev.slice(0, 5));
    const forty = write("forty.jsonl", dev.slice(0, 40));
    const outFive = path.join(tmp, "five.labeled.jsonl");
    const outForty = path.join(tmp, "forty.labeled.jsonl");
    const stats = path.join(tmp, "five.stats.json");
    const r5 = await runCli(["label", five, "-o", outFive, "--threads", "1", "--stats-json", stats], env);
    assert.equal(r5.code, 0, r5.stderr);
    const r40 = await runCli(["label", forty, "-o", outForty, "--threads", "1", "--limit", "40"], env);
    assert.equal(r40.code, 0, r40.stderr);
    type Labeled = { id: string; label: number; soft_label: number[]; first_error: number; calibration: string };
    const a = readJsonlFile<Labeled>(outFive);
    const b = readJsonlFile<Labeled>(outForty).slice(0, 5);
    assert.deepEqual(a, b, "identical records");
    const s = JSON.parse(readFileSync(stats, "utf8")) as { calibration: string; calibration_source: string };
    assert.match(s.calibration, /^arith-demo-15m-f16\.gguf@[0-9a-f]{12}\/[0-9a-f]{8}\.[0-9a-f]{6}$/, "the demo model's shipped calibration");
    assert.match(s.calibration_source, /arith-processbench-dev.*shipped with StepLens for label's defaults/);
    for (const rec of a) assert.equal(rec.calibration, s.calibration);
    assert.match(r5.stderr, new RegExp(`soft labels use the calibration ${s.calibration.replace(/[.]/g, "\\.")}`));
    assert.ok(!existsSync(`${outFive}.calibration.json`), "no unannounced file beside the output");
    // The symptom of issue 12 item 3: 4 of these 5 are wrong, and errors must be predicted at all.
    assert.ok(a.filter((x) => x.label >= 0 && x.first_error >= 0).length >= 2, JSON.stringify(a.map((x) => [x.label, x.first_error])));
  });

  test("records labeled on another scale are not resumed into; a damaged leftover OUT.calibration.json gives no stack trace", async () => {
    const out = path.join(tmp, "old.jsonl");
    // An output of an earlier StepLens: records without `calibration`, and its damaged calibration file.
    writeFileSync(out, dev.slice(0, 2).map((l) => JSON.stringify({ ...(JSON.parse(l) as object), cpmi: [0.1], soft_label: [0.5], first_error: -1 })).join("\n") + "\n");
    writeFileSync(`${out}.calibration.json`, '{"median": 0.2, "mad":');
    const input = write("old-in.jsonl", dev.slice(0, 4));
    const r = await runCli(["label", input, "-o", out, "--threads", "1"], env);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /, "no stack trace");
    assert.match(r.stderr, /cannot resume .*old\.jsonl: 2 of its records were labeled by an earlier StepLens.*old\.jsonl\.calibration\.json, no longer used.*--overwrite/);
    assert.equal(lineCount(out), 2, "nothing was added to it");
    const again = await runCli(["label", input, "-o", out, "--threads", "1", "--overwrite"], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(lineCount(out), 4);
  });
});

describe("calibrations: measured once, cached, named (issue 12 item 3)", () => {
  test("settings without a known calibration use the neutral scale and say how to measure one; steplens calibrate measures it once and label uses it", async () => {
    const input = write("cal-in.jsonl", dev.slice(0, 3));
    const reference = write("cal-ref.jsonl", dev.slice(100, 125));
    const flags = ["--templates", "problem-final-answer", "--threads", "1"];
    const out = path.join(tmp, "cal-out.jsonl");
    const neutral = await runCli(["label", input, "-o", out, ...flags], env);
    assert.equal(neutral.code, 0, neutral.stderr);
    assert.match(neutral.stderr, /soft labels use the NEUTRAL scale .* Measure one once: steplens calibrate --for labeling --model \S+arith-demo-15m-f16\.gguf/);
    assert.ok(readJsonlFile<{ calibration: string }>(out).every((r) => r.calibration === "neutral"));

    const cal = await runCli(["calibrate", "--for", "labeling", "--data", reference, "--json", ...flags], env);
    assert.equal(cal.code, 0, cal.stderr);
    const stored = JSON.parse(cal.stdout) as { median: number; mad: number; n: number; settings: string; reference: string };
    assert.ok(stored.n > 50 && stored.mad > 0, cal.stdout);
    assert.match(stored.settings, /^templates=problem-final-answer#[0-9a-f]{6};negatives=solution\(m=1\);weights=frequency$/);
    const saved = /saved to (\S+\.json)/.exec(cal.stderr)?.[1];
    assert.ok(saved && saved.startsWith(path.join(cache, "calibrations")), cal.stderr);

    // The neutral records cannot be resumed into: one file, one scale.
    const mixed = await runCli(["label", input, "-o", out, ...flags], env);
    assert.notEqual(mixed.code, 0);
    assert.match(mixed.stderr, /labeled on another soft-label scale \(neutral; this run uses /);
    const fresh = await runCli(["label", input, "-o", out, ...flags, "--overwrite"], env);
    assert.equal(fresh.code, 0, fresh.stderr);
    const ids = new Set(readJsonlFile<{ calibration: string }>(out).map((r) => r.calibration));
    assert.equal(ids.size, 1);
    assert.match([...ids][0]!, /^arith-demo-15m-f16\.gguf@/);
    assert.match(fresh.stderr, /measured on \d+ steps of 25 records of cal-ref\.jsonl \(steplens calibrate/);

    // A damaged cached calibration: the file named, what to do, no stack trace.
    writeFileSync(saved, '{"version": 1, "median": "x"');
    const damaged = await runCli(["label", input, "-o", path.join(tmp, "cal-out2.jsonl"), ...flags], env);
    assert.equal(damaged.code, 1);
    assert.match(damaged.stderr, new RegExp(`the calibration file ${saved.replace(/[.]/g, "\\.")} is damaged \\(not valid JSON.*\\)\\. Delete it, then measure the calibration again with \`steplens calibrate`));
    assert.doesNotMatch(damaged.stderr, /unexpected error|\n\s+at /);
  });

  test("--calibration-records is refused with the reason, not silently ignored", async () => {
    const r = await runCli(["label", path.join(tmp, "none.jsonl"), "-o", path.join(tmp, "none-out.jsonl"), "--calibration-records", "8"], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--calibration-records is gone: soft labels now use one fixed calibration per model and reward settings/);
  });

  // A calibration is kept under the model file's fingerprint: over a model server there is no file to
  // fingerprint, and a scale saved under the server's model name alone would be used for any model
  // that server happens to serve under that name.
  test("calibrate over a model server is refused, saying where to run it; nothing is saved", async () => {
    const token = "label-cli-calibrate-token-0123456789";
    // A cache of its own (the other tests leave a damaged file in theirs), for the CLI and for the
    // server this process runs, which would otherwise read the user's.
    const own = path.join(tmp, "cache-remote");
    const saved = process.env.STEPLENS_CACHE_DIR;
    process.env.STEPLENS_CACHE_DIR = own;
    const server = await startInProcess({ token });
    try {
      const reference = write("cal-remote.jsonl", dev.slice(0, 25));
      const cached = (): string[] => (existsSync(path.join(own, "calibrations")) ? readdirSync(path.join(own, "calibrations")).sort() : []);
      const before = cached();
      const r = await runCli(["calibrate", "--backend", "remote", "--endpoint", server.url, "--token", token, "--data", reference], { STEPLENS_CACHE_DIR: own });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /calibrate needs the model file on this machine .* run `steplens calibrate --model FILE` where the model file is, e\.g\. on the machine that runs `steplens serve`/);
      assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /, "no stack trace");
      assert.deepEqual(cached(), before, "nothing saved for the server's model");
    } finally {
      await server.stop();
      if (saved === undefined) delete process.env.STEPLENS_CACHE_DIR;
      else process.env.STEPLENS_CACHE_DIR = saved;
    }
  });

  test("calibrate --for names the jobs it knows", async () => {
    const r = await runCli(["calibrate", "--for", "serving", "--data", path.join(tmp, "none.jsonl")], env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown --for "serving": use scoring or labeling/);
  });

  test("score --json names the calibration of its soft labels", async () => {
    const r = await runCli(["score", "examples/shopping.md", "--json", "--threads", "1"], env);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { calibration: { id: string; origin: string; source: string } };
    assert.equal(doc.calibration.origin, "shipped");
    assert.match(doc.calibration.source, /shipped with StepLens for the editor's and score's defaults/);
  });
});

describe("Implicit PRM's soft labels are named on their own scale (issue 12 item 3)", () => {
  test("label --method implicit carries σ(reward / 2β)'s id, cpmi_implicit both parts' ids; neither resumes into the other's output", async () => {
    const input = write("imp-in.jsonl", dev.slice(0, 2));
    const out = path.join(tmp, "imp-out.jsonl");
    const pair = ["--model", path.join(SHARED, "models/arith-implicit-prm-15m-f16.gguf"), "--reference-model", DEMO_MODEL, "--threads", "1"];
    const imp = await runCli(["label", input, "-o", out, "--method", "implicit", ...pair], env);
    assert.equal(imp.code, 0, imp.stderr);
    const rows = readJsonlFile<{ calibration: string; implicit: number[]; soft_label: number[] }>(out);
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.calibration, "implicit-prm(beta=0.05)");
      r.implicit.forEach((x, i) => assert.ok(Math.abs(r.soft_label[i]! - 1 / (1 + Math.exp(-x / 0.1))) < 1e-12, "σ(reward / 2β) with β = 0.05"));
    }
    assert.match(imp.stderr, /soft labels use the calibration implicit-prm\(beta=0\.05\): Implicit PRM: σ\(reward \/ 2β\), β = 0\.05/);
    const both = await runCli(["label", input, "-o", out, "--method", "cpmi_implicit", ...pair], env);
    assert.notEqual(both.code, 0);
    assert.match(both.stderr, /cannot resume .*imp-out\.jsonl: 2 of its records were labeled on another soft-label scale \(implicit-prm\(beta=0\.05\); this run uses arith-demo-15m-f16\.gguf@[0-9a-f]{12}\/[0-9a-f.]+\+implicit-prm\(beta=0\.05\)/);
    assert.doesNotMatch(both.stderr, /\n\s+at /, "no stack trace");
    const fresh = await runCli(["label", input, "-o", out, "--method", "cpmi_implicit", ...pair, "--overwrite"], env);
    assert.equal(fresh.code, 0, fresh.stderr);
    // CPMI runs on the reference (the demo model) with label's preset: its shipped calibration, joined with Implicit PRM's.
    for (const r of readJsonlFile<{ calibration: string }>(out)) assert.match(r.calibration, /^arith-demo-15m-f16\.gguf@[0-9a-f]{12}\/[0-9a-f]{8}\.[0-9a-f]{6}\+implicit-prm\(beta=0\.05\)$/);
  });
});
