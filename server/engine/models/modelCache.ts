// Where downloaded models live, and which ones are there: `steplens pull` writes here, `--model
// hf:…` and the editor's Select Model read from here. Nothing in this file touches the network.

import { existsSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** $STEPLENS_MODELS_DIR, else the user's cache folder (XDG_CACHE_HOME or ~/.cache) under steplens/models. */
export function defaultModelsDir(): string {
  if (process.env.STEPLENS_MODELS_DIR) return path.resolve(process.env.STEPLENS_MODELS_DIR);
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(cache, "steplens", "models");
}

export interface CachedModel {
  path: string;
  /** File name; for a Hugging Face download it starts with `hf_USER_`. */
  name: string;
  bytes: number;
}

/** The complete GGUF files in `dir` (downloads in progress end in .ipull and are left out). */
export function listCachedModels(dir = defaultModelsDir()): CachedModel[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith(".gguf"))
    .map((name) => {
      const file = path.join(dir, name);
      return { path: file, name, bytes: statSync(file).size };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** `hf:user/repo:quant`, `hf:user/repo/file.gguf`, `huggingface:…`, `hf.co/…`, or an http(s) URL. */
export function isModelSource(s: string): boolean {
  return /^(hf:|hf:\/\/|huggingface:|hf\.co\/|huggingface\.co\/|https?:\/\/)/i.test(s.trim());
}

/** A Hugging Face mirror: --hf-endpoint, else HF_ENDPOINT as huggingface_hub and llama.cpp read it. */
export function huggingFaceEndpoint(given?: string): string | undefined {
  const e = given ?? process.env.HF_ENDPOINT;
  return e && e.trim() !== "" ? e.trim() : undefined;
}

/**
 * The cached file for a model source, without downloading: `--model hf:…` works once the model was
 * pulled, and otherwise says how to get it. Undefined when it is not in the cache.
 */
export async function findCachedModel(source: string, dir = defaultModelsDir(), endpoint?: string): Promise<string | undefined> {
  const { resolveModelFile } = await import("node-llama-cpp");
  const hf = huggingFaceEndpoint(endpoint);
  try {
    return await resolveModelFile(source.trim(), { directory: dir, download: false, cli: false, ...(hf ? { endpoints: { huggingFace: hf } } : {}) });
  } catch {
    return undefined;
  }
}
