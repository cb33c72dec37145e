// Request and response plumbing of `steplens serve`: JSON bodies under a size limit, and every error
// as {error: {code, message}} with the right status, so clients never parse an HTML page or a stack.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorBody } from "../engine/backend/remote.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The client closed its connection before its request arrived whole: nobody reads an answer. */
export class ClientGone extends Error {
  constructor(readonly received: number) {
    super("the client closed the connection before its request body arrived");
    this.name = "ClientGone";
  }
}

/**
 * How much of a refused body is read to its end and thrown away. A client still uploading when the
 * connection closes sees a reset, not the 413 (or 403, 415) that says what to do: a body up to this
 * size is drained and the connection kept, a larger one (or one of unknown size) is cut.
 */
export function drainLimit(limit: number): number {
  return Math.max(16 * 1024 * 1024, 4 * limit);
}

/** Whether a refused request's body is drained (see drainLimit) rather than cut with the connection. */
export function drainable(req: IncomingMessage, limit: number): boolean {
  const declared = Number(req.headers["content-length"]);
  return req.headers["content-length"] != null && Number.isFinite(declared) && declared <= drainLimit(limit);
}

/**
 * Reads the whole body, refusing (413) as soon as it grows past `limit` bytes; the rest is drained
 * up to drainLimit, then the connection is cut. A client that hangs up mid-body is ClientGone, not
 * a server error.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      return reject(tooLarge(declared, limit));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        if (size > drainLimit(limit)) req.socket.destroy();
        return;
      }
      if (size > limit) {
        refused = true;
        chunks.length = 0;
        reject(tooLarge(size, limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!refused) resolve(Buffer.concat(chunks).toString("utf8"));
    });
    // Node reports a hang-up mid-body as an "aborted" error (ECONNRESET), sometimes only as "close".
    const gone = (): void => {
      if (!refused && !req.complete) reject(new ClientGone(size));
    };
    req.on("error", gone);
    req.on("close", gone);
  });
}

function tooLarge(_size: number, limit: number): HttpError {
  return new HttpError(413, "body-too-large", `the request body is larger than ${limit} bytes, the server's limit (--max-body); send less per request`);
}

/**
 * No StepLens request nests deeper than a few levels; the cap keeps the recursion in JSON.stringify,
 * the schemas and the engine far from the stack's limit (a 100k-deep array overflowed it: a 500).
 */
export const MAX_JSON_DEPTH = 64;

/** The first nesting depth above `max` in a JSON (or NDJSON) text, or undefined; one linear pass. */
export function nestingBeyond(text: string, max: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

export function checkNesting(text: string): void {
  if (nestingBeyond(text, MAX_JSON_DEPTH) !== undefined) {
    throw new HttpError(400, "invalid-request", `the request body nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep; no StepLens request needs more than a few`);
  }
}

/** Parses a JSON text after the nesting check; 400 invalid-json with `hint` when it is not JSON. */
export function parseJsonText(text: string, hint = ""): unknown {
  checkNesting(text);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, "invalid-json", `the request body is not valid JSON: ${(err as Error).message}${hint}`);
  }
}

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return parseJsonText(await readBody(req, limit));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  const body: ErrorBody = { error: { code: err.code, message: err.message } };
  sendJson(res, err.status, body, err.headers);
}

/**
 * The request's URL as the log shows it: the path, and the names of any query parameters with
 * their values redacted. The API takes nothing in the query, so a value there is a mistake, and the
 * commonest one is a token (?token=...), which must not end up in a log file; a name that could be
 * a token itself (anything but a short word) is redacted too.
 */
export function urlForLog(url: string | undefined): string {
  let u: URL;
  try {
    u = new URL(url ?? "/", "http://serve.invalid");
  } catch {
    return "[malformed URL]";
  }
  const names = [...new Set(u.searchParams.keys())].map((n) => (/^[a-z_]{1,20}$/i.test(n) ? n : "[redacted]"));
  return u.pathname + (names.length ? "?" + names.map((n) => `${n}=[redacted]`).join("&") : "");
}
