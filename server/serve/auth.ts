// Who may use `steplens serve`. A token is required whenever one is configured (--token or
// $STEPLENS_TOKEN), and always on an address other than loopback: there, without a configured
// token, one is generated once and kept in the user's config directory so restarts reuse it and
// clients keep working. Comparison hashes both sides and uses timingSafeEqual, so neither the
// content nor the length of the token leaks through response times.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { IncomingMessage } from "node:http";

export interface TokenChoice {
  /** undefined: no token required (loopback and none configured). */
  token?: string;
  /** Where it came from, for the start-up message. */
  source: "flag" | "env" | "stored" | "generated" | "none";
  /** The file a stored or generated token lives in. */
  file?: string;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}

export function tokenFile(): string {
  const base = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), ".config");
  return path.join(base, "steplens", "serve-token");
}

export function chooseToken(host: string, flagToken: string | undefined, env: NodeJS.ProcessEnv = process.env): TokenChoice {
  if (flagToken) return { token: flagToken, source: "flag" };
  if (env.STEPLENS_TOKEN) return { token: env.STEPLENS_TOKEN, source: "env" };
  if (isLoopback(host)) return { source: "none" };
  const file = tokenFile();
  if (existsSync(file)) {
    const stored = readFileSync(file, "utf8").trim();
    if (stored.length >= 16) return { token: stored, source: "stored", file };
  }
  const token = randomBytes(32).toString("base64url");
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, token + "\n", { mode: 0o600 });
  // writeFileSync's mode applies only when it creates the file; an existing (short, rejected) one keeps its own.
  chmodSync(file, 0o600);
  return { token, source: "generated", file };
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** Constant-time bearer check. */
export function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization ?? "";
  const m = /^Bearer\s+(.+)$/i.exec(header);
  const given = m ? m[1]!.trim() : "";
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}
