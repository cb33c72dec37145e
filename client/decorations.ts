// Error-Lens-style marks: a gutter icon and the step's score after its last line. One decoration
// type per bucket, created once; each update replaces a type's ranges in a single setDecorations
// call, so marks change in place instead of flickering. Where the editor wraps lines the score is an
// inlay hint instead (scoreTextPlacement says why), from the same marks.

import * as vscode from "vscode";
import { BUCKETS, BUCKET_ORDER, lineMarks, marksByBucket, scoreTextPlacement, unbreakable, type Bucket, type LineMark } from "./buckets.js";
import { documentSelector } from "./languages.js";
import type { ScoreStore } from "./scoreStore.js";
import { CLIENT_SETTINGS, EDITOR_SETTINGS, SECTION } from "./settings.js";

export class StepDecorations implements vscode.Disposable {
  private readonly types: Record<Bucket, vscode.TextEditorDecorationType>;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly hintsChanged = new vscode.EventEmitter<void>();

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
      this.hintsChanged,
      vscode.languages.registerInlayHintsProvider([...documentSelector], { onDidChangeInlayHints: this.hintsChanged.event, provideInlayHints: (doc) => this.hints(doc) }),
      store.onDidChange((uri) => {
        this.refresh(uri);
        this.hintsChanged.fire();
      }),
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.apply(e))),
      vscode.workspace.onDidChangeConfiguration((e) => {
        const keys = [`editor.${EDITOR_SETTINGS.wordWrap}`, `editor.${EDITOR_SETTINGS.inlayHints}`, `${SECTION}.${CLIENT_SETTINGS.decorationsEnabled}`];
        if (keys.some((k) => e.affectsConfiguration(k))) {
          this.refresh();
          this.hintsChanged.fire();
        }
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
    const marks = this.marks(editor.document);
    const asText = this.placement(editor.document) === "after";
    const byBucket = marksByBucket(marks);
    for (const bucket of BUCKET_ORDER) {
      editor.setDecorations(this.types[bucket], byBucket[bucket].flatMap((m) => this.option(editor.document, m, asText)));
    }
  }

  private marks(document: vscode.TextDocument): LineMark[] {
    const enabled = vscode.workspace.getConfiguration(SECTION, document).get<boolean>(CLIENT_SETTINGS.decorationsEnabled, true);
    const scores = enabled ? this.store.get(document.uri.toString()) : undefined;
    // Scores of an older text can name a line that no longer exists; VS Code moves the marks it
    // already shows along with edits, so only re-applied marks can be out of range.
    return scores ? lineMarks(scores).filter((m) => m.line < document.lineCount) : [];
  }

  private placement(document: vscode.TextDocument): "after" | "hint" {
    const editor = vscode.workspace.getConfiguration("editor", document);
    return scoreTextPlacement(editor.get<string>(EDITOR_SETTINGS.wordWrap), editor.get<string>(EDITOR_SETTINGS.inlayHints));
  }

  /** The gutter icon always; the score as text after the line unless an inlay hint shows it. */
  private option(document: vscode.TextDocument, mark: LineMark, asText: boolean): vscode.DecorationOptions[] {
    const end = document.lineAt(mark.line).range.end;
    return [{ range: new vscode.Range(end, end), renderOptions: asText ? { after: { contentText: mark.text } } : undefined }];
  }

  /** The scores as inlay hints where the editor wraps lines: a hint wraps with the text, decoration text does not. */
  private hints(document: vscode.TextDocument): vscode.InlayHint[] {
    if (this.placement(document) !== "hint") return [];
    return this.marks(document).map((mark) => {
      const hint = new vscode.InlayHint(document.lineAt(mark.line).range.end, unbreakable(mark.text));
      hint.paddingLeft = true;
      hint.tooltip = BUCKETS[mark.bucket].label;
      return hint;
    });
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    for (const bucket of BUCKET_ORDER) this.types[bucket].dispose();
  }
}
