// Where the server's settings come from and what a change of them does: the layers (initialization
// options, pushed settings, the client's workspace configuration), the problems announced once, and
// whether a change needs a new model (engineKey) or only new checks.

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

  private async read(): Promise<ResolvedSettings> {
    const { initOptions } = this;
    const layers: unknown[] = [initOptions.settings];
    if (initOptions.modelPath) layers.push({ modelPath: initOptions.modelPath });
    if (isObject(this.pushed)) layers.push(this.pushed);
    if (this.ctx.caps.configuration) {
      try {
        layers.push(await this.ctx.connection.workspace.getConfiguration("steplens"));
      } catch (err) {
        this.ctx.connection.console.warn(`StepLens: workspace/configuration failed (${(err as Error).message}); using initialization options and defaults`);
      }
    }
    return resolveSettings(layers);
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
    this.announceProblems(this.resolved.problems);
    const key = engineKey(this.resolved.settings, this.token);
    const reload = forceReload || key !== this.loadedKey;
    this.loadedKey = key;
    if (reload || before.goldAnswer !== this.resolved.settings.goldAnswer) this.generation++;
    if (reload) await this.loadModel();
    this.ctx.scheduleAll();
  }
}
