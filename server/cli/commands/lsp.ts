// `steplens lsp`: the language server on the transport an editor asks for. vscode-languageserver
// reads the transport flags from the command line itself (as every LSP server does); they are
// declared here so that commander accepts them and `--help` lists them.

import type { Command } from "commander";
import { startLanguageServer } from "../../lsp/server.js";
import { createServerConnection } from "../../lsp/transport.js";
import { fail } from "../report.js";
import { OptionError } from "../../engine/engineOptions.js";

interface LspFlags {
  stdio?: boolean;
  nodeIpc?: boolean;
  socket?: string;
  pipe?: string;
}

export function registerLsp(program: Command): void {
  program
    .command("lsp")
    .description("start the StepLens language server (diagnostics, hovers, code lenses) for an editor")
    .option("--stdio", "talk LSP over stdin/stdout")
    .option("--node-ipc", "talk LSP over Node's IPC channel (when forked by the VS Code extension)")
    .option("--socket <port>", "connect to the client's socket on this port")
    .option("--pipe <name>", "connect to the client's named pipe")
    .option("--clientProcessId <pid>", "exit when this process ends")
    .action((flags: LspFlags) => {
      if (!flags.stdio && !flags.nodeIpc && !flags.socket && !flags.pipe) {
        fail(new OptionError("steplens lsp needs a transport: --stdio, --node-ipc, --socket=PORT or --pipe=NAME"));
      }
      let shutdown = false;
      const connection = createServerConnection(flags, () => shutdown);
      // A stray rejection must cost one request, not the editor's language server.
      process.on("unhandledRejection", (reason) => connection.console.error(`StepLens: unhandled ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`));
      startLanguageServer(connection, { onShutdown: () => (shutdown = true) });
      connection.listen();
    });
}
