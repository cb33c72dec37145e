// Where Select Model looks for GGUF files outside the workspace, and what its list says; vscode-free.
// The words are for someone who installed the .vsix: no development checkout, maybe no model yet.

import { existsSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const DEMO_MODEL_FILE = "arith-demo-15m-f16.gguf";

export interface ModelFile {
  path: string;
  bytes: number;
  /** Where it was found, for the picker's description. */
  source: string;
}

/** Folders next to the extension that may hold models (a source checkout keeps its demo model there). */
export function besideExtensionDirs(extensionPath: string): string[] {
  return [path.resolve(extensionPath, "../shared/models"), path.resolve(extensionPath, "shared/models")];
}

/**
 * The folder `steplens pull` downloads into, found as the CLI finds it (server/engine/models/
 * modelCache.ts defaultModelsDir; the client does not import the server): $STEPLENS_MODELS_DIR, else
 * XDG_CACHE_HOME or ~/.cache, under steplens/models.
 */
export function modelCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): string {
  if (env.STEPLENS_MODELS_DIR) return path.resolve(env.STEPLENS_MODELS_DIR);
  return path.join(env.XDG_CACHE_HOME || path.join(home, ".cache"), "steplens", "models");
}

/** How the cache's rows are labelled in the picker. */
export const MODEL_CACHE_SOURCE = "downloaded (StepLens model cache)";

/** The GGUF files directly in `dir` (not below it: a models folder can be large). Missing folders give none. */
export function ggufFilesIn(dir: string, source: string): ModelFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: ModelFile[] = [];
  for (const name of names.sort()) {
    if (!/\.gguf$/i.test(name)) continue;
    const file = path.join(dir, name);
    try {
      const st = statSync(file);
      if (st.isFile()) out.push({ path: file, bytes: st.size, source });
    } catch {
      // A dangling link is not a model.
    }
  }
  return out;
}

/**
 * Every GGUF Select Model offers, in the order it lists them: the workspace's, the model cache's, the
 * current model's folder, next to the extension; a file found twice is listed under its first place.
 */
export function gatherModels(workspace: readonly ModelFile[], current: string, extensionPath: string, cacheDir: string = modelCacheDir()): ModelFile[] {
  const found: ModelFile[] = [...workspace, ...ggufFilesIn(cacheDir, MODEL_CACHE_SOURCE)];
  if (current && path.isAbsolute(current)) found.push(...ggufFilesIn(path.dirname(current), "folder of the current model"));
  for (const dir of besideExtensionDirs(extensionPath)) found.push(...ggufFilesIn(dir, "next to StepLens"));
  return dedupeModels(found);
}

/** First occurrence wins, so earlier sources (the workspace) name a file found twice. */
export function dedupeModels(files: readonly ModelFile[]): ModelFile[] {
  const seen = new Set<string>();
  return files.filter((f) => {
    const key = path.resolve(f.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * The model the server uses when steplens.modelPath is empty, as it finds it: $STEPLENS_MODEL, else
 * the demo model next to the extension; undefined when there is none (an installed .vsix).
 */
export function fallbackModel(extensionPath: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.STEPLENS_MODEL) return path.resolve(env.STEPLENS_MODEL);
  return besideExtensionDirs(extensionPath)
    .map((d) => path.join(d, DEMO_MODEL_FILE))
    .find((f) => existsSync(f));
}

export interface ModelPickItem {
  action: "file" | "browse" | "download" | "clear" | "separator";
  label: string;
  description?: string;
  detail?: string;
  file?: string;
}

/** How to get a model, for the picker and the settings: a GGUF file, downloaded by the user. */
export const GET_A_MODEL = "a GGUF model file (llama.cpp's format; Hugging Face hosts GGUF builds of most open models)";

/**
 * Select Model's rows: the GGUF files found (grouped by where), Download a recommended model…,
 * Browse…, and Clear when the setting is set and something would be used without it. `relative`
 * shortens workspace paths.
 */
export function modelPickItems(models: readonly ModelFile[], current: string, fallback: string | undefined, relative: (file: string) => string = (f) => f): ModelPickItem[] {
  const items: ModelPickItem[] = [];
  let lastSource = "";
  for (const m of models) {
    if (m.source !== lastSource) items.push({ action: "separator", label: m.source });
    lastSource = m.source;
    const isCurrent = current !== "" && path.resolve(current) === path.resolve(m.path);
    items.push({
      action: "file",
      label: `$(file-binary) ${path.basename(m.path)}`,
      description: `${isCurrent ? "current · " : ""}${formatBytes(m.bytes)}`,
      detail: m.source === "workspace" ? relative(m.path) : m.path,
      file: m.path,
    });
  }
  items.push({ action: "separator", label: "other" });
  items.push({ action: "download", label: "$(cloud-download) Download a recommended model…", description: "asks before downloading", detail: "A short list of GGUF models for math, with their sizes; saved in the StepLens model cache." });
  items.push({ action: "browse", label: "$(folder-opened) Browse…", description: "choose a .gguf file", detail: `Any ${GET_A_MODEL}.` });
  if (current !== "" && fallback) {
    items.push({ action: "clear", label: "$(discard) Clear steplens.modelPath", description: `use ${path.basename(fallback)}`, detail: fallback });
  }
  return items;
}

export function modelPickPlaceholder(models: readonly ModelFile[]): string {
  return models.length > 0 ? "GGUF model for scoring (saved in your user settings)" : `No model found yet: choose "Download a recommended model…", or download ${GET_A_MODEL} yourself and choose Browse…`;
}
