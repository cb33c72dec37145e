// The language server's lifecycle: start from the extension's own dist/cli.mjs, let
// vscode-languageclient restart it after crashes (its own policy: up to 4 restarts within 3 minutes),
// and turn a start failure or a final stop into a message and a status with Restart, so the extension
// is never left dead.
//
// Settings travel one way, as rust-analyzer does it: the server pulls them (workspace/configuration,
// through the trust filter below); a change only tells it to pull again (didChangeConfiguration with
// `settings: null`). Nothing is sent at start or pushed, so a value the user clears is never
// shadowed by an older copy of it.

import { existsSync } from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  ResponseError,
  RevealOutputChannelOn,
  State,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import {
  PickBestOfNCommand,
  ScoreFileCommand,
  ScoresNotification,
  ShowStepReportCommand,
  SetTokenNotification,
  StatusNotification,
  StatusRequest,
  type DocumentScores,
  type InitializationOptions,
  type ServerStatus,
  type SetTokenParams,
} from "../protocol/index.js";
import { documentSelector } from "./languages.js";
import { SECTION, TOKEN_SECRET_KEY, TRUST_RESTRICTED, restrictForTrust, type GlobalValues } from "./settings.js";

/** The lens and code-action commands this extension implements with its own UI (commands.ts). */
const CLIENT_COMMANDS = [ScoreFileCommand, PickBestOfNCommand, ShowStepReportCommand];

export interface ServerEvents {
  onScores(scores: DocumentScores): void;
  onStatus(status: ServerStatus): void;
  /** The client has no server now (start failed, crashed too often, or was stopped). */
  onStopped(message: string): void;
}

export class ServerNotRunningError extends Error {}

export class StepLensServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** The model server's token as last read from SecretStorage; held in memory only. */
  private token: string | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly events: ServerEvents,
  ) {
    // A workspace granted trust may now use its own model path: the server reads the settings again.
    this.disposables.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void this.settingsChanged()));
    // Set or cleared by our commands, or in another window: the server gets it by notification.
    this.disposables.push(
      context.secrets.onDidChange((e) => {
        if (e.key === TOKEN_SECRET_KEY) void this.sendToken();
      }),
    );
  }

  /** Reads the token again and hands it to the running server (it restarts the engine if it differs). */
  async sendToken(): Promise<void> {
    this.token = await this.readToken();
    const client = this.client;
    if (client?.state !== State.Running) return;
    const params: SetTokenParams = { token: this.token ?? null };
    await client.sendNotification(SetTokenNotification, params);
  }

  private async readToken(): Promise<string | undefined> {
    try {
      return (await this.context.secrets.get(TOKEN_SECRET_KEY)) || undefined;
    } catch (err) {
      // A keyring that cannot be opened (no secret service on a Linux box) must not stop the extension.
      this.output.warn(`cannot read the model server's token from VS Code's secret storage: ${message(err)}`);
      return undefined;
    }
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  start(): Promise<void> {
    this.starting ??= this.doStart().finally(() => (this.starting = undefined));
    return this.starting;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      if (client.state !== State.Stopped) await client.stop(5000);
    } catch (err) {
      this.output.warn(`stopping the language server: ${message(err)}`);
    }
    await client.dispose().catch(() => undefined);
  }

  /** The running client, or an error that says how to get one. */
  async ready(): Promise<LanguageClient> {
    if (this.starting) await this.starting;
    if (this.client?.state === State.Running) return this.client;
    throw new ServerNotRunningError("The StepLens language server is not running.");
  }

  /** Tells the server to pull its settings again (they pass the trust filter on the way). */
  async settingsChanged(): Promise<void> {
    const client = this.client;
    if (client?.state !== State.Running) return;
    await client.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    void this.stop();
  }

  private async doStart(): Promise<void> {
    const module = this.context.asAbsolutePath(path.join("dist", "cli.mjs"));
    if (!existsSync(module)) {
      this.fail(`The StepLens server is missing (${module}). Rebuild the extension (npm run build) or reinstall it.`);
      return;
    }
    const serverOptions: ServerOptions = {
      run: { module, transport: TransportKind.ipc, args: ["lsp"] },
      debug: { module, transport: TransportKind.ipc, args: ["lsp"], options: { execArgv: ["--nolazy", "--inspect=6011"] } },
    };
    this.token = await this.readToken();
    const client = new LanguageClient("steplens", "StepLens", serverOptions, this.clientOptions());
    this.client = client;
    client.onNotification(ScoresNotification, (scores: DocumentScores) => this.events.onScores(scores));
    let statusPushed = false;
    client.onNotification(StatusNotification, (status: ServerStatus) => {
      statusPushed = true;
      this.events.onStatus(status);
    });
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Starting) this.events.onStatus({ state: "starting", busy: 0 });
      // Stopped without our stop(): vscode-languageclient gave up restarting and has said why.
      if (newState === State.Stopped && this.client === client) this.events.onStopped("The StepLens language server stopped and was not restarted.");
    });
    try {
      await client.start();
      this.output.info("language server started");
      // The server pushes its status as it changes; ask once so the status bar never waits on a push.
      void client.sendRequest<ServerStatus>(StatusRequest).then(
        (status) => statusPushed || this.events.onStatus(status),
        () => undefined,
      );
    } catch (err) {
      if (this.client === client) this.client = undefined;
      await client.dispose().catch(() => undefined);
      this.fail(`The StepLens language server did not start: ${message(err)}`);
    }
  }

  private clientOptions(): LanguageClientOptions {
    return {
      documentSelector: [...documentSelector],
      // No settings here: the server pulls them. The token travels over the IPC pipe only; it is
      // never written to settings or disk.
      initializationOptions: (): InitializationOptions => ({ clientCommands: CLIENT_COMMANDS, ...(this.token ? { token: this.token } : {}) }),
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      middleware: {
        workspace: {
          // The server pulls `steplens` settings; an untrusted workspace's model path never reaches it.
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (vscode.workspace.isTrusted || result instanceof ResponseError) return result;
            const globals = globalValues();
            return result.map((value, i) => restrictForTrust(params.items[i]?.section, value, false, globals));
          },
          // A change (the server registers for `steplens`) only says "pull again": the library's own
          // notification would carry the values, read past the trust filter.
          didChangeConfiguration: (_sections, next) => next(undefined),
        },
      },
      initializationFailedHandler: (err) => {
        this.output.error(`initialize failed: ${message(err)}`);
        return false;
      },
    };
  }

  private fail(text: string): void {
    this.output.error(text);
    this.events.onStopped(text);
    void vscode.window.showErrorMessage(text, "Restart", "Show Output").then((choice) => {
      if (choice === "Restart") void this.restart();
      else if (choice === "Show Output") this.output.show(true);
    });
  }
}

/** The user's own values of the settings an untrusted workspace may not set. */
export function globalValues(): GlobalValues {
  const config = vscode.workspace.getConfiguration(SECTION);
  const values: GlobalValues = {};
  for (const key of TRUST_RESTRICTED) {
    const v = config.inspect<string>(key)?.globalValue;
    if (typeof v === "string") values[key] = v;
  }
  return values;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
