// The StepLens language server: weak steps as diagnostics, the reward's terms on hover, scores in
// code lenses, plus the custom steplens/* methods of protocol/index.ts. Transport-agnostic: the CLI
// hands in a stdio / IPC / socket connection, the tests an in-memory one.

import { fileURLToPath } from "node:url";
import {
  CodeActionKind,
  CodeLensRefreshRequest,
  DidChangeConfigurationNotification,
  ErrorCodes,
  MessageType,
  ResponseError,
  ShowMessageNotification,
  TextDocuments,
  TextDocumentSyncKind,
  type CancellationToken,
  type CodeAction,
  type Connection,
  type Hover,
  type InitializeResult,
  type Position,
} from "vscode-languageserver";
import { TextDocument } from "vscode-languageserver-textdocument";
import {
  BestOfNRequest,
  ClearScoresRequest,
  IgnoreStepCommand,
  LabelDatasetRequest,
  ReloadRequest,
  RetryRemoteRequest,
  ScoreDocumentRequest,
  ScoresNotification,
  SetTokenNotification,
  ShowStepReportCommand,
  StatusNotification,
  StatusRequest,
  type BestOfNParams,
  type BestOfNResult,
  type ClearScoresParams,
  type DiagnosticData,
  type DocumentScores,
  type InitializationOptions,
  type LabelDatasetParams,
  type LabelDatasetResult,
  type ScoreDocumentParams,
  type ServerStatus,
  type SetTokenParams,
  type StepLensSettings,
  type StepReportArgs,
  type WireRange,
  type WireSolutionScore,
  type WireStepScore,
} from "../../protocol/index.js";
import { parseDocumentSegmented } from "../engine/segment/entropySegment.js";
import { scoreDocument } from "../engine/scoreDocument.js";
import { bestOfN } from "./bestOfN.js";
import { CheckQueue } from "./checkQueue.js";
import { buildDiagnostics, SOURCE, type ExtraNote } from "./diagnostics.js";
import { capSteps, displayName, fileNameOf, formatOf, parseText, type DocState } from "./documents.js";
import { EngineHost, EngineUnavailableError, engineOptionsOf, type RetryPolicy } from "./engineHost.js";
import { stepHover } from "./hover.js";
import { runLabelRequest } from "./labelRequest.js";
import { codeLenses } from "./lenses.js";
import { ShownScores } from "./staleScores.js";
import { engineKey, resolveSettings, type ResolvedSettings } from "./settings.js";
import { applyIgnored, documentScores, stepKey, wireRange } from "./wire.js";

function contains(range: WireRange, p: Position): boolean {
  const afterStart = p.line > range.start.line || (p.line === range.start.line && p.character >= range.start.character);
  const beforeEnd = p.line < range.end.line || (p.line === range.end.line && p.character <= range.end.character);
  return afterStart && beforeEnd;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asError(err: unknown): ResponseError<void> {
  if (err instanceof ResponseError) return err;
  return new ResponseError(ErrorCodes.InternalError, err instanceof Error ? err.message : String(err));
}

export interface ServerHandle {
  /** Resolves once the first settings are read and the first model load has finished (or failed). */
  started: Promise<void>;
}

export interface ServerOptions {
  /** Backoff of the reconnection to a model server (default 1 s doubling to 30 s). */
  retry?: RetryPolicy;
}

export function startLanguageServer(connection: Connection, options: ServerOptions = {}): ServerHandle {
  const documents = new TextDocuments(TextDocument);
  const states = new Map<string, DocState>();
  const shown = new ShownScores();
  const host = new EngineHost(
    {
      onStatus: (status) => {
        void connection.sendNotification(StatusNotification, status);
        // The output channel keeps the history the status bar cannot: when the server went away and
        // why (once per outage, not once per attempt), and when it came back.
        const down = status.state === "unreachable" || status.state === "unauthorized";
        if (down && status.state !== lastRemoteState) connection.console.warn(status.message ?? `StepLens: model server ${status.state}`);
        if (status.state === "ready" && lastRemoteState && status.remote) connection.console.info(`StepLens: connected to ${status.remote.url} again`);
        if (down) lastRemoteState = status.state;
        else if (status.state === "ready" || status.state === "error") lastRemoteState = "";
      },
      // Documents edited while the server was away are checked now; unchanged ones keep their scores.
      onRecovered: () => {
        if (settings().check.frequency !== "manual") for (const doc of documents.all()) queue.schedule(doc.uri, 0);
      },
    },
    options.retry,
  );
  let initOptions: InitializationOptions = {};
  /** "unreachable" / "unauthorized" while the model server is away, for the output's log lines. */
  let lastRemoteState = "";
  /**
   * A server backend's token: from initializationOptions and steplens/setToken, never from settings;
   * until a client sends one, $STEPLENS_TOKEN as the CLI reads it (editors without a secret store).
   */
  let token = process.env.STEPLENS_TOKEN ?? "";
  let loadedKey: string | undefined;
  let pushedSettings: unknown;
  let resolved: ResolvedSettings = resolveSettings([]);
  let settingsGeneration = 0;
  let lastProblems = "";
  let lastError = "";
  let baseDir = process.cwd();
  const caps = { configuration: false, configurationRegistration: false, codeLensRefresh: false };
  const jobs = new Set<AbortController>();
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));

  const settings = (): StepLensSettings => resolved.settings;
  const stateOf = (uri: string): DocState => {
    let s = states.get(uri);
    if (!s) states.set(uri, (s = { notes: [], ignored: new Set() }));
    return s;
  };

  // ---- settings and model ----

  /** A notification, not window/showMessageRequest: nothing to answer, and a client without it cannot fail the server. */
  function showMessage(type: MessageType, message: string): void {
    void connection.sendNotification(ShowMessageNotification.type, { type, message });
  }

  async function readSettings(): Promise<ResolvedSettings> {
    const layers: unknown[] = [initOptions.settings];
    if (initOptions.modelPath) layers.push({ modelPath: initOptions.modelPath });
    if (isObject(pushedSettings)) layers.push(pushedSettings);
    if (caps.configuration) {
      try {
        layers.push(await connection.workspace.getConfiguration("steplens"));
      } catch (err) {
        connection.console.warn(`StepLens: workspace/configuration failed (${(err as Error).message}); using initialization options and defaults`);
      }
    }
    return resolveSettings(layers);
  }

  function announceProblems(problems: readonly string[]): void {
    const text = problems.join("; ");
    if (text && text !== lastProblems) showMessage(MessageType.Warning, `StepLens settings: ${text}`);
    lastProblems = text;
  }

  async function loadModel(): Promise<void> {
    queue.cancelAll();
    for (const job of jobs) job.abort();
    for (const s of states.values()) s.scoredFor = undefined;
    await host.load(engineOptionsOf(settings(), token));
    const status = host.status();
    if (status.state === "error" && status.message) {
      connection.console.error(status.message);
      if (status.message !== lastError) showMessage(MessageType.Error, status.message);
      lastError = status.message;
    } else lastError = "";
  }

  /** Re-reads the settings; reloads the model only if a setting that shapes it changed. */
  async function applySettings(forceReload: boolean): Promise<void> {
    const before = resolved.settings;
    resolved = await readSettings();
    announceProblems(resolved.problems);
    const key = engineKey(resolved.settings, token);
    const reload = forceReload || key !== loadedKey;
    loadedKey = key;
    if (reload || before.goldAnswer !== resolved.settings.goldAnswer) settingsGeneration++;
    if (reload) await loadModel();
    for (const doc of documents.all()) if (settings().check.frequency !== "manual") queue.schedule(doc.uri, 0);
  }

  // ---- checks ----

  async function check(uri: string, signal: AbortSignal, forced: boolean): Promise<DocumentScores | undefined> {
    await started;
    const doc = documents.get(uri);
    if (!doc) return undefined;
    const state = stateOf(uri);
    const key = `${doc.version}:${settingsGeneration}`;
    if (!forced && state.scoredFor === key && state.scores) return state.scores;
    const version = doc.version;
    const parsed = parsedNow(uri)!;
    const { doc: capped, note } = capSteps(parsed);
    const goldSetting = settings().goldAnswer;
    const useSetting = !parsed.goldAnswer && goldSetting !== "";
    return host.use(async (engine) => {
      const progress = await connection.window.createWorkDoneProgress();
      const name = displayName(uri);
      progress.begin("StepLens", 0, `Scoring ${name}`, false);
      let scored;
      try {
        // Entropy segmentation needs the model, so it happens here rather than in the cached parse.
        const target =
          settings().segmentation === "entropy"
            ? capSteps(await parseDocumentSegmented(doc.getText(), { fileName: fileNameOf(uri), format: formatOf(doc.languageId), segmentation: "entropy", backend: engine.backend, entropy: { signal } })).doc
            : capped;
        scored = await scoreDocument(engine.scorer, target, {
          method: engine.method,
          mc: engine.mc,
          gold: useSetting ? goldSetting : undefined,
          signal,
          onProgress: (done, total) => {
            if (total > 0) progress.report(Math.round((100 * done) / total), `Scoring ${name}: step ${Math.min(done + 1, total)} of ${total}`);
          },
        });
      } finally {
        progress.done();
      }
      if (signal.aborted) return undefined;
      const tokens = scored.solutions.reduce((t, s) => ({ evaluated: t.evaluated + s.result.tokens.evaluated, generated: t.generated + s.result.tokens.generated }), { evaluated: 0, generated: 0 });
      const scores = documentScores(scored, { uri, version, engine, goldFromSetting: useSetting, ignored: state.ignored, tokens });
      const notes: ExtraNote[] = parsed.warnings.map((w) => ({ message: w.message, range: w.range ? wireRange(w.range) : undefined }));
      const parseMessages = new Set(parsed.warnings.map((w) => w.message));
      for (const w of scored.warnings) if (!parseMessages.has(w)) notes.push({ message: w });
      if (note) notes.push(note);
      state.scores = scores;
      state.notes = notes;
      state.scoredFor = key;
      shown.checked(uri, scores);
      publish(uri);
      return scores;
    });
  }

  function publish(uri: string): void {
    const state = stateOf(uri);
    const scores = state.scores;
    void connection.sendDiagnostics({ uri, version: scores?.version, diagnostics: buildDiagnostics(scores, state.notes) });
    if (scores) void connection.sendNotification(ScoresNotification, scores);
    if (caps.codeLensRefresh) void connection.sendRequest(CodeLensRefreshRequest.type).catch(() => {});
  }

  const queue = new CheckQueue(check, (uri, err) => {
    // One document's failure is that document's problem: say so on it and keep serving the rest.
    if (err instanceof EngineUnavailableError) return;
    const message = err instanceof Error ? err.message : String(err);
    connection.console.error(`StepLens: scoring ${uri} failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
    const state = stateOf(uri);
    state.notes = [{ message: `StepLens could not score this file: ${message}` }];
    void connection.sendDiagnostics({ uri, diagnostics: buildDiagnostics(undefined, state.notes) });
  });

  function emptyScores(uri: string): DocumentScores {
    const status = host.status();
    return {
      uri,
      version: documents.get(uri)?.version ?? 0,
      problem: "",
      solutions: [],
      warnings: [],
      model: status.model ?? "",
      backend: status.backend ?? "",
      threshold: settings().threshold,
    };
  }

  function clear(uri: string): void {
    queue.cancel(uri);
    const state = stateOf(uri);
    state.scores = undefined;
    state.scoredFor = undefined;
    state.notes = [];
    shown.forget(uri);
    void connection.sendDiagnostics({ uri, diagnostics: [] });
    void connection.sendNotification(ScoresNotification, emptyScores(uri));
    if (caps.codeLensRefresh) void connection.sendRequest(CodeLensRefreshRequest.type).catch(() => {});
  }

  // ---- lifecycle ----

  connection.onInitialize((params): InitializeResult => {
    const c = params.capabilities;
    caps.configuration = c.workspace?.configuration === true;
    caps.configurationRegistration = c.workspace?.didChangeConfiguration?.dynamicRegistration === true;
    caps.codeLensRefresh = c.workspace?.codeLens?.refreshSupport === true;
    if (isObject(params.initializationOptions)) initOptions = params.initializationOptions as InitializationOptions;
    if (typeof initOptions.token === "string") token = initOptions.token;
    const folder = params.workspaceFolders?.[0]?.uri ?? params.rootUri;
    if (folder?.startsWith("file:")) baseDir = fileURLToPath(folder);
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
        await applySettings(true);
      } finally {
        markStarted();
      }
    })();
  });

  connection.onDidChangeConfiguration((change) => {
    const s = isObject(change.settings) ? change.settings.steplens : undefined;
    if (isObject(s)) pushedSettings = s;
    void started.then(() => applySettings(false));
  });

  connection.onNotification(SetTokenNotification, (params: SetTokenParams) => {
    token = typeof params?.token === "string" ? params.token : "";
    // engineKey covers the token for server backends only: a local model does not restart.
    void started.then(() => applySettings(false));
  });

  connection.onShutdown(async () => {
    queue.cancelAll();
    for (const job of jobs) job.abort();
    await host.dispose();
  });

  // ---- documents ----

  const isManual = (): boolean => settings().check.frequency === "manual";

  documents.onDidOpen((e) => {
    stateOf(e.document.uri).seenVersion = e.document.version;
    if (!isManual()) queue.schedule(e.document.uri, 0);
  });
  documents.onDidChangeContent((e) => {
    // Fires on open too; only a real edit supersedes a running check.
    const state = states.get(e.document.uri);
    if (!state || state.seenVersion === e.document.version) return;
    state.seenVersion = e.document.version;
    state.parsed = undefined;
    queue.supersede(e.document.uri);
    if (settings().check.frequency === "edit") queue.schedule(e.document.uri, settings().check.debounceMs);
    // The old scores, marked stale where the edit touched them, right away (not when the check ends).
    const view = shown.edited(e.document.uri, () => parsedNow(e.document.uri)!, e.document.version, state.ignored, settings().segmentation !== "entropy");
    if (view) {
      state.scores = view;
      publish(e.document.uri);
    }
  });
  documents.onDidSave((e) => {
    if (!isManual()) queue.schedule(e.document.uri, 0);
  });
  documents.onDidClose((e) => {
    queue.cancel(e.document.uri);
    states.delete(e.document.uri);
    shown.forget(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  function parsedNow(uri: string): ReturnType<typeof parseText> | undefined {
    const doc = documents.get(uri);
    if (!doc) return undefined;
    const state = stateOf(uri);
    if (state.parsed?.version !== doc.version) state.parsed = { version: doc.version, doc: parseText(uri, doc.getText(), doc.languageId) };
    return state.parsed.doc;
  }

  /** The scored step under the cursor; after edits, found by its text in the last scores. */
  function stepAt(uri: string, position: Position): { step: WireStepScore; solution: WireSolutionScore; scores: DocumentScores } | undefined {
    const doc = documents.get(uri);
    const scores = states.get(uri)?.scores;
    if (!doc || !scores) return undefined;
    if (scores.version === doc.version) {
      for (const solution of scores.solutions) {
        const step = solution.steps.find((s) => contains(s.range, position));
        if (step) return { step, solution, scores };
      }
      return undefined;
    }
    const parsed = parsedNow(uri);
    for (const sol of parsed?.solutions ?? []) {
      const here = sol.steps.find((s) => contains(wireRange(s.range), position));
      if (!here) continue;
      const key = stepKey(sol.index, here.text);
      const solution = scores.solutions.find((s) => s.index === sol.index);
      const step = solution?.steps.find((s) => s.key === key);
      return step && solution ? { step, solution, scores } : undefined;
    }
    return undefined;
  }

  connection.onHover((params): Hover | null => {
    const found = stepAt(params.textDocument.uri, params.position);
    if (!found) return null;
    return { contents: { kind: "markdown", value: stepHover(found.step, found.solution, found.scores) }, range: found.step.range };
  });

  // Lenses answer at once, from the state the marks come from; the refresh after each check brings
  // the new numbers. A request that waited for the check (as this did) ran for seconds, and VS Code
  // stretches its lens debounce to the time requests take: lenses then trailed the marks by seconds
  // (and by tens of seconds after a first check that waited on a model server).
  connection.onCodeLens((params) => {
    const uri = params.textDocument.uri;
    const parsed = parsedNow(uri);
    return parsed ? codeLenses(uri, parsed, states.get(uri)?.scores, { checking: queue.pending(uri), status: host.status() }) : [];
  });

  connection.onCodeAction((params): CodeAction[] => {
    const actions: CodeAction[] = [];
    for (const d of params.context.diagnostics) {
      if (d.source !== SOURCE || !isObject(d.data)) continue;
      const data = d.data as unknown as DiagnosticData;
      const args: StepReportArgs = { uri: data.uri, solutionIndex: data.solutionIndex, stepIndex: data.stepIndex };
      actions.push({ title: "Explain this step", kind: CodeActionKind.QuickFix, diagnostics: [d], command: { title: "Explain this step", command: ShowStepReportCommand, arguments: [args] } });
      actions.push({ title: "Ignore this step", kind: CodeActionKind.QuickFix, diagnostics: [d], command: { title: "Ignore this step", command: IgnoreStepCommand, arguments: [data] } });
    }
    return actions;
  });

  connection.onExecuteCommand((params) => {
    if (params.command !== IgnoreStepCommand) return;
    const data = params.arguments?.[0] as DiagnosticData | undefined;
    if (!data || typeof data.uri !== "string" || typeof data.stepKey !== "string") throw new ResponseError(ErrorCodes.InvalidParams, `${IgnoreStepCommand} needs the diagnostic's data as its argument`);
    const state = stateOf(data.uri);
    state.ignored.add(data.stepKey);
    if (state.scores) applyIgnored(state.scores, state.ignored);
    shown.sent(data.uri, state.scores);
    publish(data.uri);
  });

  // ---- custom requests ----

  connection.onRequest(ScoreDocumentRequest, async (params: ScoreDocumentParams): Promise<DocumentScores> => {
    if (!documents.get(params.uri)) throw new ResponseError(ErrorCodes.InvalidParams, `${params.uri} is not open in the editor; open it to score it`);
    await started;
    try {
      return (await queue.request(params.uri)) ?? emptyScores(params.uri);
    } catch (err) {
      throw asError(err);
    }
  });

  connection.onRequest(ClearScoresRequest, (params: ClearScoresParams | undefined): null => {
    const uris = params?.uri ? [params.uri] : [...states.keys()];
    for (const uri of uris) clear(uri);
    return null;
  });

  /** Work outside the document queue (Best-of-N, labeling) shares the model's lane and stops on reload or shutdown. */
  async function job<T>(token: CancellationToken, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    await started;
    const controller = new AbortController();
    jobs.add(controller);
    const sub = token.onCancellationRequested(() => controller.abort());
    try {
      return await fn(controller.signal);
    } catch (err) {
      throw asError(err);
    } finally {
      sub.dispose();
      jobs.delete(controller);
    }
  }

  connection.onRequest(BestOfNRequest, (params: BestOfNParams, token: CancellationToken): Promise<BestOfNResult> =>
    job(token, (signal) =>
      host.use((engine) =>
        bestOfN(engine, {
          uris: params.uris,
          openText: (uri) => {
            const d = documents.get(uri);
            return d ? { text: d.getText(), languageId: d.languageId } : undefined;
          },
          goldSetting: settings().goldAnswer,
          signal,
        }),
      ),
    ),
  );

  connection.onRequest(LabelDatasetRequest, (params: LabelDatasetParams, token: CancellationToken): Promise<LabelDatasetResult> =>
    job(token, async (signal) => {
      const reporter = params.workDoneToken != null ? connection.window.attachWorkDoneProgress(params.workDoneToken) : await connection.window.createWorkDoneProgress();
      const serverToken = "token" in reporter ? (reporter as { token: CancellationToken }).token : undefined;
      const stop = new AbortController();
      signal.addEventListener("abort", () => stop.abort());
      serverToken?.onCancellationRequested(() => stop.abort());
      return host.use((engine) => runLabelRequest(params, { engine, baseDir, reporter, token, signal: stop.signal }));
    }),
  );

  connection.onRequest(StatusRequest, (): ServerStatus => host.status());

  connection.onRequest(ReloadRequest, async (): Promise<ServerStatus> => {
    await started;
    await applySettings(true);
    return host.status();
  });

  connection.onRequest(RetryRemoteRequest, async (): Promise<ServerStatus> => {
    await started;
    // An error that is not the connection's (a missing URL, say) needs the settings read again.
    if (host.status().state === "error") await applySettings(true);
    else await host.retryNow();
    return host.status();
  });

  documents.listen(connection);
  return { started };
}
