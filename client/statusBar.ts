// The status bar item: model and backend when ready, a spinner while busy, a warning when broken.

import * as vscode from "vscode";
import type { ServerStatus } from "../protocol/index.js";
import { COMMANDS } from "./commands.js";
import { statusView, stoppedView, type StatusView } from "./statusFormat.js";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("steplens.status", vscode.StatusBarAlignment.Right, 100);
  private last: ServerStatus | undefined;

  constructor() {
    this.item.name = "StepLens";
    this.item.command = COMMANDS.selectModel;
    this.render(statusView(undefined));
    this.item.show();
  }

  get status(): ServerStatus | undefined {
    return this.last;
  }

  update(status: ServerStatus): void {
    this.last = status;
    this.render(statusView(status));
  }

  stopped(message: string): void {
    this.last = { state: "error", busy: 0, message };
    this.render(stoppedView(message));
  }

  private render(view: StatusView): void {
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.error ? new vscode.ThemeColor(view.severe ? "statusBarItem.errorBackground" : "statusBarItem.warningBackground") : undefined;
    this.item.command = view.click ? COMMANDS[view.click] : COMMANDS.selectModel;
  }

  dispose(): void {
    this.item.dispose();
  }
}
