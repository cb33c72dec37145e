// A scripted LSP client for the language-server tests: the real server on in-memory streams (or a
// spawned `steplens lsp --stdio`), every notification logged, and waits that end on a message, not
// on a timer. A wait that never matches fails with what did arrive instead of hanging the suite.

import { PassThrough, type Readable, type Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import {
  createConnection,
  createMessageConnection,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  WorkDoneProgress,
  type MessageConnection,
} from "vscode-languageserver/node";
import type { InitializationOptions } from "../protocol/index.js";
import { startLanguageServer } from "../server/lsp/server.js";

export interface LogEntry {
  method: string;
  params: unknown;
}

export interface ConfigurationItem {
  section?: string;
  scopeUri?: string;
}

export interface ClientOptions {
  /**
   * Answered to workspace/configuration (an object for every item, or a function of the item, so a
   * test can change the answer or give a folder its own settings); when absent the client does not
   * support it.
   */
  configuration?: Record<string, unknown> | ((item: ConfigurationItem) => unknown);
  initializationOptions?: InitializationOptions;
  /** Folder paths sent as the workspace folders (and the first as rootUri); none by default. */
  workspaceFolders?: string[];
  /** How long a wait may take before it fails (default 90 s; benchmarks of large models need more). */
  waitLimitMs?: number;
  /** `textDocument.hover.contentFormat` (default ["markdown"]). */
  hoverFormats?: string[];
  /** Skip `initialize`, to see what the server does with messages sent before it. */
  uninitialized?: boolean;
}

const WAIT_LIMIT_MS = 90_000;

export const fileUri = (file: string): string => pathToFileURL(file).href;

export class TestClient {
  readonly log: LogEntry[] = [];
  /** What the server answered to `initialize`. */
  initializeResult: { capabilities: Record<string, unknown> & { executeCommandProvider?: { commands: string[] } } } | undefined;
  /** Every workspace/configuration item the server asked for. */
  readonly configurationRequests: ConfigurationItem[] = [];
  private waiters: { method: string; pred: (p: never) => boolean; resolve: (p: unknown) => void }[] = [];
  private waitLimitMs = WAIT_LIMIT_MS;

  private constructor(
    readonly rpc: MessageConnection,
    private readonly stopServer: () => void,
  ) {}

  /** The real server in this process, on a pair of in-memory pipes. */
  static async inProcess(options: ClientOptions): Promise<TestClient> {
    const toServer = new PassThrough();
    const toClient = new PassThrough();
    // Reader/writer objects, not raw streams: given a stream, vscode-languageserver ends the process when it closes.
    const server = createConnection(ProposedFeatures.all, new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
    startLanguageServer(server);
    server.listen();
    const client = new TestClient(createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer)), () => server.dispose());
    await client.initialize(options);
    return client;
  }

  /** A client on the streams of a spawned server process. */
  static async onStreams(fromServer: Readable, toServer: Writable, options: ClientOptions): Promise<TestClient> {
    const client = new TestClient(createMessageConnection(new StreamMessageReader(fromServer), new StreamMessageWriter(toServer)), () => {});
    await client.initialize(options);
    return client;
  }

  private async initialize(options: ClientOptions): Promise<void> {
    const { rpc } = this;
    this.waitLimitMs = options.waitLimitMs ?? WAIT_LIMIT_MS;
    rpc.onNotification((method: string, params: unknown) => this.record(method, params));
    rpc.onRequest("workspace/configuration", (p: { items: ConfigurationItem[] }) =>
      p.items.map((item) => {
        this.configurationRequests.push(item);
        const c = options.configuration;
        return (typeof c === "function" ? c(item) : c) ?? null;
      }),
    );
    rpc.onRequest("window/showMessageRequest", (p: unknown) => {
      this.record("window/showMessageRequest", p);
      return null;
    });
    rpc.onRequest("window/workDoneProgress/create", (p: { token: string | number }) => {
      this.record("window/workDoneProgress/create", p);
      this.trackProgress(p.token);
      return null;
    });
    rpc.onRequest("client/registerCapability", () => null);
    rpc.onRequest("workspace/codeLens/refresh", () => {
      this.record("workspace/codeLens/refresh", null);
      return null;
    });
    rpc.listen();
    if (options.uninitialized) return;
    const folders = options.workspaceFolders ?? [];
    this.initializeResult = await rpc.sendRequest("initialize", {
      processId: null,
      rootUri: folders[0] ? fileUri(folders[0]) : null,
      workspaceFolders: folders.length > 0 ? folders.map((f) => ({ uri: fileUri(f), name: f })) : null,
      capabilities: {
        workspace: { configuration: options.configuration != null, didChangeConfiguration: { dynamicRegistration: true }, codeLens: { refreshSupport: true }, workspaceFolders: true },
        window: { workDoneProgress: true, showMessage: {} },
        textDocument: { hover: { contentFormat: options.hoverFormats ?? ["markdown"] }, publishDiagnostics: { versionSupport: true } },
      },
      initializationOptions: options.initializationOptions,
    });
    await rpc.sendNotification("initialized", {});
  }

  /** vscode-jsonrpc hands $/progress only to a handler registered for its token; log it as a notification. */
  trackProgress(token: string | number): void {
    this.rpc.onProgress(WorkDoneProgress.type, token, (value) => this.record("$/progress", { token, value }));
  }

  private record(method: string, params: unknown): void {
    this.log.push({ method, params });
    this.waiters = this.waiters.filter((w) => {
      if (w.method !== method || !w.pred(params as never)) return true;
      w.resolve(params);
      return false;
    });
  }

  notifications<T>(method: string, pred: (p: T) => boolean = () => true): T[] {
    return this.log.filter((e) => e.method === method && pred(e.params as T)).map((e) => e.params as T);
  }

  /** The first notification (already received or still to come) that matches. */
  waitFor<T>(method: string, pred: (p: T) => boolean = () => true): Promise<T> {
    const seen = this.log.find((e) => e.method === method && pred(e.params as T));
    if (seen) return Promise.resolve(seen.params as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = { method, pred: pred as (p: never) => boolean, resolve: (p: unknown) => (clearTimeout(timer), resolve(p as T)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const got = this.log.map((e) => e.method).join(", ");
        reject(new Error(`no matching ${method} within ${this.waitLimitMs / 1000} s; received: ${got}`));
      }, this.waitLimitMs);
      timer.unref();
      this.waiters.push(waiter);
    });
  }

  open(uri: string, text: string, languageId = "markdown", version = 1): void {
    void this.rpc.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId, version, text } });
  }

  change(uri: string, version: number, text: string): void {
    void this.rpc.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  /** Any other notification; the server handles messages in the order they were sent. */
  notify(method: string, params?: unknown): void {
    void this.rpc.sendNotification(method, params);
  }

  request<T>(method: string, params?: unknown): Promise<T> {
    return this.rpc.sendRequest<T>(method, params);
  }

  /** shutdown (the server disposes its model), then the connections close. */
  async close(): Promise<void> {
    await this.rpc.sendRequest("shutdown");
    this.rpc.dispose();
    this.stopServer();
  }
}
