// GGUF headers checked against the file's size before node-llama-cpp reads them (issue 10 item 7):
// a crafted 96-byte file (magic, then n_tensors = n_kv = 2^62) kept the load busy for minutes.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkGgufFile } from "../server/engine/backend/ggufHeader.js";
import { LlamaCppBackend } from "../server/engine/backend/llamaCpp.js";
import { DEMO_MODEL, runCli, SHARED } from "./helpers.js";

let tmp: string;
let crafted: string;

function header(version: number, tensors: bigint, kvs: bigint, size = 96): Buffer {
  const b = Buffer.alloc(size);
  b.write("GGUF", 0, "latin1");
  b.writeUInt32LE(version, 4);
  b.writeBigUInt64LE(tensors, 8);
  b.writeBigUInt64LE(kvs, 16);
  return b;
}

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "steplens-gguf-"));
  crafted = path.join(tmp, "crafted.gguf");
  writeFileSync(crafted, header(3, 1n << 62n, 1n << 62n));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const CLAIM = /crafted\.gguf is not a usable GGUF model: its header claims 4,611,686,018,427,387,904 tensors and 4,611,686,018,427,387,904 metadata entries, more than a 96-byte file can hold/;

describe("GGUF header check (issue 10 item 7)", () => {
  test("the crafted 96-byte file is refused by the model load every front end uses", { timeout: 60_000 }, async () => {
    await assert.rejects(LlamaCppBackend.load({ modelPath: crafted, gpu: "off", threads: 1 }), CLAIM);
  });

  test("steplens score and steplens doctor refuse it with that message", { timeout: 120_000 }, async () => {
    const score = await runCli(["score", "examples/shopping.md", "--model", crafted, "--gpu", "off"]);
    assert.equal(score.code, 1);
    assert.match(score.stderr, CLAIM);
    const doctor = await runCli(["doctor", "--model", crafted, "--gpu", "off"]);
    assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, CLAIM);
  });

  test("every model in ../shared/models passes, real vocabularies included", async () => {
    const models = readdirSync(path.join(SHARED, "models")).filter((f) => f.endsWith(".gguf"));
    assert.ok(models.length >= 1);
    for (const f of models) await checkGgufFile(path.join(SHARED, "models", f));
  });

  test("damage anywhere in the header or tables is named: cut short, wrong version, huge string, bad tensor", async () => {
    // The demo model cut inside its metadata, and cut after its tensor table.
    const head = Buffer.alloc(64 * 1024);
    const fd = openSync(DEMO_MODEL, "r");
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    const cut = path.join(tmp, "cut.gguf");
    writeFileSync(cut, head.subarray(0, 8 * 1024));
    await assert.rejects(checkGgufFile(cut), /cut\.gguf is not a usable GGUF model: metadata entry \d+ (?:claims [\d,]+ strings, more than the rest of the file can hold|.*runs past the end of the file)/);
    writeFileSync(cut, head);
    await assert.rejects(checkGgufFile(cut), /cut\.gguf is not a usable GGUF model: tensor \d+'s data would start [\d,]+ bytes in, past the end of the file/);

    const v9 = path.join(tmp, "v9.gguf");
    writeFileSync(v9, header(9, 0n, 0n));
    await assert.rejects(checkGgufFile(v9), /GGUF version 9, which does not exist/);
    const v1 = path.join(tmp, "v1.gguf");
    writeFileSync(v1, header(1, 0n, 0n));
    await assert.rejects(checkGgufFile(v1), /GGUF version 1, which llama\.cpp no longer reads/);

    // One metadata entry whose key claims 2^40 bytes.
    const longKey = header(3, 0n, 1n, 64);
    longKey.writeBigUInt64LE(1n << 40n, 24);
    const lk = path.join(tmp, "long-key.gguf");
    writeFileSync(lk, longKey);
    await assert.rejects(checkGgufFile(lk), /the key of metadata entry 1 claims 1,099,511,627,776 bytes/);

    // One tensor with 9 dimensions.
    const t = header(3, 1n, 0n, 96);
    t.writeBigUInt64LE(1n, 24);
    t.write("w", 32, "latin1");
    t.writeUInt32LE(9, 33);
    const bad = path.join(tmp, "dims.gguf");
    writeFileSync(bad, t);
    await assert.rejects(checkGgufFile(bad), /tensor 1 has 9 dimensions \(1 to 4 exist\)/);

    const text = path.join(tmp, "notes.gguf");
    writeFileSync(text, "these are notes, not a model\n".repeat(4));
    await assert.rejects(checkGgufFile(text), /does not start with the GGUF magic bytes/);
  });
});
