// The language server's lifecycle: start from the extension's own dist/cli.mjs, restart within a
// limit after crashes, and turn every failure into a message with Restart / Show Output so the
// extension is never left dead.

import { existsSync } from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  ResponseError,
  RevealOutputChannelOn,
  ShowMessageNotification,
  type ShowMessageParams,
  State,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import {
  ScoresNotification,
  SetTokenNotification,
  StatusNotification,
  StatusRequest,
  type DocumentScores,
  type InitializationOptions,
  type ServerStatus,
  type SetTokenParams,
  type StepLensSettings,
} from "../protocol/index.js";
import { documentSelector } from "./languages.js";
import { SECTION, TOKEN_SECRET_KEY, TRUST_RESTRICTED, restrictForTrust, type GlobalValues } from "./settings.js";

/** More crashes than this within RESTART_WINDOW_MS and the client stops retrying. */
const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60_000;

export interface ServerEvents {
  onScores(scores: DocumentScores): void;
  onStatus(status: ServerStatus): void;
  /** The client has no server now (start failed, crashed too often, or was stopped). */
  onStopped(message: string): void;
  /** The server's window/showMessage (instead of vscode-languageclient's toast without buttons). */
  onShowMessage(params: ShowMessageParams): void;
}

export class ServerNotRunningError extends Error {}

export class StepLensServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private crashes: number[] = [];
  private starting: Promise<void> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** The model server's token as last read from SecretStorage; held in memory only. */
  private token: string | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly events: ServerEvents,
  ) {
    // A workspace granted trust may now use its own model path: push the settings again.
    this.disposables.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void this.pushSettings()));
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
    this.crashes = [];
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

  /** Sends the (trust-filtered) settings as a didChangeConfiguration push. */
  async pushSettings(): Promise<void> {
    const client = this.client;
    if (client?.state !== State.Running) return;
    await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: currentSettings() } });
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
    client.onNotification(ShowMessageNotification.type, (params) => this.events.onShowMessage(params));
    let statusPushed = false;
    client.onNotification(StatusNotification, (status: ServerStatus) => {
      statusPushed = true;
      this.events.onStatus(status);
    });
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Starting) this.events.onStatus({ state: "starting", busy: 0 });
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
      // For servers that read settings before their first workspace/configuration pull.
      // The token travels over the IPC pipe only; it is never written to settings or disk.
      initializationOptions: (): InitializationOptions => ({ settings: currentSettings(), ...(this.token ? { token: this.token } : {}) }),
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      synchronize: { configurationSection: SECTION },
      middleware: {
        workspace: {
          // The server pulls `steplens` settings; an untrusted workspace's model path never reaches it.
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (vscode.workspace.isTrusted || result instanceof ResponseError) return result;
            const globals = globalValues();
            return result.map((value, i) => restrictForTrust(params.items[i]?.section, value, false, globals));
          },
          // The push goes through the same filter: the library's own push would read workspace values.
          didChangeConfiguration: async (sections, next) => {
            if (vscode.workspace.isTrusted) return next(sections);
            await this.pushSettings();
          },
        },
      },
      errorHandler: {
        error: (_error, _message, count) => ({ action: (count ?? 1) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true }),
        closed: () => {
          const now = Date.now();
          this.crashes = [...this.crashes.filter((t) => now - t < RESTART_WINDOW_MS), now];
          if (this.crashes.length <= MAX_RESTARTS) {
            this.output.warn(`the language server stopped; restarting (${this.crashes.length} of ${MAX_RESTARTS})`);
            return { action: CloseAction.Restart, handled: true };
          }
          this.fail(`The StepLens language server stopped ${this.crashes.length} times in a few minutes and was not restarted.`);
          return { action: CloseAction.DoNotRestart, handled: true };
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

/** The `steplens` settings as plain JSON, with the model path an untrusted workspace may use. */
export function currentSettings(): Partial<StepLensSettings> {
  const plain: unknown = JSON.parse(JSON.stringify(vscode.workspace.getConfiguration(SECTION)));
  // VS Code checks the values against the schema contributed in package.json.
  return restrictForTrust(SECTION, plain, vscode.workspace.isTrusted, globalValues()) as Partial<StepLensSettings>;
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
