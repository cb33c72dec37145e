// POST /v1/backend/*: the Backend/BackendSession calls of types.ts over HTTP, for the remote backend
// (remote.ts). Each request opens a session on the server's local backend, runs one call and gives
// the lane back; lanes keep their walkers' KV caches between sessions, so a client walking
// consecutive prefixes of a solution costs the server only the new tokens, as it does locally.
// On a server started with --reference-model a request may name one model of Implicit PRM's pair
// (`model`: "policy" or "reference"); without it, it goes to the server's main model.

import type {
  ContinuationsResponse,
  DetokenizeResponse,
  EntropiesResponse,
  RemoteModelRole,
  RemoteTokens,
  SampleResponse,
  TokenizeResponse,
  TokenLogprobsResponse,
  TokenOffsetsResponse,
} from "../engine/backend/remote.js";
import type { Backend, BackendSession } from "../engine/backend/types.js";
import { tokenOffsets } from "../engine/implicit/tokenOffsets.js";
import { HttpError } from "./http.js";
import { ContinuationsRequest, DetokenizeRequest, EntropiesRequest, parseBody, sampleRequest, TokenizeRequest, TokenLogprobsRequest, TokenOffsetsRequest } from "./schemas.js";
import type { ServeContext } from "./context.js";

function checkText(ctx: ServeContext, name: string, text: string): void {
  if (text.length > ctx.limits.maxChars) throw new HttpError(413, "text-too-long", `"${name}" is ${text.length} characters; the server takes at most ${ctx.limits.maxChars} (--max-chars)`);
}

/** The model a request names; the pair's reference loads here on its first use. */
async function backendFor(ctx: ServeContext, model: RemoteModelRole | undefined): Promise<Backend> {
  if (!model) return ctx.engine.backend;
  const implicit = ctx.engine.implicit;
  if (!implicit) {
    throw new HttpError(400, "no-pair", `this server holds one model, not Implicit PRM's pair, so it has no "${model}" model: start it with \`steplens serve --model POLICY --reference-model REF\``);
  }
  return model === "policy" ? implicit.policy : await implicit.reference();
}

/**
 * Token ids from a client, checked before llama.cpp sees them: it looks an id up unchecked, and one
 * outside the vocabulary would abort the server. A token is at least one character of text, so
 * --max-chars bounds their number too.
 */
function checkTokens(ctx: ServeContext, backend: Backend, tokens: readonly number[]): void {
  if (tokens.length > ctx.limits.maxChars) throw new HttpError(413, "text-too-long", `${tokens.length} tokens; the server takes at most ${ctx.limits.maxChars} (--max-chars)`);
  const vocabulary = backend.info.vocabulary;
  const bad = vocabulary == null ? -1 : tokens.findIndex((t) => t >= vocabulary);
  if (bad >= 0) throw new HttpError(400, "invalid-request", `invalid request: "tokens[${bad}]" is ${tokens[bad]}, outside the model's vocabulary (ids 0 to ${vocabulary! - 1})`);
}

async function inSession<T>(ctx: ServeContext, backend: Backend, signal: AbortSignal, call: (session: BackendSession, signal: AbortSignal) => Promise<T>): Promise<{ value: T; tokens: RemoteTokens }> {
  return ctx.queue.run(signal, async (s) => {
    const session = await backend.openSession();
    try {
      const value = await call(session, s);
      return { value, tokens: { evaluated: session.counters.evaluated, generated: session.counters.generated } };
    } finally {
      session.release();
    }
  });
}

export async function handleTokenize(ctx: ServeContext, body: unknown): Promise<TokenizeResponse> {
  const { text, model } = parseBody(TokenizeRequest, body);
  checkText(ctx, "text", text);
  return { tokens: await (await backendFor(ctx, model)).tokenize(text) };
}

export async function handleDetokenize(ctx: ServeContext, body: unknown): Promise<DetokenizeResponse> {
  const { tokens, model } = parseBody(DetokenizeRequest, body);
  const backend = await backendFor(ctx, model);
  checkTokens(ctx, backend, tokens);
  if (!backend.detokenize) throw new HttpError(501, "not-supported", "this server's backend cannot detokenize");
  return { text: await backend.detokenize(tokens) };
}

export async function handleTokenOffsets(ctx: ServeContext, body: unknown): Promise<TokenOffsetsResponse> {
  const { text, tokens, model } = parseBody(TokenOffsetsRequest, body);
  checkText(ctx, "text", text);
  const backend = await backendFor(ctx, model);
  checkTokens(ctx, backend, tokens);
  // The offsets detokenize every prefix (quadratic: 0.3 s for 1,000 tokens, 3.5 s for 8,000 on one
  // core, blocking the server meanwhile). Past twice the context nothing is scored anyway.
  const cap = 2 * backend.info.contextSize;
  if (tokens.length > cap) throw new HttpError(413, "text-too-long", `${tokens.length} tokens; the server maps at most ${cap} (twice the model's context) to their text`);
  return { offsets: await tokenOffsets(backend, text, tokens) };
}

export async function handleTokenLogprobs(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<TokenLogprobsResponse> {
  const { tokens, from, model } = parseBody(TokenLogprobsRequest, body);
  const backend = await backendFor(ctx, model);
  checkTokens(ctx, backend, tokens);
  const { value, tokens: counted } = await inSession(ctx, backend, signal, (session, s) => {
    if (!session.tokenLogprobs) throw new HttpError(501, "not-supported", "this server's backend gives no per-token log-probabilities of a token sequence");
    return session.tokenLogprobs(tokens, from, s);
  });
  return { logprobs: value.map((x) => (Number.isFinite(x) ? x : null)), tokens: counted };
}

export async function handleContinuations(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<ContinuationsResponse> {
  const { prefix, continuations, model } = parseBody(ContinuationsRequest, body);
  if (continuations.length > ctx.limits.maxBatch) throw new HttpError(413, "batch-too-large", `${continuations.length} continuations; the server takes at most ${ctx.limits.maxBatch} per request`);
  checkText(ctx, "prefix", prefix);
  continuations.forEach((c, i) => checkText(ctx, `continuations[${i}]`, c));
  const { value, tokens } = await inSession(ctx, await backendFor(ctx, model), signal, (session, s) => session.scoreContinuations(prefix, continuations, s));
  return { scores: value, tokens };
}

export async function handleSample(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<SampleResponse> {
  const { prefix, options, model } = parseBody(sampleRequest(ctx.limits), body);
  checkText(ctx, "prefix", prefix);
  const { value, tokens } = await inSession(ctx, await backendFor(ctx, model), signal, (session, s) => session.sample(prefix, options, s));
  return { texts: value, tokens };
}

export async function handleEntropies(ctx: ServeContext, body: unknown, signal: AbortSignal): Promise<EntropiesResponse> {
  const { prefix, text, model } = parseBody(EntropiesRequest, body);
  checkText(ctx, "prefix", prefix);
  checkText(ctx, "text", text);
  const { value, tokens } = await inSession(ctx, await backendFor(ctx, model), signal, (session, s) => {
    if (!session.tokenEntropies) throw new HttpError(501, "not-supported", "this server's backend offers no token entropies");
    return session.tokenEntropies(prefix, text, s);
  });
  return { entropies: value, tokens };
}
