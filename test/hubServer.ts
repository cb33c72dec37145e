// A loopback stand-in for the Hugging Face hub, in the hub's URL layout, for `steplens pull` tests:
//   GET  /v2/USER/REPO/manifests/TAG         -> {"ggufFile": {"rfilename": ...}} (what llama.cpp and node-llama-cpp ask)
//   HEAD|GET /USER/REPO/resolve/main/FILE    -> 302 to the storage, with X-Linked-Etag (the SHA-256) and X-Linked-Size
//   HEAD|GET /storage/SHA                    -> the bytes, with byte ranges (206) as a CDN serves them
// Faults for the tests: cut the first transfer after N bytes, stall it after N bytes (until the
// client gives up), serve corrupted bytes under the right checksum; a gated repository wants a token.

import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface HubFile {
  repo: string;
  file: string;
  bytes: Buffer;
  /** Manifest tags (quantizations) that resolve to this file, e.g. "Q8_0". */
  tags?: string[];
}

export interface HubRequest {
  method: string;
  path: string;
  range?: string;
  authorized: boolean;
}

export interface HubFaults {
  /** Close the connection of the first storage GET after this many body bytes. */
  cutAfter?: number;
  /**
   * Once this many body bytes went out, each transfer goes on to the next multiple of `stallAlign`
   * in the file (ipull's 5 MB chunks, so what arrived is whole chunks), then sends nothing more
   * until the client hangs up.
   */
  stallAfter?: number;
  stallAlign?: number;
  /**
   * A ranged transfer that reaches this byte of the file goes silent there (until the client hangs
   * up); the stall is announced once every byte before it went out. At the start of the last chunk:
   * every other chunk arrives, and the only transfer left never ends.
   */
  stallAt?: number;
  /** Flip one byte of what the storage serves (the checksum header stays the original's). */
  corrupt?: boolean;
}

export class Hub {
  readonly requests: HubRequest[] = [];
  private currentFaults: HubFaults = {};
  /** Setting new faults also forgets an earlier stall and cut, so that waitForStall waits for a new one. */
  get faults(): HubFaults {
    return this.currentFaults;
  }
  set faults(faults: HubFaults) {
    this.currentFaults = faults;
    this.cutAt = undefined;
    this.stalled = false;
    this.held = false;
  }
  /** Body bytes the storage handed to its sockets in ranged transfers (ipull's parallel transfers
   * overlap and are abandoned part-way, so this counts more than the file even without a fault). */
  bytesSent = 0;
  /** Where faults.cutAfter cut a transfer: the file bytes [start, end) went out before the cut, and
   * requests[requestIndex] was the request it cut. */
  cutAt: { start: number; end: number; requestIndex: number } | undefined;
  private stalledWaiters: (() => void)[] = [];
  private stalled = false;
  /** A transfer is silent at faults.stallAt. */
  private held = false;
  private readonly sockets = new Set<import("node:net").Socket>();

  private server: http.Server | undefined;
  /** http://127.0.0.1:PORT, once started. */
  url = "";

  private constructor() {}

  static async start(files: HubFile[], options: { gated?: { repo: string; token: string } } = {}): Promise<Hub> {
    const bySha = new Map<string, Buffer>();
    const entries = files.map((f) => {
      const sha = createHash("sha256").update(f.bytes).digest("hex");
      bySha.set(sha, f.bytes);
      return { ...f, sha };
    });
    const hub = new Hub();
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const authorized = options.gated ? req.headers.authorization === `Bearer ${options.gated.token}` : true;
      hub.requests.push({ method: req.method ?? "", path: url.pathname, range: req.headers.range, authorized });
      const needsToken = (repo: string): boolean => options.gated?.repo === repo && !authorized;
      const manifest = /^\/v2\/([^/]+\/[^/]+)\/manifests\/([^/]+)$/.exec(url.pathname);
      if (manifest) {
        const [, repo, tag] = manifest;
        if (needsToken(repo!)) return send(res, 401, { error: "Access to this model is restricted" });
        const f = entries.find((e) => e.repo === repo && (e.tags ?? []).map((t) => t.toLowerCase()).includes(decodeURIComponent(tag!).toLowerCase()));
        if (!f) return send(res, 404, { error: "Repository or tag not found" });
        return send(res, 200, { ggufFile: { rfilename: f.file, size: f.bytes.length } });
      }
      const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
      if (resolve) {
        const [, repo, , file] = resolve;
        if (needsToken(repo!)) return send(res, 401, { error: "Access to this model is restricted" });
        const f = entries.find((e) => e.repo === repo && e.file === decodeURIComponent(file!));
        if (!f) return send(res, 404, { error: "Entry not found" });
        res.writeHead(302, {
          location: `/storage/${f.sha}?name=${encodeURIComponent(f.file)}`,
          "x-linked-etag": `"${f.sha}"`,
          "x-linked-size": String(f.bytes.length),
          etag: `"${f.sha}"`,
          "content-length": "0",
        });
        return res.end();
      }
      const storage = /^\/storage\/([0-9a-f]{64})$/.exec(url.pathname);
      const original = storage ? bySha.get(storage[1]!) : undefined;
      if (!original) return send(res, 404, { error: "not found" });
      const bytes = hub.faults.corrupt ? flipped(original) : original;
      let start = 0;
      let end = bytes.length - 1;
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
      if (range) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(end, Number(range[2]));
      }
      const headers = { "accept-ranges": "bytes", "content-type": "application/octet-stream", etag: `"${storage![1]}"` };
      if (range) {
        res.writeHead(206, { ...headers, "content-length": String(end - start + 1), "content-range": `bytes ${start}-${end}/${bytes.length}` });
      } else res.writeHead(200, { ...headers, "content-length": String(bytes.length) });
      if (req.method === "HEAD") return res.end();
      // A GET without a range is how ipull first reads the size (it stops reading after the headers):
      // only ranged transfers count as the download.
      hub.stream(res, bytes.subarray(start, end + 1), range != null, start, hub.requests.length - 1);
    });
    server.on("connection", (s) => {
      hub.sockets.add(s);
      s.on("close", () => hub.sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    hub.server = server;
    hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return hub;
  }

  /** Resolves once a transfer is stalled (faults.stallAfter or faults.stallAt). */
  async waitForStall(): Promise<void> {
    if (this.stalled) return;
    await new Promise<void>((r) => this.stalledWaiters.push(r));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private announceHeldStall(): void {
    const { stallAt } = this.faults;
    if (!this.held || this.stalled || stallAt == null || this.bytesSent < stallAt) return;
    this.stalled = true;
    for (const w of this.stalledWaiters.splice(0)) w();
  }

  private stream(res: http.ServerResponse, body: Buffer, counted: boolean, start: number, requestIndex: number): void {
    const { cutAfter, stallAfter, stallAt } = this.faults;
    const align = this.faults.stallAlign ?? 5 * 1024 * 1024;
    let cutAt = body.length;
    if (counted && cutAfter != null && this.cutAt === undefined && cutAfter < body.length) {
      cutAt = cutAfter;
      this.cutAt = { start, end: start + cutAfter, requestIndex };
    }
    let offset = 0;
    const pump = (): void => {
      while (offset < body.length) {
        if (offset >= cutAt) return void res.socket?.destroy();
        if (counted && stallAt != null && start + offset === stallAt) {
          this.held = true;
          this.announceHeldStall();
          return;
        }
        if (counted && stallAfter != null && this.bytesSent >= stallAfter && (start + offset) % align === 0) {
          // Stalled: the connection stays open and silent until the client gives up.
          this.stalled = true;
          for (const w of this.stalledWaiters.splice(0)) w();
          return;
        }
        // Pieces end on `align` boundaries so that a stall can happen exactly there.
        const nextBoundary = (Math.floor((start + offset) / align) + 1) * align - start;
        const piece = body.subarray(offset, Math.min(cutAt, body.length, offset + 64 * 1024, nextBoundary));
        offset += piece.length;
        if (counted) {
          this.bytesSent += piece.length;
          this.announceHeldStall();
        }
        if (!res.write(piece)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  }
}

function flipped(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const at = Math.floor(copy.length / 2);
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
  res.end(text);
}
