// initialize / initialized / configuration changes / shutdown: what the client can do, what the
// server offers, and when the model is loaded, reloaded and let go.

import { fileURLToPath } from "node:url";
import { CodeActionKind, DidChangeConfigurationNotification, TextDocumentSyncKind, type InitializeResult } from "vscode-languageserver";
import { IgnoreStepCommand, SetTokenNotification, type InitializationOptions } from "../../../protocol/index.js";
import type { ServerContext } from "../context.js";
import { SetTokenParamsSchema } from "../params.js";
import { SERVER_COMMANDS } from "./commands.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function registerLifecycle(ctx: ServerContext, onShutdown?: () => void): void {
  const { connection, caps, config } = ctx;

  connection.onInitialize((params): InitializeResult => {
    const c = params.capabilities;
    caps.configuration = c.workspace?.configuration === true;
    caps.configurationRegistration = c.workspace?.didChangeConfiguration?.dynamicRegistration === true;
    caps.codeLensRefresh = c.workspace?.codeLens?.refreshSupport === true;
    // No contentFormat: the client takes Markdown (LSP's default for MarkupContent-era clients).
    const formats = c.textDocument?.hover?.contentFormat;
    caps.hoverMarkdown = !Array.isArray(formats) || formats.includes("markdown");
    if (isObject(params.initializationOptions)) config.initOptions = params.initializationOptions as InitializationOptions;
    if (typeof config.initOptions.token === "string") config.token = config.initOptions.token;
    const clientCommands = Array.isArray(config.initOptions.clientCommands) ? config.initOptions.clientCommands : [];
    ctx.serverCommands = [IgnoreStepCommand, ...SERVER_COMMANDS.filter((command) => !clientCommands.includes(command))];
    ctx.initialized = true;
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri;
    if (folder?.startsWith("file:")) ctx.baseDir = fileURLToPath(folder);
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        hoverProvider: true,
        codeLensProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        executeCommandProvider: { commands: ctx.serverCommands },
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
        ctx.queue.resume();
      }
    })();
  });

  connection.onDidChangeConfiguration((change) => {
    config.push(change.settings);
    void ctx.started.then(() => config.apply(false));
  });

  connection.onNotification(SetTokenNotification, (raw: unknown) => {
    const params = SetTokenParamsSchema.safeParse(raw);
    if (!params.success) {
      connection.console.warn(`StepLens: ${SetTokenNotification} ignored: its params must be {"token": string | null}`);
      return;
    }
    config.token = params.data.token ?? "";
    // engineKey covers the token for server backends only: a local model does not restart.
    void ctx.started.then(() => config.apply(false));
  });

  // Answered at once, also during a model load (which is aborted): an editor waits on this answer
  // before it lets the user go on, and a big model can take minutes to load.
  connection.onShutdown(async () => {
    onShutdown?.();
    ctx.queue.cancelAll();
    for (const job of ctx.jobs) job.abort();
    await ctx.host.dispose();
  });
}
