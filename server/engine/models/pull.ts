// Getting a model: `steplens pull MODEL` and, later, the editor's "Download a recommended model…".
// node-llama-cpp's model downloader does the transfer (Hugging Face URIs, a mirror endpoint, a token
// for gated models, parallel ranged connections, retries, a `.ipull` file that keeps the progress so
// an interrupted download resumes). What it does not do is check the result: the hub names each
// LFS file's SHA-256 (the `X-Linked-Etag` header of its resolve URL, what huggingface_hub checks),
// and a file that does not match it is deleted, never left where a model is looked for.

import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync, unlinkSync } from "node:fs";
import { defaultModelsDir, huggingFaceEndpoint, isModelSource } from "./modelCache.js";
import { startsWithGgufMagic } from "../backend/ggufHeader.js";

export interface PullProgress {
  downloaded: number;
  total: number;
}

export interface PullOptions {
  /** `hf:USER/REPO:QUANT`, `hf:USER/REPO/FILE.gguf`, or an http(s) URL to a .gguf file. */
  source: string;
  /** The cache folder (default: defaultModelsDir()). */
  dir?: string;
  /** A Hugging Face mirror (default: $HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** A Hugging Face token for gated models (default: $HF_TOKEN or huggingface-cli's saved token). */
  token?: string;
  /** The SHA-256 the file must have, for servers that name none. */
  sha256?: string;
  signal?: AbortSignal;
  onProgress?: (progress: PullProgress) => void;
  /** Called once the download starts: its size and how much of it an earlier attempt left. */
  onStart?: (info: { path: string; total: number; resumedFrom: number }) => void;
}

export interface PullResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Whose checksum the file was checked against: the hub's, the caller's, or none was given. */
  checksum: "hub" | "given" | "none";
  /** Bytes an interrupted earlier download had left, reused here. */
  resumedFrom: number;
  /** The file was complete in the cache already: nothing was downloaded. */
  alreadyThere: boolean;
}

export type PullErrorCode = "invalid" | "not-found" | "unauthorized" | "network" | "checksum" | "cancelled";

/** A failure the user can act on; the message says what to do. */
export class PullError extends Error {
  constructor(
    message: string,
    readonly code: PullErrorCode,
  ) {
    super(message);
    this.name = "PullError";
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const source = options.source.trim();
  if (!isModelSource(source)) {
    throw new PullError(
      `"${source}" is not a model to download: name it as hf:USER/REPO:QUANT (e.g. hf:Qwen/Qwen2.5-Math-1.5B-Instruct-GGUF:Q4_K_M), hf:USER/REPO/FILE.gguf, or an https:// URL of a .gguf file`,
      "invalid",
    );
  }
  const given = options.sha256?.trim().toLowerCase();
  if (given != null && !SHA256.test(given)) throw new PullError(`--sha256 must be 64 hexadecimal digits, got "${options.sha256}"`, "invalid");
  const dir = options.dir ?? defaultModelsDir();
  const endpoint = huggingFaceEndpoint(options.endpoint);
  const { createModelDownloader } = await import("node-llama-cpp");
  let downloader: Awaited<ReturnType<typeof createModelDownloader>>;
  try {
    downloader = await createModelDownloader({
      modelUri: source,
      dirPath: dir,
      showCliProgress: false,
      // Keep what arrived when interrupted: the next pull of the same model resumes from it.
      deleteTempFileOnCancel: false,
      skipExisting: true,
      ...(options.onProgress ? { onProgress: (s: { downloadedSize: number; totalSize: number }) => options.onProgress!({ downloaded: s.downloadedSize, total: s.totalSize }) } : {}),
      ...(options.token ? { tokens: { huggingFace: options.token } } : {}),
      ...(endpoint ? { endpoints: { huggingFace: endpoint } } : {}),
    });
  } catch (err) {
    throw resolveFailure(source, err, endpoint);
  }
  const file = downloader.entrypointFilePath;
  const partial = `${file}.ipull`;
  const resumedFrom = existsSync(partial) ? downloader.downloadedSize : 0;
  const alreadyThere = !existsSync(partial) && existsSync(file) && statSync(file).size === downloader.totalSize && downloader.totalSize > 0;
  // node-llama-cpp keeps the URL it resolved (hf: URIs go through the hub's manifest) to itself.
  const url = (downloader as unknown as { _modelUrl?: unknown })._modelUrl;
  const hubSha = typeof url === "string" ? await hubChecksum(url, options.token ?? process.env.HF_TOKEN, options.signal) : undefined;
  const expected = given ?? hubSha;
  if (!alreadyThere) {
    options.onStart?.({ path: file, total: downloader.totalSize, resumedFrom });
    // Closing the downloader writes its progress into the .ipull file: wait for it before saying so.
    // Once it is closed the pull is over, whether or not download() settles: when the only transfer
    // left is a silent connection, ipull's download() never does (and the pull would never return).
    let onAbort = (): void => {};
    const cancelled = new Promise<"cancelled">((resolve, reject) => {
      onAbort = (): void => void downloader.cancel({ deleteTempFile: false }).then(() => resolve("cancelled"), reject);
    });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (options.signal?.aborted) throw new Error("aborted");
      const downloading = downloader.download();
      // Raced away from on cancel: a late rejection then has nothing left to report.
      downloading.catch(() => {});
      if ((await Promise.race([downloading, cancelled])) === "cancelled") throw new Error("aborted");
    } catch (err) {
      if (options.signal?.aborted) {
        await cancelled;
        throw new PullError(interrupted(source, partial), "cancelled");
      }
      throw new PullError(`download of ${source} failed: ${errorText(err)}. What arrived is kept; run the same command again to resume`, "network");
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    if (options.signal?.aborted) {
      throw new PullError(interrupted(source, partial), "cancelled");
    }
  }
  const sha256 = await fileSha256(file);
  if (expected && sha256 !== expected) {
    unlinkSync(file);
    throw new PullError(
      `the downloaded ${file} does not match the checksum ${given ? "given with --sha256" : "the hub names for it"} (expected sha256 ${expected}, got ${sha256}): ` +
        `the file was deleted. Run the command again; if it happens again the server or a proxy is corrupting the file`,
      "checksum",
    );
  }
  if (!startsWithGgufMagic(file)) {
    unlinkSync(file);
    throw new PullError(`what ${source} served is not a GGUF model file (it does not start with the GGUF magic bytes); the file was deleted`, "invalid");
  }
  return { path: file, bytes: statSync(file).size, sha256, checksum: given ? "given" : hubSha ? "hub" : "none", resumedFrom, alreadyThere };
}

/** ipull does not always leave its partial file behind when closed: say what is actually there. */
function interrupted(source: string, partial: string): string {
  return existsSync(partial)
    ? `download of ${source} interrupted; what arrived is kept in ${partial}: run the same command again to resume`
    : `download of ${source} interrupted; nothing was kept: run the same command again to download it`;
}

/**
 * The SHA-256 the hub names for a file: Hugging Face answers a HEAD of the resolve URL (without
 * following its redirect to the storage) with `X-Linked-Etag: "<sha256>"` for files in LFS.
 */
async function hubChecksum(url: string, token: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const res = await fetch(url, { method: "HEAD", redirect: "manual", headers: token ? { authorization: `Bearer ${token}` } : {}, signal });
    const etag = (res.headers.get("x-linked-etag") ?? "").replace(/^W\//, "").replace(/"/g, "").toLowerCase();
    return SHA256.test(etag) ? etag : undefined;
  } catch {
    return undefined;
  }
}

function resolveFailure(source: string, err: unknown, endpoint: string | undefined): PullError {
  const why = errorText(err);
  const where = endpoint ? ` at ${endpoint}` : "";
  if (/Cannot get quantization|does not exist|\b404\b/.test(why)) {
    return new PullError(`no such model file${where}: ${source} (${why}). Check the repository name and the quantization (e.g. :Q4_K_M)`, "not-found");
  }
  if (/\b401\b|\b403\b/.test(why)) {
    return new PullError(`${source} needs access${where}: accept the model's terms on its page and pass a token with --hf-token (or set HF_TOKEN). ${why}`, "unauthorized");
  }
  return new PullError(`cannot reach the model server${where} for ${source}: ${why}. Check the network, or set a mirror with --hf-endpoint (or HF_ENDPOINT)`, "network");
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
