// POST /v1/backend/*: the Backend/BackendSession calls of types.ts over HTTP, for the remote backend
// (remote.ts). Each request opens a session on the server's local backend, runs one call and gives
// the lane back; lanes keep their walkers' KV caches between sessions, so a client walking
// consecutive prefixes of a solution costs the server only the new tokens, as it does locally.

import type {
  ContinuationsResponse,
  EntropiesResponse,
  RemoteTokens,
  SampleResponse,
  TokenizeResponse,
} from "../engine/backend/remote.js";
import type { BackendSession } from "../engine/backend/types.js";
import { HttpError } from "./http.js";
import { ContinuationsRequest, EntropiesRequest, parseBody, sampleRequest, TokenizeRequest } from "./schemas.js";
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

export async function handleTokenize(ctx: ServeContext, body: unknown): Promise<TokenizeResponse> {
  const { text } = parseBody(TokenizeRequest, body);
  checkText(ctx, "text", text);
  return { tokens: await ctx.engine.backend.tokenize(text) };
}

export async function handleContinuations(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<ContinuationsResponse> {
  const { prefix, continuations } = parseBody(ContinuationsRequest, body);
  if (continuations.length > ctx.limits.maxBatch) throw new HttpError(413, "batch-too-large", `${continuations.length} continuations; the server takes at most ${ctx.limits.maxBatch} per request`);
  checkText(ctx, "prefix", prefix);
  continuations.forEach((c, i) => checkText(ctx, `continuations[${i}]`, c));
  const { value, tokens } = await inSession(ctx, signal, (session, s) => session.scoreContinuations(prefix, continuations, s));
  return { scores: value, tokens };
}

export async function handleSample(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<SampleResponse> {
  const { prefix, options } = parseBody(sampleRequest(ctx.limits), body);
  checkText(ctx, "prefix", prefix);
  const { value, tokens } = await inSession(ctx, signal, (session, s) => session.sample(prefix, options, s));
  return { texts: value, tokens };
}

export async function handleEntropies(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<EntropiesResponse> {
  const { prefix, text } = parseBody(EntropiesRequest, body);
  checkText(ctx, "prefix", prefix);
  checkText(ctx, "text", text);
  const { value, tokens } = await inSession(ctx, signal, (session, s) => {
    if (!session.tokenEntropies) throw new HttpError(501, "not-supported", "this server's backend offers no token entropies");
    return session.tokenEntropies(prefix, text, s);
  });
  return { entropies: value, tokens };
}
