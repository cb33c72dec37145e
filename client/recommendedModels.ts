// The short list behind Select Model's "Download a recommended model…"; vscode-free. Each source is
// what `steplens pull` takes (hf:USER/REPO:QUANT, resolved through the hub's manifest). Nothing here
// downloads: the list is only shown, and a row is pulled when the user picks it.
//
// Sizes are approximate, read off the hub pages' file listings (the exact size comes from the hub
// when the download starts); they are for "do I have room and time for this", not for checking.

export interface RecommendedModel {
  /** What the picker shows. */
  label: string;
  /** `hf:USER/REPO:QUANT`, as `steplens pull` takes it. */
  source: string;
  /** Approximate download size in bytes (see above). */
  approxBytes: number;
  /** What it is good for, in a line. */
  goodFor: string;
}

const GB = 1e9;

export const RECOMMENDED_MODELS: readonly RecommendedModel[] = [
  {
    label: "Qwen2.5-Math-1.5B-Instruct Q4_K_M",
    source: "hf:bartowski/Qwen2.5-Math-1.5B-Instruct-GGUF:Q4_K_M",
    approxBytes: 0.99 * GB,
    goodFor: "the default pick: trained on step-by-step math with \\boxed{} answers; live checks on a laptop CPU",
  },
  {
    label: "Qwen2.5-0.5B-Instruct Q8_0",
    source: "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0",
    approxBytes: 0.68 * GB,
    goodFor: "the fastest: for slow machines and quick feedback while typing; weaker on harder problems",
  },
  {
    label: "Qwen2.5-Math-7B-Instruct Q4_K_M",
    source: "hf:bartowski/Qwen2.5-Math-7B-Instruct-GGUF:Q4_K_M",
    approxBytes: 4.68 * GB,
    goodFor: "the most accurate here: competition-style problems; wants a GPU with 8 GB or patience on CPU",
  },
  {
    label: "Llama-3.2-1B-Instruct Q4_K_M",
    source: "hf:bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
    approxBytes: 0.81 * GB,
    goodFor: "a general small model of another family (Llama 3 tokenizer): word problems, a second opinion",
  },
];

/** "about 0.99 GB": decimal units, as the hub lists sizes. */
export function approxSize(bytes: number): string {
  return bytes >= GB ? `about ${(bytes / GB).toFixed(bytes >= 10 * GB ? 0 : 1)} GB` : `about ${Math.round(bytes / 1e6)} MB`;
}
