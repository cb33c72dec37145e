// Which requests `steplens serve` lets in before it looks at the token or reads a body. A token-less
// loopback server (the default) is otherwise open to every web page the user visits: a page may send
// a "simple" cross-site POST (text/plain, a form) without asking anyone, and through DNS rebinding
// (its own host name re-pointed at 127.0.0.1) it may even read the answers. Our own clients (the CLI,
// the language server's remote backend, curl, scripts) are not browsers: they send no Origin, a Host
// naming this machine, and JSON. So:
//  - Host: on a loopback bind it must name this machine (a loopback address, `localhost`, the bound
//    name, or an --allow-host name); a rebinding page sends its own name. Jupyter's check_host makes
//    the same call: it checks only when listening on loopback. Off loopback a token is always
//    required, which no page can send, and clients reach the server under names we cannot know.
//  - Origin: browsers send it on every cross-origin request and on every POST; any Origin not given
//    with --allow-origin gets 403. Without one, Sec-Fetch-Site (sent by browsers on everything, even
//    an <img>) saying cross-site or same-site is refused the same way.
//  - Content-Type: only the JSON types; text/plain, forms and multipart are what a page may send
//    without a CORS preflight, and a preflight is answered only for --allow-origin origins.

import type { IncomingMessage, ServerResponse } from "node:http";
import { isLoopback } from "./auth.js";
import { HttpError } from "./http.js";

export interface RequestPolicy {
  /** The address the server listens on (--host). */
  bindHost: string;
  /** More names the Host header may carry on a loopback bind (--allow-host), lower case. */
  allowHosts: readonly string[];
  /** Origins a browser-based client may call from (--allow-origin), normalised by normalizeOrigin. */
  allowOrigins: readonly string[];
}

/** The host name of a Host header, without port or IPv6 brackets, lower case; undefined if malformed. */
export function hostName(header: string): string | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::\d{1,5})?$/.exec(header.trim());
  if (!m) return undefined;
  return (m[1] ?? m[2]!).toLowerCase().replace(/\.$/, "");
}

/** Whether a request with this Host header may reach a server bound to `policy.bindHost`. */
export function hostAllowed(header: string | undefined, policy: RequestPolicy): boolean {
  if (!isLoopback(policy.bindHost)) return true;
  // HTTP/1.0 without a Host: not a browser (Node itself answers 400 to an HTTP/1.1 request without one).
  if (header === undefined) return true;
  const name = hostName(header);
  if (name === undefined) return false;
  return isLoopback(name) || name === policy.bindHost.toLowerCase().replace(/^\[|\]$/g, "") || policy.allowHosts.includes(name);
}

/** `scheme://host[:port]` as browsers serialise an Origin; undefined if `value` is not one. */
export function normalizeOrigin(value: string): string | undefined {
  const v = value.trim().replace(/\/$/, "").toLowerCase();
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]+$/.test(v) ? v : undefined;
}

const JSON_TYPES = ["application/json"];
/** NDJSON goes by several names; each needs a CORS preflight like application/json. */
export const NDJSON_TYPES = ["application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonl", "application/jsonlines", "application/x-jsonlines"];

/** The media type of a request, lower case, without parameters ("" when absent). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/**
 * Host and Origin checks for every request (403 on failure). Returns the request's Origin when it
 * is an allowed one, so the answer can carry the CORS headers a browser needs to read it.
 */
export function checkRequester(req: IncomingMessage, policy: RequestPolicy): string | undefined {
  if (!hostAllowed(req.headers.host, policy)) {
    throw new HttpError(
      403,
      "forbidden-host",
      `this server listens on ${policy.bindHost} and answers only requests addressed to this machine (Host ${JSON.stringify(req.headers.host)} is not): use http://127.0.0.1 or http://localhost, or start it with --allow-host NAME if a proxy or an /etc/hosts name forwards to it`,
    );
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const normal = normalizeOrigin(origin);
    if (normal !== undefined && policy.allowOrigins.includes(normal)) return origin;
    throw new HttpError(
      403,
      "forbidden-origin",
      `requests from web pages are refused (Origin ${JSON.stringify(origin)}): a browser-based client must be allowed with --allow-origin ${normal ?? "ORIGIN"} (see docs/serve.md)`,
    );
  }
  const site = req.headers["sec-fetch-site"];
  if (site === "cross-site" || site === "same-site") {
    throw new HttpError(403, "forbidden-origin", "requests from web pages are refused (Sec-Fetch-Site: " + site + "); a browser-based client must be allowed with --allow-origin (see docs/serve.md)");
  }
  return undefined;
}

/** CORS headers on every answer to an allowed origin; a preflight (OPTIONS) is answered here. Returns true if it answered. */
export function applyCors(req: IncomingMessage, res: ServerResponse, origin: string): boolean {
  res.setHeader("access-control-allow-origin", origin);
  res.setHeader("vary", "Origin");
  res.setHeader("access-control-expose-headers", "Retry-After");
  if (req.method !== "OPTIONS") return false;
  res.writeHead(204, {
    "access-control-allow-methods": "GET, POST",
    "access-control-allow-headers": "Authorization, Content-Type",
    "access-control-max-age": "600",
    "content-length": "0",
  });
  res.end();
  return true;
}

/** 415 unless the body is JSON (or, where `ndjson`, NDJSON), before any of it is read. */
export function checkContentType(req: IncomingMessage, route: string, ndjson: boolean): void {
  const type = mediaType(req);
  if (JSON_TYPES.includes(type) || (ndjson && NDJSON_TYPES.includes(type))) return;
  const what = ndjson
    ? `a JSON body {"records": [...]} with Content-Type: application/json, or one record per line with Content-Type: application/x-ndjson`
    : "a JSON body with Content-Type: application/json";
  throw new HttpError(415, "unsupported-media-type", `POST ${route} takes ${what}; got ${type ? `Content-Type: ${type}` : "no Content-Type"}`);
}
