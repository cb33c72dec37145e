import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { DatasetError, ResumableJsonlWriter } from "../server/engine/data/jsonl.js";

const REPO = path.resolve(import.meta.dirname, "..");
const tmp = mkdtempSync(path.join(tmpdir(), "steplens-writer-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function fresh(name = "out.jsonl"): string {
  return path.join(tmp, `${counter++}-${name}`);
}

/** Every line of the file must be complete JSON; returns the parsed lines. */
function wholeLines(p: string): unknown[] {
  const text = readFileSync(p, "utf8");
  assert.ok(text === "" || text.endsWith("\n"), `the file ends mid-line: ${JSON.stringify(text.slice(-40))}`);
  return text
    .split("\n")
    .slice(0, -1)
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as unknown);
}

async function writeRecords(p: string, records: unknown[], resume = true): Promise<void> {
  const w = await ResumableJsonlWriter.open(p, { resume });
  for (const r of records) w.write(r);
  await w.close();
}

describe("ResumableJsonlWriter", () => {
  test("resumes after a simulated crash: the half line is cut, the whole lines and their ids kept", async () => {
    const p = fresh();
    await writeRecords(p, [{ id: "a", x: 1 }, { id: "b", x: 2 }, { id: "c", x: 3 }]);
    appendFileSync(p, '{"id": "d", "x": [1, 2'); // a write cut off mid-line
    const w = await ResumableJsonlWriter.open(p, { resume: true });
    assert.deepEqual([...w.doneIds].sort(), ["a", "b", "c"]);
    assert.equal(w.resumedLines, 3);
    assert.equal(w.cut?.lineNumber, 4);
    assert.match(w.cut?.reason ?? "", /no line ending/);
    assert.deepEqual(wholeLines(p), [{ id: "a", x: 1 }, { id: "b", x: 2 }, { id: "c", x: 3 }], "cut at open, before any write");
    w.write({ id: "d", x: 4 });
    await w.close();
    assert.deepEqual(
      wholeLines(p).map((r) => (r as { id: string }).id),
      ["a", "b", "c", "d"],
    );
  });

  test("cuts at the right byte when earlier lines hold multi-byte text", async () => {
    const p = fresh();
    const records = [{ id: "é", t: "日本語 ✓" }, { id: "ß", t: "😀".repeat(10) }];
    await writeRecords(p, records);
    appendFileSync(p, '{"id": "ü", "t": "日本');
    const w = await ResumableJsonlWriter.open(p, { resume: true });
    await w.close();
    assert.deepEqual(wholeLines(p), records);
    assert.deepEqual([...w.doneIds], ["é", "ß"]);
  });

  test("a last line that ends in a newline but does not parse is cut too", async () => {
    const p = fresh();
    await writeRecords(p, [{ id: "a" }]);
    appendFileSync(p, '{"id": "b", \n');
    const w = await ResumableJsonlWriter.open(p, { resume: true });
    await w.close();
    assert.deepEqual(w.cut?.lineNumber, 2);
    assert.match(w.cut?.reason ?? "", /not valid JSON/);
    assert.deepEqual(wholeLines(p), [{ id: "a" }]);
  });

  test("a last line without its newline is cut even when it parses (the id will be redone)", async () => {
    const p = fresh();
    writeFileSync(p, '{"id": "a"}\n{"id": "b"}');
    const w = await ResumableJsonlWriter.open(p, { resume: true });
    await w.close();
    assert.deepEqual([...w.doneIds], ["a"]);
    assert.equal(readFileSync(p, "utf8"), '{"id": "a"}\n');
  });

  test("blank lines and lines without an id are kept; numeric ids become strings", async () => {
    const p = fresh();
    writeFileSync(p, '{"id": 7}\n\n{"note": "no id"}\n  \n');
    const w = await ResumableJsonlWriter.open(p, { resume: true });
    await w.close();
    assert.deepEqual([...w.doneIds], ["7"]);
    assert.equal(w.cut, undefined);
    assert.equal(readFileSync(p, "utf8"), '{"id": 7}\n\n{"note": "no id"}\n  \n');
  });

  test("a damaged line in the middle is not a cut-off write: refuse and leave the file alone", async () => {
    const p = fresh();
    const text = '{"id": "a"}\n{"id": "b\n{"id": "c"}\n';
    writeFileSync(p, text);
    await assert.rejects(
      ResumableJsonlWriter.open(p, { resume: true }),
      (err: unknown) => err instanceof DatasetError && /line 2 is damaged .* --overwrite/.test(err.message),
    );
    assert.equal(readFileSync(p, "utf8"), text);
  });

  test("a half line across the 64 kB read chunks is found", async () => {
    const p = fresh();
    const big = Array.from({ length: 5 }, (_, i) => ({ id: `r${i}`, pad: "x".repeat(30_000 + i) }));
    await writeRecords(p, big);
    appendFileSync(p, JSON.stringify({ id: "r5", pad: "y".repeat(100_000) }).slice(0, 70_000));
    const w = await ResumableJsonlWriter.open(p, { resume: true });
    await w.close();
    assert.equal(w.doneIds.size, 5);
    assert.deepEqual(wholeLines(p), big);
  });

  test("without resume, or with overwrite, the file starts empty", async () => {
    const p = fresh();
    await writeRecords(p, [{ id: "old" }]);
    const w = await ResumableJsonlWriter.open(p, { resume: false });
    assert.equal(w.doneIds.size, 0);
    assert.equal(readFileSync(p, "utf8"), "");
    w.write({ id: "new" });
    await w.close();
    assert.deepEqual(wholeLines(p), [{ id: "new" }]);
    const o = await ResumableJsonlWriter.open(p, { resume: true, overwrite: true });
    await o.close();
    assert.equal(o.doneIds.size, 0);
    assert.equal(readFileSync(p, "utf8"), "");
  });

  test("resume on a file that does not exist yet creates it", async () => {
    const p = fresh();
    const w = await ResumableJsonlWriter.open(p, { resume: true });
    assert.equal(w.doneIds.size, 0);
    w.write({ id: "a", text: "line\nbreak \u2028 inside" });
    await w.close();
    assert.deepEqual(wholeLines(p), [{ id: "a", text: "line\nbreak \u2028 inside" }]);
  });

  test("a missing folder or a folder in place of the file gives a clear message", async () => {
    const inMissing = path.join(tmp, "no-such-folder", "out.jsonl");
    await assert.rejects(
      ResumableJsonlWriter.open(inMissing, { resume: true }),
      (err: unknown) =>
        err instanceof DatasetError && err.message === `cannot write ${inMissing}: the folder ${path.dirname(inMissing)} does not exist; create it first`,
    );
    assert.equal(existsSync(path.dirname(inMissing)), false);
    await assert.rejects(ResumableJsonlWriter.open(tmp, { resume: false }), /cannot write .*: it is a folder/);
  });

  test("writing after close fails; closing twice is fine", async () => {
    const w = await ResumableJsonlWriter.open(fresh(), { resume: false });
    await w.close();
    await w.close();
    assert.throws(() => w.write({ id: "x" }), /the writer is closed/);
  });

  test("a process killed while writing leaves only whole lines, and resume picks them all up", async () => {
    const p = fresh("killed.jsonl");
    const child = path.join(tmp, "child-writer.mts");
    const writerModule = pathToFileURL(path.join(REPO, "server/engine/data/jsonl.ts")).href;
    writeFileSync(
      child,
      `import { ResumableJsonlWriter } from ${JSON.stringify(writerModule)};\n` +
        `const w = await ResumableJsonlWriter.open(process.argv[2]!, { resume: true });\n` +
        `for (let i = 0; i < 100_000; i++) w.write({ id: "r" + i, pad: "x".repeat(1000 + (i % 97)) });\n`,
    );
    const proc = spawn(process.execPath, ["--import", "tsx", child, p], { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on("exit", (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const timer = setInterval(() => {
        const size = existsSync(p) ? statSync(p).size : 0;
        if (size > 2_000_000) {
          clearInterval(timer);
          proc.kill("SIGKILL");
          resolve();
        } else if (Date.now() - started > 20_000 || proc.exitCode !== null) {
          clearInterval(timer);
          proc.kill("SIGKILL");
          reject(new Error(`the child did not write enough: ${stderr}`));
        }
      }, 5);
    });
    const signal = await exited;
    assert.ok(signal === "SIGKILL" || signal === null, String(signal));
    const w = await ResumableJsonlWriter.open(p, { resume: true });
    await w.close();
    const lines = wholeLines(p) as { id: string }[];
    assert.ok(lines.length > 100);
    assert.equal(w.doneIds.size, lines.length);
    assert.deepEqual(
      lines.map((l) => l.id),
      lines.map((_, i) => `r${i}`),
      "in order, none lost or doubled",
    );
  });
});
