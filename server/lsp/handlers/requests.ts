// The custom steplens/* requests of protocol/index.ts.

import { ErrorCodes, ResponseError, type CancellationToken } from "vscode-languageserver";
import {
  BestOfNRequest,
  ClearScoresRequest,
  LabelDatasetRequest,
  ReloadRequest,
  RetryRemoteRequest,
  ScoreDocumentRequest,
  StatusRequest,
  type BestOfNParams,
  type BestOfNResult,
  type ClearScoresParams,
  type DocumentScores,
  type LabelDatasetParams,
  type LabelDatasetResult,
  type ScoreDocumentParams,
  type ServerStatus,
} from "../../../protocol/index.js";
import { bestOfN } from "../bestOfN.js";
import type { ServerContext } from "../context.js";
import { runLabelRequest } from "../labelRequest.js";

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

export function registerRequests(ctx: ServerContext): void {
  const { connection, documents, host, queue, config } = ctx;

  connection.onRequest(ScoreDocumentRequest, async (params: ScoreDocumentParams): Promise<DocumentScores> => {
    if (!documents.get(params.uri)) throw new ResponseError(ErrorCodes.InvalidParams, `${params.uri} is not open in the editor; open it to score it`);
    await ctx.started;
    try {
      return (await queue.request(params.uri)) ?? ctx.emptyScores(params.uri);
    } catch (err) {
      throw asError(err);
    }
  });

  connection.onRequest(ClearScoresRequest, (params: ClearScoresParams | undefined): null => {
    const uris = params?.uri ? [params.uri] : [...ctx.states.keys()];
    for (const uri of uris) ctx.clear(uri);
    return null;
  });

  connection.onRequest(BestOfNRequest, (params: BestOfNParams, token: CancellationToken): Promise<BestOfNResult> =>
    job(ctx, token, (signal) =>
      host.use((engine) =>
        bestOfN(engine, {
          uris: params.uris,
          openText: (uri) => {
            const d = documents.get(uri);
            return d ? { text: d.getText(), languageId: d.languageId } : undefined;
          },
          goldSetting: config.settings.goldAnswer,
          signal,
        }),
      ),
    ),
  );

  connection.onRequest(LabelDatasetRequest, (params: LabelDatasetParams, token: CancellationToken): Promise<LabelDatasetResult> =>
    job(ctx, token, async (signal) => {
      const reporter = params.workDoneToken != null ? connection.window.attachWorkDoneProgress(params.workDoneToken) : await connection.window.createWorkDoneProgress();
      const serverToken = "token" in reporter ? (reporter as { token: CancellationToken }).token : undefined;
      const stop = new AbortController();
      signal.addEventListener("abort", () => stop.abort());
      serverToken?.onCancellationRequested(() => stop.abort());
      return host.use((engine) => runLabelRequest(params, { engine, baseDir: ctx.baseDir, reporter, token, signal: stop.signal }));
    }),
  );

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
