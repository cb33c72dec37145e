// Open, edit, save, close: when each of them asks for a check, and what a close forgets.

import type { ServerContext } from "../context.js";

export function registerDocumentEvents(ctx: ServerContext): void {
  const { documents, queue, states } = ctx;
  const settings = () => ctx.config.settings;
  const isManual = (): boolean => settings().check.frequency === "manual";

  documents.onDidOpen((e) => {
    ctx.stateOf(e.document.uri).seenVersion = e.document.version;
    ctx.stateOf(e.document.uri).typing = false;
    if (!isManual()) queue.schedule(e.document.uri, 0);
  });
  documents.onDidChangeContent((e) => {
    // Fires on open too; only a real edit supersedes a running check.
    const state = states.get(e.document.uri);
    if (!state || state.seenVersion === e.document.version) return;
    state.seenVersion = e.document.version;
    state.parsed = undefined;
    state.typing = true;
    queue.supersede(e.document.uri);
    if (settings().check.frequency === "edit") queue.schedule(e.document.uri, settings().check.debounceMs);
    // The old scores, marked stale where the edit touched them, right away (not when the check ends).
    const view = ctx.shown.edited(e.document.uri, () => ctx.parsedNow(e.document.uri), e.document.version, state.ignored);
    if (view) {
      state.scores = view;
      ctx.publish(e.document.uri);
    }
  });
  documents.onDidSave((e) => {
    const state = states.get(e.document.uri);
    if (state) state.typing = false;
    if (!isManual()) queue.schedule(e.document.uri, 0);
  });
  documents.onDidClose((e) => {
    queue.cancel(e.document.uri);
    states.delete(e.document.uri);
    ctx.shown.forget(e.document.uri);
    void ctx.connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });
}
