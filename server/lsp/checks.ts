// One check of one document: parse, score on the shared model with work-done progress, keep the
// scores and notes, publish. The queue (checkQueue.ts) decides when and in which order.

import type { DocumentScores } from "../../protocol/index.js";
import { parseDocumentSegmented } from "../engine/segment/entropySegment.js";
import { scoreDocumentMethods } from "../engine/methods/scoreMethods.js";
import { scorerForQuality, type Quality } from "../engine/quality.js";
import { CheckQueue } from "./checkQueue.js";
import type { ServerContext } from "./context.js";
import { buildDiagnostics, type ExtraNote } from "./diagnostics.js";
import { capSteps, displayName, fileNameOf, formatOf } from "./documents.js";
import { EngineUnavailableError } from "./engineHost.js";
import { documentScores, wireRange } from "./wire.js";
import { addMethodTerms } from "./methodTerms.js";

export async function runCheck(ctx: ServerContext, uri: string, signal: AbortSignal, forced: boolean): Promise<DocumentScores | undefined> {
  await ctx.started;
  const settings = await ctx.config.forDocument(uri);
  const doc = ctx.documents.get(uri);
  if (!doc || signal.aborted) return undefined;
  const state = ctx.stateOf(uri);
  const goldSetting = settings.goldAnswer;
  // auto: an edit's check is fast, and a full one follows once the text is quiet; a save, an open or
  // the Score command (forced) gets the full one at once.
  const quality: Quality = settings.check.quality === "auto" ? (!forced && state.typing ? "fast" : "full") : settings.check.quality;
  const base = `${doc.version}:${ctx.config.generation}:${goldSetting}`;
  const key = `${base}:${quality}`;
  if (!forced && state.scores && (state.scoredFor === key || state.scoredFor === `${base}:full`)) return state.scores;
  const version = doc.version;
  // The text the parse below is of: Implicit PRM reads it through the parse's ranges, after any wait for the model.
  const sourceText = doc.getText();
  const parsed = ctx.parsedNow(uri)!;
  const { doc: capped, note } = capSteps(parsed);
  const useSetting = !parsed.goldAnswer && goldSetting !== "";
  return ctx.host.use(async (engine) => {
    // Cancelled while the model (re)loaded: a progress that begins and ends with nothing published
    // would only flash in the editor.
    if (signal.aborted) return undefined;
    const progress = await ctx.connection.window.createWorkDoneProgress();
    const name = displayName(uri);
    progress.begin("StepLens", 0, `Scoring ${name}`, false);
    let results;
    try {
      // Entropy segmentation needs the model, so it happens here rather than in the cached parse.
      const target =
        settings.segmentation === "entropy"
          ? capSteps(await parseDocumentSegmented(doc.getText(), { fileName: fileNameOf(uri), format: formatOf(doc.languageId), segmentation: "entropy", backend: engine.backend, entropy: { signal } })).doc
          : capped;
      // Every method of steplens.methods (or steplens.method alone), CPMI at this check's quality;
      // Implicit PRM reads the text as written.
      results = await scoreDocumentMethods({ ...engine, scorer: scorerForQuality(engine, quality) }, target, {
        sourceText,
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
    const scored = results[0]!.scored;
    const tokens = results
      .flatMap((r) => r.scored.solutions)
      .reduce((t, s) => ({ evaluated: t.evaluated + s.result.tokens.evaluated, generated: t.generated + s.result.tokens.generated }), { evaluated: 0, generated: 0 });
    const scores = addMethodTerms(documentScores(scored, { uri, version, engine, goldFromSetting: useSetting, ignored: state.ignored, tokens }), results, useSetting);
    scores.quality = quality;
    const notes: ExtraNote[] = parsed.warnings.map((w) => ({ message: w.message, range: w.range ? wireRange(w.range) : undefined }));
    const parseMessages = new Set(parsed.warnings.map((w) => w.message));
    for (const w of scores.warnings) if (!parseMessages.has(w)) notes.push({ message: w });
    if (note) notes.push(note);
    state.scores = scores;
    state.notes = notes;
    state.scoredFor = key;
    ctx.shown.checked(uri, scores, settings.segmentation !== "entropy");
    ctx.publish(uri);
    if (settings.check.quality === "auto" && quality === "fast") {
      state.typing = false;
      ctx.queue.schedule(uri, settings.check.debounceMs);
    }
    return scores;
  });
}

export function createCheckQueue(ctx: ServerContext): CheckQueue {
  return new CheckQueue(
    (uri, signal, forced) => runCheck(ctx, uri, signal, forced),
    (uri, err) => {
      // One document's failure is that document's problem: say so on it and keep serving the rest.
      if (err instanceof EngineUnavailableError) return;
      const message = err instanceof Error ? err.message : String(err);
      ctx.connection.console.error(`StepLens: scoring ${uri} failed: ${err instanceof Error ? (err.stack ?? message) : message}`);
      const state = ctx.stateOf(uri);
      state.notes = [{ message: `StepLens could not score this file: ${message}` }];
      void ctx.connection.sendDiagnostics({ uri, diagnostics: buildDiagnostics(undefined, state.notes) });
    },
  );
}
