// node-llama-cpp makes a sampler for every controlledEvaluate call, and the sampler's candidate
// buffer (12 bytes per vocabulary token: 1.8 MB for Qwen's 152k) is freed only when V8 collects the
// sampler's JavaScript wrapper. V8 does not see that memory and rarely collects: scoring a 6-step
// solution with a 0.5B Qwen-shaped model left about 600 MB behind, 80 MB more per 48 sampled tokens
// (measured; bench/README.md). A full collection after every few dozen calls keeps it bounded.

import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | null | undefined;

/** V8's gc(), made reachable at run time (as `node --expose-gc` would); null where that fails. */
function gcFunction(): (() => void) | null {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      collect = vm.runInNewContext("gc") as () => void;
    } catch {
      collect = null;
    }
  }
  return collect;
}

export class SamplerMemory {
  private pending = 0;

  /** `vocabulary`: tokens in the model's vocabulary; `budget`: bytes left for V8 to collect before a collection is forced. */
  constructor(
    vocabulary: number,
    private readonly budget = 64 * 1024 * 1024,
    private readonly bytesPerCall = Math.max(1, vocabulary) * 12,
  ) {}

  /** After one controlledEvaluate call. */
  note(): void {
    this.pending += this.bytesPerCall;
    if (this.pending < this.budget) return;
    this.pending = 0;
    gcFunction()?.();
  }
}
