import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { countLines, DatasetError, readJsonl, type JsonlItem } from "../server/engine/data/jsonl.js";

const tmp = mkdtempSync(path.join(tmpdir(), "steplens-jsonl-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = path.join(tmp, name);
  writeFileSync(p, content);
  return p;
}

async function collect(p: string, strict = false): Promise<JsonlItem[]> {
  const items: JsonlItem[] = [];
  for await (const item of readJsonl(p, { strict })) items.push(item);
  return items;
}

describe("readJsonl", () => {
  test("a malformed line is reported with its line number, and reading goes on", async () => {
    const p = file("bad.jsonl", ['{"id": 1}', "", '{"id": 2', '{"id": 3}'].join("\n") + "\n");
    const items = await collect(p);
    assert.equal(items.length, 3);
    assert.deepEqual(items[0], { lineNumber: 1, raw: '{"id": 1}', value: { id: 1 } });
    assert.equal(items[1]!.lineNumber, 3, "the blank line 2 is counted, as an editor counts it");
    assert.equal(items[1]!.value, undefined);
    assert.match(items[1]!.error!, /^not valid JSON: /);
    assert.equal(items[1]!.raw, '{"id": 2');
    assert.deepEqual(items[2]!.value, { id: 3 });
    assert.equal(items[2]!.lineNumber, 4);
  });

  test("strict mode throws at the first bad line, naming file and line, after the good ones", async () => {
    const p = file("strict.jsonl", '{"a": 1}\n{"a": 2}\nnope\n{"a": 4}\n');
    const seen: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const item of readJsonl(p, { strict: true })) seen.push(item.value);
      })(),
      (err: unknown) => err instanceof DatasetError && /strict\.jsonl line 3: not valid JSON/.test(err.message),
    );
    assert.deepEqual(seen, [{ a: 1 }, { a: 2 }]);
  });

  test("CRLF, a missing final newline, a byte-order mark and whitespace-only lines", async () => {
    const p = file("crlf.jsonl", '\uFEFF{"id": "a"}\r\n  \r\n{"id": "b"}\r\n\r\n{"id": "c"}');
    const items = await collect(p);
    assert.deepEqual(
      items.map((i) => [i.lineNumber, i.value]),
      [
        [1, { id: "a" }],
        [3, { id: "b" }],
        [5, { id: "c" }],
      ],
    );
    assert.ok(items.every((i) => !i.raw.endsWith("\r")));
    assert.equal(await countLines(p), 3);
  });

  test("U+2028 inside a JSON string does not split the line; multi-byte text survives chunk boundaries", async () => {
    const long = "é".repeat(70_000); // 140 kB: crosses the stream's 64 kB chunks mid-character
    const p = file("unicode.jsonl", JSON.stringify({ s: "a\u2028b" }) + "\n" + JSON.stringify({ s: long }) + "\n");
    const items = await collect(p);
    assert.equal(items.length, 2);
    assert.deepEqual(items[0]!.value, { s: "a\u2028b" });
    assert.deepEqual(items[1]!.value, { s: long });
    assert.equal(await countLines(p), 2);
  });

  test("a missing file gives a message that names the path", async () => {
    const missing = path.join(tmp, "missing.jsonl");
    const expected = (err: unknown): boolean =>
      err instanceof DatasetError && err.message.startsWith(`cannot read dataset ${missing}: ENOENT`) && /check the path/.test(err.message);
    await assert.rejects(collect(missing), expected);
    await assert.rejects(countLines(missing), expected);
  });

  test("a folder in place of the file is refused clearly", async () => {
    await assert.rejects(collect(tmp), /cannot read dataset .*: it is a directory/);
    await assert.rejects(countLines(tmp), /cannot read dataset .*: it is a directory/);
  });

  test("stopping early (break) ends cleanly", async () => {
    const p = file("many.jsonl", Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i })).join("\n"));
    let n = 0;
    for await (const item of readJsonl(p)) {
      if (++n === 3) {
        assert.deepEqual(item.value, { i: 2 });
        break;
      }
    }
    assert.equal(n, 3);
  });

  test("an empty file yields nothing", async () => {
    const p = file("empty.jsonl", "");
    assert.deepEqual(await collect(p), []);
    assert.equal(await countLines(p), 0);
  });
});

describe("countLines", () => {
  test("agrees with readJsonl, malformed lines included", async () => {
    const p = file("mixed.jsonl", '{"a":1}\n\n  \nbroken\n{"a":2}\n \t \n{"a":3}\n\n');
    assert.equal(await countLines(p), (await collect(p)).length);
    assert.equal(await countLines(p), 4);
  });
  // Its speed on a 45 MB file is measured in bench/timings.ts (a wall-clock bound here fails under load).
});
