// POST /v1/backend/*: the Backend/BackendSession calls of types.ts over HTTP, for the remote backend
// (remote.ts). Each request opens a session on the server's local backend, runs one call and gives
// the lane back; lanes keep their walkers' KV caches between sessions, so a client walking
// consecutive prefixes of a solution costs the server only the new tokens, as it does locally.

import type { SampleOptions } from "../engine/backend/types.js";
import type {
  ContinuationsResponse,
  EntropiesResponse,
  RemoteTokens,
  SampleResponse,
  TokenizeResponse,
} from "../engine/backend/remote.js";
import type { BackendSession } from "../engine/backend/types.js";
import { HttpError, stringArrayField, stringField } from "./http.js";
import type { ServeContext } from "./context.js";

function checkText(ctx: ServeContext, name: string, text: string): void {
  if (text.length > ctx.limits.maxChars) throw new HttpError(413, "text-too-long", `"${name}" is ${text.length} characters; the server takes at most ${ctx.limits.maxChars} (--max-chars)`);
}

async function inSession<T>(ctx: ServeContext, signal: AbortSignal, call: (session: BackendSession, signal: AbortSignal) => Promise<T>): Promise<{ value: T; tokens: RemoteTokens }> {
  return ctx.queue.run(signal, async (s) => {
    const session = await ctx.engine.backend.openSession();
    try {
      const value = await call(session, s);
      return { value, tokens: { evaluated: session.counters.evaluated, generated: session.counters.generated } };
    } finally {
      session.release();
    }
  });
}

export async function handleTokenize(ctx: ServeContext, body: Record<string, unknown>): Promise<TokenizeResponse> {
  const text = stringField(body, "text", true);
  checkText(ctx, "text", text);
  return { tokens: await ctx.engine.backend.tokenize(text) };
}

export async function handleContinuations(ctx: ServeContext, body: Record<string, unknown>, signal: AbortSignal): Promise<ContinuationsResponse> {
  const prefix = stringField(body, "prefix", true);
  const continuations = stringArrayField(body, "continuations");
  if (!continuations || continuations.length === 0) throw new HttpError(400, "invalid-request", '"continuations" must be a non-empty array of strings');
  if (continuations.length > ctx.limits.maxBatch) throw new HttpError(413, "batch-too-large", `${continuations.length} continuations; the server takes at most ${ctx.limits.maxBatch} per request`);
  checkText(ctx, "prefix", prefix);
  continuations.forEach((c, i) => checkText(ctx, `continuations[${i}]`, c));
  const { value, tokens } = await inSession(ctx, signal, (session, s) => session.scoreContinuations(prefix, continuations, s));
  return { scores: value, tokens };
}

const STOPS = ["number", "line", "answer"] as const;

function sampleOptions(ctx: ServeContext, raw: unknown): SampleOptions {
  const o = (raw ?? {}) as Record<string, unknown>;
  const int = (name: string, lo: number, hi: number): number => {
    const v = o[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw new HttpError(400, "invalid-request", `options.${name} must be a whole number from ${lo} to ${hi}`);
    return v;
  };
  const temperature = o.temperature;
  if (typeof temperature !== "number" || !(temperature >= 0) || temperature > 10) throw new HttpError(400, "invalid-request", "options.temperature must be a number from 0 to 10");
  const stopAt = o.stopAt;
  if (stopAt != null && !STOPS.includes(stopAt as (typeof STOPS)[number])) throw new HttpError(400, "invalid-request", `options.stopAt must be one of ${STOPS.join(", ")}`);
  return {
    n: int("n", 1, ctx.limits.maxBatch),
    maxTokens: int("maxTokens", 1, ctx.limits.maxSampleTokens),
    temperature,
    seed: int("seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    stopAt: stopAt as SampleOptions["stopAt"],
  };
}

export async function handleSample(ctx: ServeContext, body: Record<string, unknown>, signal: AbortSignal): Promise<SampleResponse> {
  const prefix = stringField(body, "prefix", true);
  checkText(ctx, "prefix", prefix);
  const options = sampleOptions(ctx, body.options);
  const { value, tokens } = await inSession(ctx, signal, (session, s) => session.sample(prefix, options, s));
  return { texts: value, tokens };
}

export async function handleEntropies(ctx: ServeContext, body: Record<string, unknown>, signal: AbortSignal): Promise<EntropiesResponse> {
  const prefix = stringField(body, "prefix", true);
  const text = stringField(body, "text", true);
  checkText(ctx, "prefix", prefix);
  checkText(ctx, "text", text);
  const { value, tokens } = await inSession(ctx, signal, (session, s) => {
    if (!session.tokenEntropies) throw new HttpError(501, "not-supported", "this server's backend offers no token entropies");
    return session.tokenEntropies(prefix, text, s);
  });
  return { entropies: value, tokens };
}
