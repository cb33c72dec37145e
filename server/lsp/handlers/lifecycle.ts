// initialize / initialized / configuration changes / shutdown: what the client can do, what the
// server offers, and when the model is loaded, reloaded and let go.

import { fileURLToPath } from "node:url";
import { CodeActionKind, DidChangeConfigurationNotification, TextDocumentSyncKind, type InitializeResult } from "vscode-languageserver";
import { IgnoreStepCommand, SetTokenNotification, type InitializationOptions, type SetTokenParams } from "../../../protocol/index.js";
import type { ServerContext } from "../context.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function registerLifecycle(ctx: ServerContext): void {
  const { connection, caps, config } = ctx;

  connection.onInitialize((params): InitializeResult => {
    const c = params.capabilities;
    caps.configuration = c.workspace?.configuration === true;
    caps.configurationRegistration = c.workspace?.didChangeConfiguration?.dynamicRegistration === true;
    caps.codeLensRefresh = c.workspace?.codeLens?.refreshSupport === true;
    if (isObject(params.initializationOptions)) config.initOptions = params.initializationOptions as InitializationOptions;
    if (typeof config.initOptions.token === "string") config.token = config.initOptions.token;
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri;
    if (folder?.startsWith("file:")) ctx.baseDir = fileURLToPath(folder);
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        hoverProvider: true,
        codeLensProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        executeCommandProvider: { commands: [IgnoreStepCommand] },
      },
      serverInfo: { name: "steplens" },
    };
  });

  connection.onInitialized(() => {
    if (caps.configurationRegistration) void connection.client.register(DidChangeConfigurationNotification.type, { section: "steplens" });
    void (async () => {
      try {
        await config.apply(true);
      } finally {
        ctx.setStarted();
      }
    })();
  });

  connection.onDidChangeConfiguration((change) => {
    config.push(change.settings);
    void ctx.started.then(() => config.apply(false));
  });

  connection.onNotification(SetTokenNotification, (params: SetTokenParams) => {
    config.token = typeof params?.token === "string" ? params.token : "";
    // engineKey covers the token for server backends only: a local model does not restart.
    void ctx.started.then(() => config.apply(false));
  });

  connection.onShutdown(async () => {
    ctx.queue.cancelAll();
    for (const job of ctx.jobs) job.abort();
    await ctx.host.dispose();
  });
}
