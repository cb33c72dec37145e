// Where the server's settings come from and what a change of them does: the layers (initialization
// options, pushed settings, the client's workspace configuration), the problems announced once, and
// whether a change needs a new model (engineKey) or only new checks.
//
// A client with workspace/configuration is asked (pulled) on every change, as lsp-sample and
// rust-analyzer do; what it answers wins over what it said at start. Settings that shape the one
// model are read for the window; the settings VS Code scopes per resource (goldAnswer) are read per
// document with its `scopeUri`, so a folder's own value applies to the files in it.

import { MessageType } from "vscode-languageserver";
import type { InitializationOptions, StepLensSettings } from "../../protocol/index.js";
import type { ServerContext } from "./context.js";
import { engineOptionsOf } from "./engineHost.js";
import { engineKey, resolveSettings, type ResolvedSettings } from "./settings.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export class ServerConfig {
  initOptions: InitializationOptions = {};
  /**
   * A server backend's token: from initializationOptions and steplens/setToken, never from settings;
   * until a client sends one, $STEPLENS_TOKEN as the CLI reads it (editors without a secret store).
   */
  token = process.env.STEPLENS_TOKEN ?? "";
  private pushed: unknown;
  private resolved: ResolvedSettings = resolveSettings([]);
  private loadedKey: string | undefined;
  /** Bumped when scores in hand no longer fit the settings (new model, new gold answer). */
  generation = 0;
  private lastProblems = "";
  /** Per-document settings, read once per document until the next change of settings. */
  private perDocument = new Map<string, Promise<StepLensSettings>>();
  private lastError = "";

  constructor(private readonly ctx: ServerContext) {}

  get settings(): StepLensSettings {
    return this.resolved.settings;
  }

  /** Settings a client pushed with workspace/didChangeConfiguration. */
  push(settings: unknown): void {
    const s = isObject(settings) ? settings.steplens : undefined;
    if (isObject(s)) this.pushed = s;
  }

  /** The layers every read starts from: what the client said at start, then what it pushed. */
  private baseLayers(): unknown[] {
    const { initOptions } = this;
    const layers: unknown[] = [initOptions.settings];
    if (initOptions.modelPath) layers.push({ modelPath: initOptions.modelPath });
    if (isObject(this.pushed)) layers.push(this.pushed);
    return layers;
  }

  private async pull(scopeUri?: string): Promise<unknown> {
    if (!this.ctx.caps.configuration) return undefined;
    try {
      const workspace = this.ctx.connection.workspace;
      return scopeUri ? await workspace.getConfiguration({ scopeUri, section: "steplens" }) : await workspace.getConfiguration("steplens");
    } catch (err) {
      this.ctx.connection.console.warn(`StepLens: workspace/configuration failed (${(err as Error).message}); using initialization options and defaults`);
      return undefined;
    }
  }

  private async read(): Promise<ResolvedSettings> {
    return resolveSettings([...this.baseLayers(), await this.pull()]);
  }

  /** The settings for one document: the window's, with the document's own resource-scoped values. */
  forDocument(uri: string): Promise<StepLensSettings> {
    let settings = this.perDocument.get(uri);
    if (!settings) {
      const window = this.settings;
      settings = this.ctx.caps.configuration ? this.pull(uri).then((own) => ({ ...window, goldAnswer: resolveSettings([...this.baseLayers(), own]).settings.goldAnswer })) : Promise.resolve(window);
      this.perDocument.set(uri, settings);
    }
    return settings;
  }

  /** A closed document's settings are read again if it is opened again. */
  forget(uri: string): void {
    this.perDocument.delete(uri);
  }

  private announceProblems(problems: readonly string[]): void {
    const text = problems.join("; ");
    if (text && text !== this.lastProblems) this.ctx.showMessage(MessageType.Warning, `StepLens settings: ${text}`);
    this.lastProblems = text;
  }

  private async loadModel(): Promise<void> {
    const { ctx } = this;
    ctx.queue.cancelAll();
    for (const job of ctx.jobs) job.abort();
    for (const s of ctx.states.values()) s.scoredFor = undefined;
    await ctx.host.load(engineOptionsOf(this.settings, this.token));
    const status = ctx.host.status();
    if (status.state === "error" && status.message) {
      ctx.connection.console.error(status.message);
      if (status.message !== this.lastError) ctx.showMessage(MessageType.Error, status.message);
      this.lastError = status.message;
    } else this.lastError = "";
  }

  /** Re-reads the settings; reloads the model only if a setting that shapes it changed. */
  async apply(forceReload: boolean): Promise<void> {
    const before = this.resolved.settings;
    this.resolved = await this.read();
    this.perDocument.clear();
    this.announceProblems(this.resolved.problems);
    const key = engineKey(this.resolved.settings, this.token);
    const reload = forceReload || key !== this.loadedKey;
    this.loadedKey = key;
    if (reload || before.goldAnswer !== this.resolved.settings.goldAnswer) this.generation++;
    if (reload) await this.loadModel();
    this.ctx.scheduleAll();
  }
}
