// Who may use `steplens serve`. A token is required whenever one is configured (--token or
// $STEPLENS_TOKEN), and always on an address other than loopback: there, without a configured
// token, one is generated once and kept in the user's config directory so restarts reuse it and
// clients keep working. Comparison hashes both sides and uses timingSafeEqual, so neither the
// content nor the length of the token leaks through response times. Off loopback the token is all
// that stands between the network and the model, so a guessable one is refused, and the stored one
// is kept readable by its owner only.

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { IncomingMessage } from "node:http";
import { OptionError } from "../engine/engineOptions.js";

export interface TokenChoice {
  /** undefined: no token required (loopback and none configured). */
  token?: string;
  /** Where it came from, for the start-up message. */
  source: "flag" | "env" | "stored" | "generated" | "none";
  /** The file a stored or generated token lives in. */
  file?: string;
  /** The stored file's mode when others could read it (it is 0600 now; the token may have leaked). */
  loosenedMode?: number;
}

/**
 * A floor, not a strength meter: the token's length times the Shannon entropy of its characters.
 * Random 128-bit tokens score 110+ in hex, base64 or as a UUID; "a", "secret", "password123" or a
 * word repeated stay far below. What it cannot see (a known phrase) a generated token avoids.
 */
export function tokenBits(token: string): number {
  const counts = new Map<string, number>();
  for (const c of token) counts.set(c, (counts.get(c) ?? 0) + 1);
  const n = [...token].length;
  let perChar = 0;
  for (const k of counts.values()) perChar -= (k / n) * Math.log2(k / n);
  return n * perChar;
}

export const MIN_TOKEN_BITS = 80;

function checkStrength(token: string, from: string, host: string): void {
  const bits = tokenBits(token);
  if (bits >= MIN_TOKEN_BITS) return;
  throw new OptionError(
    `${from} is too weak for ${host} (about ${Math.floor(bits)} bits; off loopback at least ${MIN_TOKEN_BITS}): anyone who can reach the port could guess it. ` +
      `Use a random one, e.g. \`openssl rand -hex 32\`, or leave --token and $STEPLENS_TOKEN unset to have one generated and stored`,
  );
}

/** Reuses the stored token, first making its file private if others could read it. */
function readStored(file: string): { token: string; loosenedMode?: number } | undefined {
  if (!existsSync(file)) return undefined;
  const token = readFileSync(file, "utf8").trim();
  if (tokenBits(token) < MIN_TOKEN_BITS) return undefined;
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return { token };
  try {
    chmodSync(file, 0o600);
  } catch (err) {
    throw new OptionError(`${file} is readable by other users (mode ${mode.toString(8)}) and cannot be made private (${(err as NodeJS.ErrnoException).code}): fix its owner and mode, or delete it to have a new token generated`);
  }
  return { token, loosenedMode: mode };
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}

export function tokenFile(): string {
  const base = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), ".config");
  return path.join(base, "steplens", "serve-token");
}

/** Throws OptionError for a weak --token or $STEPLENS_TOKEN off loopback, or a stored file it cannot make private. */
export function chooseToken(host: string, flagToken: string | undefined, env: NodeJS.ProcessEnv = process.env): TokenChoice {
  const given = flagToken ? { token: flagToken, source: "flag" as const } : env.STEPLENS_TOKEN ? { token: env.STEPLENS_TOKEN, source: "env" as const } : undefined;
  if (given) {
    if (!isLoopback(host)) checkStrength(given.token, given.source === "flag" ? "--token" : "$STEPLENS_TOKEN", host);
    return given;
  }
  if (isLoopback(host)) return { source: "none" };
  const file = tokenFile();
  const stored = readStored(file);
  if (stored) return { ...stored, source: "stored", file };
  const token = randomBytes(32).toString("base64url");
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, token + "\n", { mode: 0o600 });
  // writeFileSync's mode applies only when it creates the file; an existing (weak, replaced) one keeps its own.
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
