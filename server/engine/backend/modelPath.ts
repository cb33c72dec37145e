import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const DEMO_MODEL_FILE = "arith-demo-15m-f16.gguf";

/**
 * Where the bundled demo model is looked for when no model is named: `../shared/models/` beside the
 * checkout (the project never copies model files into the repo), then `STEPLENS_MODEL`.
 */
export function defaultModelPath(): string {
  const fromEnv = process.env.STEPLENS_MODEL;
  if (fromEnv) return path.resolve(fromEnv);
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Works from the source tree (server/engine/backend) and from the bundle (dist/).
  for (const up of ["../../../..", "../..", ".."]) {
    const candidate = path.resolve(here, up, "shared/models", DEMO_MODEL_FILE);
    if (existsSync(candidate)) return candidate;
  }
  return path.resolve(here, "../../../../shared/models", DEMO_MODEL_FILE);
}
