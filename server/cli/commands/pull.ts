// `steplens pull MODEL`: download a GGUF into the model cache, with a progress bar, resume after an
// interruption and the hub's checksum checked (server/engine/models/pull.ts does the work). Nothing
// is ever downloaded by any other command: `--model hf:…` only finds what was pulled.

import { Presets, SingleBar } from "cli-progress";
import type { Command } from "commander";
import { defaultModelsDir, listCachedModels } from "../../engine/models/modelCache.js";
import { pullModel, PullError, type PullProgress } from "../../engine/models/pull.js";
import { report } from "../report.js";

interface PullFlags {
  dir?: string;
  hfEndpoint?: string;
  hfToken?: string;
  sha256?: string;
  json?: boolean;
  list?: boolean;
  progressJson?: boolean;
}

const MB = 1024 * 1024;
const mb = (n: number): string => (n / MB).toFixed(1);

export function registerPull(program: Command): void {
  program
    .command("pull")
    .description("download a GGUF model into the model cache (resumes an interrupted download; checks the hub's SHA-256), e.g. steplens pull hf:Qwen/Qwen2.5-Math-1.5B-Instruct-GGUF:Q4_K_M")
    .argument("[model]", "hf:USER/REPO:QUANT, hf:USER/REPO/FILE.gguf, or an https:// URL of a .gguf file")
    .option("--dir <folder>", "the model cache (default: $STEPLENS_MODELS_DIR, else ~/.cache/steplens/models)")
    .option("--hf-endpoint <url>", "a Hugging Face mirror (default: $HF_ENDPOINT, else https://huggingface.co)")
    .option("--hf-token <token>", "access token for gated models (default: $HF_TOKEN, or the token huggingface-cli saved)")
    .option("--sha256 <hex>", "the SHA-256 the file must have, for servers that name none")
    .option("--list", "list the models in the cache instead")
    .option("--json", "print the result as JSON")
    .option("--progress-json", "print one JSON line per event on stdout (start, progress, done, error) for programs that drive a pull, such as the editor")
    .action(async (model: string | undefined, flags: PullFlags) => {
      const dir = flags.dir ?? defaultModelsDir();
      if (flags.list || !model) {
        const models = listCachedModels(dir);
        if (flags.json) process.stdout.write(JSON.stringify({ dir, models }) + "\n");
        else if (models.length === 0) process.stdout.write(`no models in ${dir} yet; download one with: steplens pull hf:Qwen/Qwen2.5-Math-1.5B-Instruct-GGUF:Q4_K_M\n`);
        else for (const m of models) process.stdout.write(`${m.path}  ${mb(m.bytes)} MB\n`);
        return;
      }
      const abort = new AbortController();
      const onSigint = (): void => abort.abort();
      process.on("SIGINT", onSigint);
      const events = flags.progressJson ? jsonEvents() : undefined;
      const progress = progressReporter();
      try {
        const result = await pullModel({
          source: model,
          dir,
          endpoint: flags.hfEndpoint,
          token: flags.hfToken,
          sha256: flags.sha256,
          signal: abort.signal,
          onStart: ({ path, total, resumedFrom }) => {
            report(resumedFrom > 0 ? `resuming ${path}: ${mb(resumedFrom)} of ${mb(total)} MB already here` : `downloading ${mb(total)} MB to ${path}`);
            progress.start(total, resumedFrom);
            events?.start(path, total, resumedFrom);
          },
          onProgress: (p) => {
            progress.update(p);
            events?.update(p);
          },
        });
        progress.stop();
        if (events) events.emit({ event: "done", ...result });
        else if (flags.json) process.stdout.write(JSON.stringify(result) + "\n");
        else {
          const checked = result.checksum === "none" ? "the server names no checksum: not verified (pass --sha256 to check one)" : `SHA-256 matches the ${result.checksum === "hub" ? "hub's" : "given one"}`;
          process.stdout.write(`${result.alreadyThere ? "already in the cache" : "downloaded"}: ${result.path} (${mb(result.bytes)} MB); ${checked}\n`);
          process.stdout.write(`use it with: steplens score --model ${result.path} FILE\n`);
        }
      } catch (err) {
        progress.stop();
        if (err instanceof PullError) {
          report(err.message);
          events?.emit({ event: "error", code: err.code, message: err.message });
          // An interrupted transfer can leave a silent connection open; Ctrl-C means stop now.
          if (err.code === "cancelled") process.exit(130);
          process.exitCode = err.code === "invalid" ? 2 : 1;
        } else {
          report(`unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          events?.emit({ event: "error", code: "unexpected", message: err instanceof Error ? err.message : String(err) });
          process.exitCode = 1;
        }
      } finally {
        process.off("SIGINT", onSigint);
      }
    });
}

/**
 * `--progress-json`: the pull as JSON lines on stdout, for the editor's progress notification
 * (client/modelDownload.ts reads them). Progress goes out when the whole permille changes, so a
 * fast local transfer does not flood the pipe with ipull's per-chunk events.
 */
function jsonEvents(): { start(path: string, total: number, at: number): void; update(p: PullProgress): void; emit(event: Record<string, unknown>): void } {
  let lastPermille = -1;
  let total = 0;
  const emit = (event: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(event) + "\n");
  return {
    emit,
    start(path, t, at) {
      total = t;
      lastPermille = Math.floor((at / Math.max(1, t)) * 1000);
      emit({ event: "start", path, total: t, resumedFrom: at });
    },
    update(p) {
      total = p.total || total;
      const permille = Math.floor((p.downloaded / Math.max(1, total)) * 1000);
      if (permille <= lastPermille) return;
      lastPermille = permille;
      emit({ event: "progress", downloaded: p.downloaded, total });
    },
  };
}

/** A bar on a terminal; elsewhere (logs, CI, tests) one line per tenth of the file. */
function progressReporter(): { start(total: number, at: number): void; update(p: PullProgress): void; stop(): void } {
  let bar: SingleBar | undefined;
  let lastTenth = -1;
  let total = 0;
  return {
    start(t, at) {
      total = t;
      if (process.stderr.isTTY) {
        bar = new SingleBar({ format: "  {bar} {percentage}% | {value}/{total} MB | {eta_formatted} left", stream: process.stderr, hideCursor: true }, Presets.shades_classic);
        bar.start(Math.ceil(t / MB), Math.floor(at / MB));
      }
      lastTenth = Math.floor((at / Math.max(1, t)) * 10);
    },
    update(p) {
      total = p.total || total;
      if (bar) return void bar.update(Math.floor(p.downloaded / MB));
      const tenth = Math.floor((p.downloaded / Math.max(1, total)) * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        process.stderr.write(`steplens: ${tenth * 10}% (${mb(p.downloaded)} of ${mb(total)} MB)\n`);
      }
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
