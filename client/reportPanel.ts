// Show Step Report: one webview panel that follows the scored document, updates when new scores
// arrive and reveals a step in the editor when its bar or row is clicked.

import * as vscode from "vscode";
import type { DocumentScores } from "../protocol/index.js";
import { buildReportBody, buildReportHtml, makeNonce, type StepRef } from "./reportHtml.js";
import { isStepLensLanguage } from "./languages.js";
import type { ScoreStore } from "./scoreStore.js";
import { toRange } from "./ranges.js";
import { fileName } from "./uriArgs.js";

const VIEW_TYPE = "steplens.stepReport";

interface RevealMessage {
  type: "reveal";
  solutionIndex: number;
  stepIndex: number;
}

function isRevealMessage(m: unknown): m is RevealMessage {
  if (!m || typeof m !== "object") return false;
  const r = m as Record<string, unknown>;
  return r.type === "reveal" && typeof r.solutionIndex === "number" && typeof r.stepIndex === "number";
}

export class ReportPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private uri: vscode.Uri | undefined;
  private highlight: StepRef | undefined;
  /**
   * Without retainContextWhenHidden a hidden webview is thrown away and comes back from the last
   * full HTML, which misses the updates posted since: rebuild it on every hidden → visible change.
   */
  private wasVisible = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: ScoreStore,
  ) {
    this.disposables.push(
      store.onDidChange((uri) => {
        if (this.panel && uri === this.uri?.toString()) this.update();
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (!this.panel || !editor || !isStepLensLanguage(editor.document.languageId)) return;
        if (editor.document.uri.toString() === this.uri?.toString()) return;
        this.uri = editor.document.uri;
        this.highlight = undefined;
        this.update(true);
      }),
    );
  }

  show(uri: vscode.Uri, highlight?: StepRef): void {
    this.uri = uri;
    this.highlight = highlight;
    if (!this.panel) this.panel = this.create();
    else this.panel.reveal(undefined, true);
    this.update(true);
  }

  private create(): vscode.WebviewPanel {
    const media = vscode.Uri.joinPath(this.extensionUri, "media");
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, "StepLens: Step Report", { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [media],
    });
    panel.iconPath = vscode.Uri.joinPath(media, "icon.svg");
    panel.onDidDispose(() => {
      this.panel = undefined;
    });
    this.wasVisible = panel.visible;
    panel.onDidChangeViewState(({ webviewPanel }) => {
      const shown = webviewPanel.visible && !this.wasVisible;
      this.wasVisible = webviewPanel.visible;
      if (shown) this.update(true);
    });
    panel.webview.onDidReceiveMessage((m: unknown) => {
      if (isRevealMessage(m)) void this.revealStep(m.solutionIndex, m.stepIndex);
    });
    return panel;
  }

  /** Full HTML on first show or a document switch; a message otherwise, which keeps the scroll. */
  private update(full = false): void {
    const panel = this.panel;
    const uri = this.uri;
    if (!panel || !uri) return;
    const name = fileName(uri);
    panel.title = `Step Report: ${name}`;
    const body = buildReportBody(name, this.store.get(uri.toString()), this.highlight);
    if (!panel.visible && !full) return;
    if (full) {
      const webview = panel.webview;
      const media = vscode.Uri.joinPath(this.extensionUri, "media");
      webview.html = buildReportHtml(
        {
          cspSource: webview.cspSource,
          nonce: makeNonce(),
          scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "report.js")).toString(),
          styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "report.css")).toString(),
        },
        body,
      );
    } else {
      void panel.webview.postMessage({ type: "render", body });
    }
  }

  private async revealStep(solutionIndex: number, stepIndex: number): Promise<void> {
    const uri = this.uri;
    const scores: DocumentScores | undefined = uri ? this.store.get(uri.toString()) : undefined;
    const step = scores?.solutions.find((s) => s.index === solutionIndex)?.steps.find((s) => s.index === stepIndex);
    if (!uri || !step) return;
    const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
    const editor = await vscode.window.showTextDocument(uri, { viewColumn: visible?.viewColumn ?? vscode.ViewColumn.One, preserveFocus: false });
    const range = toRange(step.range);
    // The cursor on the step, not the step selected: typing would replace a selection.
    editor.selection = new vscode.Selection(range.start, range.start);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.panel?.dispose();
  }
}

