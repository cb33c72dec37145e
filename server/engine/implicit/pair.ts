// An Implicit PRM is a pair: the per-token log-ratio log π_θ − log π_ref only means something when
// both models read the same token ids for the same text. The vocabularies are compared from the
// GGUF headers before either model's weights are loaded, so a wrong pair costs a header read and
// gets a message naming both files, not a late failure or silently meaningless rewards.

import { existsSync, statSync } from "node:fs";
import { BackendError } from "../backend/types.js";

interface TokenizerSummary {
  model: string;
  tokens: readonly string[];
  bos?: number;
  eos?: number;
  addBos?: boolean;
}

async function readTokenizer(file: string, role: string): Promise<TokenizerSummary> {
  if (!existsSync(file)) {
    throw new BackendError(`${role} model file not found: ${file}. Pass --${role === "reference" ? "reference-model" : "model"} PATH to a GGUF file.`, "model-not-found");
  }
  if (!statSync(file).isFile()) throw new BackendError(`${role} model path is not a file: ${file}`, "model-invalid");
  const { readGgufFileInfo } = await import("node-llama-cpp");
  let metadata: unknown;
  try {
    metadata = (await readGgufFileInfo(file, { readTensorInfo: false, logWarnings: false, sourceType: "filesystem" })).metadata;
  } catch (err) {
    throw new BackendError(`${role} model ${file} is not a readable GGUF file (${err instanceof Error ? err.message : String(err)})`, "model-invalid");
  }
  const ggml = (metadata as { tokenizer?: { ggml?: Record<string, unknown> } }).tokenizer?.ggml;
  if (!ggml || !Array.isArray(ggml.tokens)) throw new BackendError(`${role} model ${file} carries no tokenizer vocabulary in its GGUF header`, "model-invalid");
  return {
    model: String(ggml.model ?? "?"),
    tokens: ggml.tokens as string[],
    bos: typeof ggml.bos_token_id === "number" ? ggml.bos_token_id : undefined,
    eos: typeof ggml.eos_token_id === "number" ? ggml.eos_token_id : undefined,
    addBos: typeof ggml.add_bos_token === "boolean" ? ggml.add_bos_token : undefined,
  };
}

/** Throws a BackendError naming both files unless the two models share one tokenizer. */
export async function checkPair(policyPath: string, referencePath: string): Promise<void> {
  const [p, r] = await Promise.all([readTokenizer(policyPath, "policy"), readTokenizer(referencePath, "reference")]);
  const differ = (what: string): never => {
    throw new BackendError(
      `the policy ${policyPath} and the reference ${referencePath} do not share a tokenizer (${what}); ` +
        `Implicit PRM compares the two models token by token, so the reference must be the model the policy was trained from`,
      "model-invalid",
    );
  };
  if (p.model !== r.model) differ(`tokenizer type ${p.model} vs ${r.model}`);
  if (p.tokens.length !== r.tokens.length) differ(`${p.tokens.length} vs ${r.tokens.length} tokens`);
  const at = p.tokens.findIndex((t, k) => t !== r.tokens[k]);
  if (at >= 0) differ(`token ${at} is ${JSON.stringify(p.tokens[at])} vs ${JSON.stringify(r.tokens[at])}`);
  if (p.bos !== r.bos || p.eos !== r.eos || p.addBos !== r.addBos) differ(`BOS/EOS settings differ`);
}
