// Error-Lens-style marks: a gutter icon and the step's score after its last line. One decoration
// type per bucket, created once; each update replaces a type's ranges in a single setDecorations
// call, so marks change in place instead of flickering.

import * as vscode from "vscode";
import { BUCKETS, BUCKET_ORDER, lineMarks, marksByBucket, type Bucket, type LineMark } from "./buckets.js";
import type { ScoreStore } from "./scoreStore.js";
import { CLIENT_SETTINGS, SECTION } from "./settings.js";

export class StepDecorations implements vscode.Disposable {
  private readonly types: Record<Bucket, vscode.TextEditorDecorationType>;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    extensionUri: vscode.Uri,
    private readonly store: ScoreStore,
  ) {
    const make = (bucket: Bucket): vscode.TextEditorDecorationType => {
      const style = BUCKETS[bucket];
      const color = new vscode.ThemeColor(style.color);
      return vscode.window.createTextEditorDecorationType({
        gutterIconPath: vscode.Uri.joinPath(extensionUri, style.icon),
        gutterIconSize: "contain",
        overviewRulerColor: bucket === "weak" || bucket === "wrong" ? color : undefined,
        overviewRulerLane: vscode.OverviewRulerLane.Right,
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        // Italic for a stale score: its colour alone could be read as "not scored".
        after: { color, margin: "0 0 0 2.5em", fontStyle: bucket === "stale" ? "italic" : "normal" },
      });
    };
    this.types = { good: make("good"), weak: make("weak"), wrong: make("wrong"), notScored: make("notScored"), stale: make("stale") };
    this.disposables.push(
      store.onDidChange((uri) => this.refresh(uri)),
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.apply(e))),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SECTION}.${CLIENT_SETTINGS.decorationsEnabled}`)) this.refresh();
      }),
    );
    this.refresh();
  }

  /** Re-applies to the visible editors showing `uri` (all of them when omitted). */
  refresh(uri?: string): void {
    for (const editor of vscode.window.visibleTextEditors) {
      if (uri === undefined || editor.document.uri.toString() === uri) this.apply(editor);
    }
  }

  apply(editor: vscode.TextEditor): void {
    const enabled = vscode.workspace.getConfiguration(SECTION, editor.document).get<boolean>(CLIENT_SETTINGS.decorationsEnabled, true);
    const scores = enabled ? this.store.get(editor.document.uri.toString()) : undefined;
    const byBucket = marksByBucket(scores ? lineMarks(scores) : []);
    for (const bucket of BUCKET_ORDER) {
      editor.setDecorations(this.types[bucket], byBucket[bucket].flatMap((m) => this.option(editor.document, m)));
    }
  }

  private option(document: vscode.TextDocument, mark: LineMark): vscode.DecorationOptions[] {
    // Scores of an older text can name a line that no longer exists; VS Code moves the marks it
    // already shows along with edits, so only re-applied marks can be out of range.
    if (mark.line >= document.lineCount) return [];
    const end = document.lineAt(mark.line).range.end;
    return [{ range: new vscode.Range(end, end), renderOptions: { after: { contentText: mark.text } } }];
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    for (const bucket of BUCKET_ORDER) this.types[bucket].dispose();
  }
}
