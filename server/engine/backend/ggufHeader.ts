// The GGUF header checked against the file's size before node-llama-cpp or llama.cpp reads it. Their
// readers trust the counts: a 96-byte file whose header says 2^62 tensors and 2^62 metadata entries
// kept node-llama-cpp's readGgufFileInfo (which every model load calls) busy for minutes at 600 MB
// (issue 10). Every count and length here is checked against the bytes left before it is used, so
// the walk ends within the file, and a damaged file gets a message instead of a hang. The editor
// loads any file a user picks; the CLI, the language server, `serve` and `doctor` all come here.
//
// Layout (github.com/ggml-org/ggml docs/gguf.md; llama.cpp's gguf.cpp reads the same):
//   u32 magic "GGUF", u32 version (2 or 3; 1 is no longer read by llama.cpp),
//   u64 n_tensors, u64 n_kv,
//   n_kv × { string key, u32 type, value },            string = u64 length + bytes
//   n_tensors × { string name, u32 n_dims (≤ 4), n_dims × u64 dim, u32 ggml type, u64 offset },
//   padding to the alignment, then the tensor data.

import { closeSync, openSync, readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { BackendError } from "./types.js";

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_GGML_TYPE = 128; // ggml has ~40 types; anything far past that is damage
const MAX_KEY = 65_536; // llama.cpp's keys are short names such as "general.architecture"

// Value types: u8 i8 u16 i16 u32 i32 f32 bool string array u64 i64 f64.
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

class Damaged extends Error {}

const count = (n: number): string => (Number.isFinite(n) ? n.toLocaleString("en-US") : "more than 2^53");

/** Reads forward through a file in chunks, refusing to move past its end. Numbers past 2^53 are read
 * as Infinity: no file holds that many of anything, so every check below refuses them. */
class Cursor {
  pos = 0;
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  get left(): number {
    return this.size - this.pos;
  }

  /** Whether the next `n` bytes are already read: the vocabulary's 100k+ strings go this way. */
  private have(n: number): boolean {
    return this.pos + n <= this.bufStart + this.buf.length;
  }

  private async need(n: number, what: string): Promise<void> {
    if (n > this.left) throw new Damaged(`${what} runs past the end of the file`);
    if (this.have(n)) return;
    const length = Math.min(Math.max(n, 1 << 20), this.left);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(buf, 0, length, this.pos);
    if (bytesRead < n) throw new Damaged(`${what} runs past the end of the file`);
    this.buf = buf.subarray(0, bytesRead);
    this.bufStart = this.pos;
  }

  private readU64(): number {
    const at = this.pos - this.bufStart;
    const lo = this.buf.readUInt32LE(at);
    const hi = this.buf.readUInt32LE(at + 4);
    this.pos += 8;
    return hi > 0x1fffff ? Infinity : hi * 2 ** 32 + lo;
  }

  async u32(what: string): Promise<number> {
    await this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos - this.bufStart);
    this.pos += 4;
    return v;
  }

  async u64(what: string): Promise<number> {
    if (!this.have(8)) await this.need(8, what);
    return this.readU64();
  }

  /** Moves past `n` bytes that must lie within the file. */
  skip(n: number, what: string): void {
    if (!(n <= this.left)) throw new Damaged(`${what} (${count(n)} bytes) runs past the end of the file`);
    this.pos += n;
  }

  /** A string: its length, then that many bytes, which must lie within the file. */
  async string(what: string, max = Infinity): Promise<void> {
    if (!this.stringNow(what, max)) {
      await this.need(8, `the length of ${what}`);
      this.stringNow(what, max);
    }
  }

  /** `string` without a wait when its length is already read; false when it is not. */
  stringNow(what: string, max = Infinity): boolean {
    if (!this.have(8)) return false;
    const n = this.readU64();
    if (n > max) throw new Damaged(`${what} claims ${count(n)} bytes`);
    this.skip(n, what);
    return true;
  }

  /** The header's counts as written, for the message. */
  async u64Exact(what: string): Promise<bigint> {
    await this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos - this.bufStart);
    this.pos += 8;
    return v;
  }
}

async function value(c: Cursor, type: number, what: string): Promise<void> {
  const fixed = FIXED_SIZE[type];
  if (fixed !== undefined) return c.skip(fixed, what);
  if (type === STRING) return c.string(what);
  if (type === ARRAY) {
    const elem = await c.u32(`the element type of ${what}`);
    const n = await c.u64(`the length of ${what}`);
    const elemFixed = FIXED_SIZE[elem];
    if (elemFixed !== undefined) return c.skip(n * elemFixed, what);
    if (elem !== STRING) throw new Damaged(`${what} has elements of unknown type ${elem}`);
    // Each string takes at least its 8-byte length: a count the file cannot hold is refused at once.
    if (!(n * 8 <= c.left)) throw new Damaged(`${what} claims ${count(n)} strings, more than the rest of the file can hold`);
    for (let i = 0; i < n; i++) if (!c.stringNow(what)) await c.string(what);
    return;
  }
  throw new Damaged(`${what} has unknown value type ${type}`);
}

/** Checks the header, metadata and tensor table of a GGUF file; throws a damaged-file message. */
async function walk(c: Cursor): Promise<void> {
  if (c.size < 24) throw new Damaged(`it is ${c.size} bytes long, shorter than a GGUF header (24 bytes)`);
  if ((await c.u32("the magic")) !== MAGIC) throw new Damaged("it does not start with the GGUF magic bytes");
  const version = await c.u32("the version");
  if (version === 1) throw new Damaged("it is GGUF version 1, which llama.cpp no longer reads; convert the model again");
  if (version !== 2 && version !== 3) throw new Damaged(`its header names GGUF version ${version}, which does not exist (2 and 3 do)`);
  const tensorsExact = await c.u64Exact("the tensor count");
  const kvsExact = await c.u64Exact("the metadata count");
  // The smallest metadata entry is 14 bytes (8-byte key length, a 1-byte key, type, a 1-byte value),
  // the smallest tensor entry 33 (8 + 1 name, n_dims, one dimension, type, offset).
  if (kvsExact * 14n + tensorsExact * 33n > BigInt(c.left)) {
    throw new Damaged(
      `its header claims ${tensorsExact.toLocaleString("en-US")} tensors and ${kvsExact.toLocaleString("en-US")} metadata entries, more than a ${count(c.size)}-byte file can hold`,
    );
  }
  const tensors = Number(tensorsExact);
  const kvs = Number(kvsExact);
  for (let i = 1; i <= kvs; i++) {
    await c.string(`the key of metadata entry ${i}`, MAX_KEY);
    const type = await c.u32(`the type of metadata entry ${i}`);
    await value(c, type, `metadata entry ${i}`);
  }
  for (let i = 1; i <= tensors; i++) {
    const what = `tensor ${i}`;
    await c.string(`the name of ${what}`, MAX_KEY);
    const dims = await c.u32(`the dimension count of ${what}`);
    if (dims < 1 || dims > MAX_DIMS) throw new Damaged(`${what} has ${dims} dimensions (1 to ${MAX_DIMS} exist)`);
    let elements = 1;
    for (let d = 0; d < dims; d++) elements *= await c.u64(`a dimension of ${what}`);
    if (!(elements <= 2 ** 62)) throw new Damaged(`${what} claims ${count(elements)} elements`);
    const type = await c.u32(`the type of ${what}`);
    if (type >= MAX_GGML_TYPE) throw new Damaged(`${what} has unknown tensor type ${type}`);
    const offset = await c.u64(`the data offset of ${what}`);
    if (!(offset < c.size)) throw new Damaged(`${what}'s data would start ${count(offset)} bytes in, past the end of the file`);
  }
}

/**
 * Refuses a file whose GGUF header or tables do not fit in it, before a reader that trusts them
 * does. A file that does not start with the GGUF magic is refused too.
 */
export async function checkGgufFile(modelPath: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(modelPath, "r");
  } catch (err) {
    throw new BackendError(`cannot read the model file ${modelPath}: ${(err as Error).message}`, "model-invalid");
  }
  try {
    const { size } = await handle.stat();
    await walk(new Cursor(handle, size));
  } catch (err) {
    if (!(err instanceof Damaged)) throw new BackendError(`cannot read the model file ${modelPath}: ${(err as Error).message}`, "model-invalid");
    throw new BackendError(
      `${modelPath} is not a usable GGUF model: ${err.message}. The file is damaged, cut short or not a model; ` +
        `download it again, or convert the model with llama.cpp's convert_hf_to_gguf.py.`,
      "model-invalid",
    );
  } finally {
    await handle.close();
  }
}

/** Whether a file starts with the GGUF magic bytes: the cheap first test, before the header is read. */
export function startsWithGgufMagic(file: string): boolean {
  const head = Buffer.alloc(4);
  const fd = openSync(file, "r");
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.readUInt32LE(0) === MAGIC;
}
