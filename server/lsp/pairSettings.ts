// Implicit PRM's settings in the editor: which methods the settings ask for, a reference no method
// reads (set aside with a warning: settings outlive the method they were made for), and what stops
// a pair from loading, in the settings' own words (the engine's say --reference-model). Bad input
// ends in the host's error state and message, never in a crash.

import { existsSync, statSync } from "node:fs";
import type { StepLensSettings } from "../../protocol/index.js";
import type { EngineOptions } from "../engine/engineOptions.js";
import { BackendError } from "../engine/backend/types.js";
import { checkPair } from "../engine/implicit/pair.js";
import { isPairMethod } from "../engine/methods/stepMethods.js";

/** The methods the settings ask for: steplens.methods, or steplens.method alone. */
export function methodsOf(settings: Pick<StepLensSettings, "method" | "methods">): string[] {
  return settings.methods.length > 0 ? [...settings.methods] : [settings.method];
}

const METHOD_SETTINGS = 'set "steplens.method" to "implicit" (or add "implicit" to "steplens.methods")';

/** A reference the settings carry but nothing will read: the warning, or undefined. */
export function pairSettingsProblem(settings: StepLensSettings): string | undefined {
  if (!settings.referenceModelPath) return undefined;
  const methods = methodsOf(settings);
  if (!methods.some((m) => isPairMethod(m))) {
    return `steplens.referenceModelPath is read only by Implicit PRM, and the method is ${methods.join(", ")}: ${METHOD_SETTINGS} to use it, or clear it; ignoring it for now`;
  }
  if (settings.backend === "remote") {
    return `steplens.referenceModelPath names a file here, but with steplens.backend "remote" both models of the pair are the server's (steplens serve --reference-model); ignoring it`;
  }
  return undefined;
}

/**
 * Why the pair the options name cannot load, in the settings' words, or undefined. Checked before
 * the engine loads anything: the GGUF headers are read (vocabularies compared), no weights.
 */
export async function pairLoadProblem(options: EngineOptions): Promise<string | undefined> {
  const methods = options.methods ?? [options.method ?? "cpmi"];
  const method = methods.find((m) => isPairMethod(m));
  if (!method || (options.backend ?? "local") !== "local") return undefined;
  const reference = options.referenceModelPath;
  const what = `Implicit PRM (method ${method}) compares the policy in "steplens.modelPath" with the reference model it was trained from`;
  if (!reference) return `${what}: set "steplens.referenceModelPath" to that reference's GGUF file (for the demo policy arith-implicit-prm-15m-f16.gguf, arith-demo-15m-f16.gguf).`;
  if (!existsSync(reference)) return `StepLens cannot find the reference model: no file at ${reference}. ${what}: set "steplens.referenceModelPath" to its GGUF file.`;
  if (!statSync(reference).isFile()) return `The reference model path ${reference} is not a file. Set "steplens.referenceModelPath" to a GGUF file.`;
  if (!options.modelPath || !existsSync(options.modelPath)) return undefined; // the host's own message names a missing model
  try {
    await checkPair(options.modelPath, reference);
  } catch (err) {
    const why = err instanceof BackendError ? err.message : `reading the GGUF headers failed (${err instanceof Error ? err.message : String(err)})`;
    return `StepLens cannot use this model pair: ${why.replace(/\.$/, "")}. Check "steplens.modelPath" (the policy π_θ) and "steplens.referenceModelPath" (the reference π_ref).`;
  }
  return undefined;
}
