// The custom steplens/* requests of protocol/index.ts. Every params object is checked against its
// schema (params.ts) before anything else looks at it.

import { ErrorCodes, ResponseError, type CancellationToken } from "vscode-languageserver";
import {
  BestOfNRequest,
  ClearScoresRequest,
  LabelDatasetRequest,
  ReloadRequest,
  RetryRemoteRequest,
  ScoreDocumentRequest,
  StatusRequest,
  type BestOfNResult,
  type DocumentScores,
  type LabelDatasetResult,
  type ServerStatus,
} from "../../../protocol/index.js";
import { bestOfN } from "../bestOfN.js";
import type { ServerContext } from "../context.js";
import { runLabelRequest } from "../labelRequest.js";
import { BestOfNParamsSchema, ClearScoresParamsSchema, LabelDatasetParamsSchema, parseParams, ScoreDocumentParamsSchema } from "../params.js";

export function asError(err: unknown): ResponseError<void> {
  if (err instanceof ResponseError) return err;
  return new ResponseError(ErrorCodes.InternalError, err instanceof Error ? err.message : String(err));
}

/** Work outside the document queue (Best-of-N, labeling) shares the model's lane and stops on reload or shutdown. */
async function job<T>(ctx: ServerContext, token: CancellationToken, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  await ctx.started;
  const controller = new AbortController();
  ctx.jobs.add(controller);
  const sub = token.onCancellationRequested(() => controller.abort());
  try {
    return await fn(controller.signal);
  } catch (err) {
    throw asError(err);
  } finally {
    sub.dispose();
    ctx.jobs.delete(controller);
  }
}

/** Scores an open document now, whatever the check frequency (the request and the Score command). */
export async function scoreNow(ctx: ServerContext, uri: string): Promise<DocumentScores> {
  if (!ctx.documents.get(uri)) throw new ResponseError(ErrorCodes.InvalidParams, `${uri} is not open in the editor; open it to score it`);
  await ctx.started;
  try {
    return (await ctx.queue.request(uri)) ?? ctx.emptyScores(uri);
  } catch (err) {
    throw asError(err);
  }
}

export function runBestOfN(ctx: ServerContext, uris: readonly string[], token: CancellationToken): Promise<BestOfNResult> {
  return job(ctx, token, (signal) =>
    ctx.host.use(async (engine) =>
      bestOfN(engine, {
        uris,
        openText: (uri) => {
          const d = ctx.documents.get(uri);
          return d ? { text: d.getText(), languageId: d.languageId } : undefined;
        },
        goldSetting: (await ctx.config.forDocument(uris[0]!)).goldAnswer,
        signal,
      }),
    ),
  );
}

export function registerRequests(ctx: ServerContext): void {
  const { connection, host, config } = ctx;

  connection.onRequest(ScoreDocumentRequest, (raw: unknown): Promise<DocumentScores> => scoreNow(ctx, parseParams(ScoreDocumentParamsSchema, raw, ScoreDocumentRequest).uri));

  connection.onRequest(ClearScoresRequest, (raw: unknown): null => {
    const params = parseParams(ClearScoresParamsSchema, raw, ClearScoresRequest);
    const uris = params?.uri ? [params.uri] : [...ctx.states.keys()];
    // Only documents the server knows: a URI it never published to has nothing to clear.
    for (const uri of uris) if (ctx.states.has(uri) || ctx.documents.get(uri)) ctx.clear(uri);
    return null;
  });

  connection.onRequest(BestOfNRequest, (raw: unknown, token: CancellationToken): Promise<BestOfNResult> => runBestOfN(ctx, parseParams(BestOfNParamsSchema, raw, BestOfNRequest).uris, token));

  connection.onRequest(LabelDatasetRequest, (raw: unknown, token: CancellationToken): Promise<LabelDatasetResult> => {
    const params = parseParams(LabelDatasetParamsSchema, raw, LabelDatasetRequest);
    return job(ctx, token, async (signal) => {
      const reporter = params.workDoneToken != null ? connection.window.attachWorkDoneProgress(params.workDoneToken) : await connection.window.createWorkDoneProgress();
      const serverToken = "token" in reporter ? (reporter as { token: CancellationToken }).token : undefined;
      const stop = new AbortController();
      signal.addEventListener("abort", () => stop.abort());
      serverToken?.onCancellationRequested(() => stop.abort());
      return host.use((engine) => runLabelRequest(params, { engine, baseDir: ctx.baseDir, reporter, token, signal: stop.signal }));
    });
  });

  connection.onRequest(StatusRequest, (): ServerStatus => host.status());

  connection.onRequest(ReloadRequest, async (): Promise<ServerStatus> => {
    await ctx.started;
    await config.apply(true);
    return host.status();
  });

  connection.onRequest(RetryRemoteRequest, async (): Promise<ServerStatus> => {
    await ctx.started;
    // An error that is not the connection's (a missing URL, say) needs the settings read again.
    if (host.status().state === "error") await config.apply(true);
    else await host.retryNow();
    return host.status();
  });
}
