// The StepLens language server: weak steps as diagnostics, the reward's terms on hover, scores in
// code lenses, plus the custom steplens/* methods of protocol/index.ts. Transport-agnostic: the CLI
// hands in a stdio / IPC / socket connection, the tests an in-memory one.
//
// This file only wires: the shared state is context.ts, settings config.ts, one check checks.ts,
// and the handlers live under handlers/ by concern (lifecycle, document events, LSP features,
// custom requests). New LSP logic goes into its own file; register it here.

import { ErrorCodes, ResponseError, type Connection } from "vscode-languageserver";
import { createCheckQueue } from "./checks.js";
import { ServerConfig } from "./config.js";
import { ServerContext } from "./context.js";
import type { RetryPolicy } from "./engineHost.js";
import { registerDocumentEvents } from "./handlers/documentEvents.js";
import { registerFeatures } from "./handlers/features.js";
import { registerLifecycle } from "./handlers/lifecycle.js";
import { registerRequests } from "./handlers/requests.js";
import { createEngineHost } from "./hostEvents.js";

export interface ServerHandle {
  /** Resolves once the first settings are read and the first model load has finished (or failed). */
  started: Promise<void>;
}

export interface ServerOptions {
  /** Backoff of the reconnection to a model server (default 1 s doubling to 30 s). */
  retry?: RetryPolicy;
  /** Called when `shutdown` arrives (the CLI exits with 0 instead of 1 when the client then goes away). */
  onShutdown?: () => void;
}

export function startLanguageServer(connection: Connection, options: ServerOptions = {}): ServerHandle {
  const ctx = new ServerContext(connection);
  ctx.host = createEngineHost(ctx, options.retry);
  ctx.config = new ServerConfig(ctx);
  ctx.queue = createCheckQueue(ctx);

  registerLifecycle(ctx, options.onShutdown);
  registerDocumentEvents(ctx);
  registerFeatures(ctx);
  registerRequests(ctx);
  // Methods nobody registered: MethodNotFound, or ServerNotInitialized before `initialize`.
  ctx.connection.onRequest((method: string) => {
    throw new ResponseError(ErrorCodes.MethodNotFound, `the StepLens server has no method ${method}`);
  });

  ctx.documents.listen(ctx.connection);
  return { started: ctx.started };
}
