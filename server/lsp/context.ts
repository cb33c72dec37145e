// What every handler of the language server shares, in one object (as LTeX+ and rust-analyzer keep
// a server state that handlers receive) instead of a closure over loose variables: the connection,
// the open documents and what the server knows about them, the one model, the check queue, the
// settings, and the client's capabilities.

import { CodeLensRefreshRequest, MessageType, ShowMessageNotification, TextDocuments, type Connection } from "vscode-languageserver";
import { TextDocument } from "vscode-languageserver-textdocument";
import { ScoresNotification, type DocumentScores } from "../../protocol/index.js";
import type { CheckQueue } from "./checkQueue.js";
import type { ServerConfig } from "./config.js";
import { buildDiagnostics } from "./diagnostics.js";
import { parseText, type DocState } from "./documents.js";
import type { EngineHost } from "./engineHost.js";
import { guardUntilInitialized } from "./initGuard.js";

/** What the client said it can do, from `initialize`. */
export interface ClientCaps {
  configuration: boolean;
  configurationRegistration: boolean;
  codeLensRefresh: boolean;
  /** Hover as Markdown; a client that lists only plaintext gets plain text. */
  hoverMarkdown: boolean;
}

export class ServerContext {
  readonly documents = new TextDocuments(TextDocument);
  readonly states = new Map<string, DocState>();
  readonly caps: ClientCaps = { configuration: false, configurationRegistration: false, codeLensRefresh: false, hoverMarkdown: true };
  /** Work outside the check queue (Best-of-N, labeling), aborted on reload and shutdown. */
  readonly jobs = new Set<AbortController>();
  /** Relative paths in requests resolve against the first workspace folder. */
  baseDir = process.cwd();
  /** Set once `initialize` has been answered; requests before it get ServerNotInitialized. */
  initialized = false;
  /** Commands this server executes (executeCommandProvider): its own, and those the client does not implement. */
  serverCommands: string[] = [];
  /** Resolves once the first settings are read and the first model load has finished (or failed). */
  readonly started: Promise<void>;
  private markStarted: () => void = () => {};
  // Set right after construction: the queue, config and host need the context themselves.
  queue!: CheckQueue;
  config!: ServerConfig;
  host!: EngineHost;

  /** The client's connection; handlers registered on it wait for `initialize` (initGuard.ts). */
  readonly connection: Connection;

  constructor(raw: Connection) {
    this.connection = guardUntilInitialized(raw, () => this.initialized);
    this.started = new Promise<void>((resolve) => (this.markStarted = resolve));
  }

  setStarted(): void {
    this.markStarted();
  }

  stateOf(uri: string): DocState {
    let s = this.states.get(uri);
    if (!s) this.states.set(uri, (s = { notes: [], ignored: new Set() }));
    return s;
  }

  /** A notification, not window/showMessageRequest: nothing to answer, and a client without it cannot fail the server. */
  showMessage(type: MessageType, message: string): void {
    void this.connection.sendNotification(ShowMessageNotification.type, { type, message });
  }

  parsedNow(uri: string): ReturnType<typeof parseText> | undefined {
    const doc = this.documents.get(uri);
    if (!doc) return undefined;
    const state = this.stateOf(uri);
    if (state.parsed?.version !== doc.version) state.parsed = { version: doc.version, doc: parseText(uri, doc.getText(), doc.languageId) };
    return state.parsed.doc;
  }

  refreshLenses(): void {
    if (this.caps.codeLensRefresh) void this.connection.sendRequest(CodeLensRefreshRequest.type).catch(() => {});
  }

  publish(uri: string): void {
    const state = this.stateOf(uri);
    const scores = state.scores;
    void this.connection.sendDiagnostics({ uri, version: scores?.version, diagnostics: buildDiagnostics(scores, state.notes) });
    if (scores) void this.connection.sendNotification(ScoresNotification, scores);
    this.refreshLenses();
  }

  emptyScores(uri: string): DocumentScores {
    const status = this.host.status();
    return {
      uri,
      version: this.documents.get(uri)?.version ?? 0,
      problem: "",
      solutions: [],
      warnings: [],
      model: status.model ?? "",
      backend: status.backend ?? "",
      threshold: this.config.settings.threshold,
    };
  }

  clear(uri: string): void {
    this.queue.cancel(uri);
    const state = this.states.get(uri);
    if (state) {
      state.scores = undefined;
      state.scoredFor = undefined;
      state.notes = [];
    }
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
    void this.connection.sendNotification(ScoresNotification, this.emptyScores(uri));
    this.refreshLenses();
  }

  /** Checks every open document again (settings changed, the model came back). */
  scheduleAll(): void {
    if (this.config.settings.check.frequency === "manual") return;
    for (const doc of this.documents.all()) this.queue.schedule(doc.uri, 0);
  }
}
