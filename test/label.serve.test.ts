// POST /v1/label and the soft-label scale (issue 12 item 3): a record gets the same soft labels in a
// batch of one as in a bigger batch, named by the calibration it carries. Real HTTP on loopback, the
// real demo model.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DATA, readJsonlFile } from "./helpers.js";
import { postJson, startInProcess, type InProcessServer } from "./serveHelpers.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-label-serve-"));
process.env.STEPLENS_CACHE_DIR = path.join(tmp, "cache");
const TOKEN = "label-serve-token-0123456789abcdef";
const records = readJsonlFile<{ id: string; problem: string; steps: string[]; gold_answer: string; label: number }>(path.join(DATA, "arith-processbench-dev.jsonl"));

interface Line {
  event: string;
  record?: { id: string; soft_label: number[]; first_error: number; calibration: string };
  stats?: { records: number; calibration: string };
  error?: { message: string };
}

async function label(s: InProcessServer, batch: unknown[], options?: Record<string, unknown>): Promise<{ status: number; lines: Line[]; text: string }> {
  const res = await postJson(`${s.url}/v1/label`, { records: batch, ...(options ? { options } : {}) }, { token: TOKEN });
  const text = await res.text();
  return { status: res.status, text, lines: res.status === 200 ? text.trim().split("\n").map((l) => JSON.parse(l) as Line) : [] };
}

describe("/v1/label on one scale", () => {
  let s: InProcessServer;
  before(async () => {
    s = await startInProcess({ token: TOKEN, concurrency: 1 });
  });
  after(async () => {
    await s.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("a record alone and the same record among four others: identical, and the calibration named", async () => {
    const alone = await label(s, [records[1]]);
    const among = await label(s, records.slice(0, 5));
    assert.equal(alone.status, 200, alone.text);
    assert.equal(among.status, 200, among.text);
    const one = alone.lines.find((l) => l.event === "record")!.record!;
    const same = among.lines.filter((l) => l.event === "record").map((l) => l.record!).find((r) => r.id === records[1]!.id)!;
    assert.deepEqual(one, same);
    const stats = among.lines.at(-1)!.stats!;
    assert.equal(one.calibration, stats.calibration);
    assert.equal(stats.calibration, s.engine.scorer.config.calibration.id, "the served engine's calibration, as /v1/score uses");
    assert.match(stats.calibration, /^arith-demo-15m-f16\.gguf@/);
  });

  test("options.calibration_records is refused with the reason", async () => {
    const r = await label(s, [records[0]], { calibration_records: 2 });
    assert.equal(r.status, 400);
    const { error } = JSON.parse(r.text) as { error: { code: string; message: string } };
    assert.equal(error.code, "invalid-request");
    assert.match(error.message, /"options\.calibration_records": is no longer taken: soft labels use the model's fixed calibration/);
  });

  // Issue 10 item 1 over HTTP: the batch is the input and the response the output, so the server has
  // no path a client could aim at its own input. A body that names files is refused, not obeyed in
  // part (labeled with the names dropped), and the named file is left as it was.
  test("a body naming an input or output file is refused by name, and the file keeps its bytes", async () => {
    const file = path.join(tmp, "dataset.jsonl");
    const text = JSON.stringify(records[0]) + "\n";
    writeFileSync(file, text);
    for (const body of [
      { records: [records[0]], output: file },
      { records: [records[0]], input: file, output: file },
      { records: [records[0]], options: { output: file } },
    ]) {
      const res = await postJson(`${s.url}/v1/label`, body, { token: TOKEN });
      const raw = await res.text();
      assert.equal(res.status, 400, raw);
      const { error } = JSON.parse(raw) as { error: { code: string; message: string } };
      assert.equal(error.code, "invalid-request");
      assert.match(error.message, /"(options\.)?(input|output)": is not taken: \/v1\/label reads the records from the request body.*`steplens label IN -o OUT`/);
      assert.equal(readFileSync(file, "utf8"), text);
    }
  });
});
