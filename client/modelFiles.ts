// Where Select Model looks for GGUF files outside the workspace, and how it lists them; vscode-free.

import { readdirSync, statSync } from "node:fs";
import path from "node:path";

export const DEMO_MODEL_FILE = "arith-demo-15m-f16.gguf";

export interface ModelFile {
  path: string;
  bytes: number;
  /** Where it was found, for the picker's description. */
  source: string;
}

/** Folders beside the extension where a dev checkout (and the demo model) keeps models. */
export function besideExtensionDirs(extensionPath: string): string[] {
  return [path.resolve(extensionPath, "../shared/models"), path.resolve(extensionPath, "shared/models")];
}

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
