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

/**
 * Reads the whole body, refusing (413) as soon as it grows past `limit` bytes. The rest of an
 * oversized body is drained, not cut: destroying the socket mid-upload would make the client see a
 * connection reset instead of the 413 that says what to do.
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
      if (refused) return;
      size += chunk.length;
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
    req.on("error", (err) => {
      if (!refused) reject(err);
    });
  });
}

function tooLarge(_size: number, limit: number): HttpError {
  return new HttpError(413, "body-too-large", `the request body is larger than ${limit} bytes, the server's limit (--max-body); send less per request`);
}

export async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const text = await readBody(req, limit);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, "invalid-json", `the request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new HttpError(400, "invalid-request", "the request body must be a JSON object");
  return value as Record<string, unknown>;
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

// Field readers: a wrong field is the client's mistake and gets a 400 naming it.

export function stringField(body: Record<string, unknown>, name: string, required: true): string;
export function stringField(body: Record<string, unknown>, name: string, required?: false): string | undefined;
export function stringField(body: Record<string, unknown>, name: string, required = false): string | undefined {
  const v = body[name];
  if (v == null) {
    if (required) throw new HttpError(400, "invalid-request", `the request needs a string field "${name}"`);
    return undefined;
  }
  if (typeof v === "number") return String(v);
  if (typeof v !== "string") throw new HttpError(400, "invalid-request", `"${name}" must be a string`);
  return v;
}

export function stringArrayField(body: Record<string, unknown>, name: string): string[] | undefined {
  const v = body[name];
  if (v == null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new HttpError(400, "invalid-request", `"${name}" must be an array of strings`);
  return v as string[];
}
