// The latest scores per document. vscode-free: the decorations, the report panel and the tests all
// go through the same staleness rule.

import type { DocumentScores } from "../protocol/index.js";

export type ScoresListener = (uri: string, scores: DocumentScores | undefined) => void;

export class ScoreStore {
  private readonly byUri = new Map<string, DocumentScores>();
  private readonly listeners = new Set<ScoresListener>();

  /**
   * Takes scores unless they are older than what is stored, or newer than the open document
   * (`currentVersion`, undefined when it is not open). Scores for a version the document has since
   * left are still taken: they are closer to the text than what is held, and the server sends the
   * view of the newer text (stale steps marked) only when it looks different, so dropping one could
   * leave the older, unmarked scores on screen. An empty result is a clear and always applies.
   * Returns whether the scores were taken.
   */
  accept(scores: DocumentScores, currentVersion: number | undefined): boolean {
    if (scores.solutions.length === 0) {
      this.delete(scores.uri);
      return true;
    }
    const held = this.byUri.get(scores.uri);
    if (held && scores.version < held.version) return false;
    if (currentVersion !== undefined && scores.version > currentVersion) return false;
    this.byUri.set(scores.uri, scores);
    this.emit(scores.uri, scores);
    return true;
  }

  get(uri: string): DocumentScores | undefined {
    return this.byUri.get(uri);
  }

  delete(uri: string): void {
    if (!this.byUri.delete(uri)) return;
    this.emit(uri, undefined);
  }

  clearAll(): void {
    for (const uri of [...this.byUri.keys()]) this.delete(uri);
  }

  onDidChange(listener: ScoresListener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private emit(uri: string, scores: DocumentScores | undefined): void {
    for (const listener of this.listeners) listener(uri, scores);
  }
}
