// Where StepLens keeps what it computes once per machine (model calibrations): the platform's cache
// folder, as other tools there use it, so that clearing caches also clears ours and nothing lands in a
// project folder. STEPLENS_CACHE_DIR moves it (tests, read-only homes, shared machines).

import os from "node:os";
import path from "node:path";

export function steplensCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STEPLENS_CACHE_DIR) return path.resolve(env.STEPLENS_CACHE_DIR);
  const home = os.homedir();
  switch (process.platform) {
    case "darwin":
      return path.join(home, "Library", "Caches", "steplens");
    case "win32":
      return path.join(env.LOCALAPPDATA ?? path.join(home, "AppData", "Local"), "steplens", "Cache");
    default:
      return path.join(env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, ".cache"), "steplens");
  }
}
